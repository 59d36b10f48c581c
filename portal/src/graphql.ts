import { createClient, type Client } from 'graphql-ws';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Operation } from './generated/graphql';

/** A GraphQL error as the gateway reports it: its stable code decides what the portal says. */
export interface GraphQLErrorItem {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

export class GraphQLRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly errors: GraphQLErrorItem[] = [],
  ) {
    super(message);
  }
}

/**
 * The portal's GraphQL client: queries and mutations as POST on the same origin, subscriptions over graphql-ws on the
 * same path (one lazy WebSocket per sign-in). The bearer token comes from memory.
 */
export class GraphQLClient {
  private socket: Client | undefined;

  constructor(
    private readonly path: string,
    private readonly token: () => string | undefined,
    private readonly onUnauthenticated: () => void,
  ) {}

  async request<R, V>(operation: Operation<R, V>, variables: V): Promise<R> {
    const token = this.token();
    let response: Response;
    try {
      response = await fetch(this.path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query: operation, variables }),
      });
    } catch {
      throw new GraphQLRequestError('NETWORK_ERROR', 'The server could not be reached.');
    }
    const body = (await response.json().catch(() => ({}))) as { data?: R; errors?: GraphQLErrorItem[] };
    if (body.errors?.length) {
      const first = body.errors[0]!;
      const code = first.extensions?.code ?? (response.status === 429 ? 'RATE_LIMITED' : 'INTERNAL_SERVER_ERROR');
      if (code === 'UNAUTHENTICATED') this.onUnauthenticated();
      throw new GraphQLRequestError(code, first.message, body.errors);
    }
    if (!response.ok || body.data === undefined) throw new GraphQLRequestError('INTERNAL_SERVER_ERROR', `HTTP ${response.status}`);
    return body.data;
  }

  /** Subscribes; returns the function that ends the subscription. */
  subscribe<R, V>(operation: Operation<R, V>, variables: V, sink: { next(data: R): void; error(error: GraphQLRequestError): void }): () => void {
    this.socket ??= createClient({
      url: `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${this.path}`,
      connectionParams: () => {
        const token = this.token();
        return token ? { authorization: `Bearer ${token}` } : {};
      },
      lazy: true,
      retryAttempts: 20,
      shouldRetry: () => true,
    });
    return this.socket.subscribe<R>(
      { query: operation, variables: variables as Record<string, unknown> },
      {
        next: (result) => {
          if (result.errors?.length) {
            const first = result.errors[0] as GraphQLErrorItem;
            sink.error(new GraphQLRequestError(first.extensions?.code ?? 'INTERNAL_SERVER_ERROR', first.message));
          } else if (result.data) sink.next(result.data as R);
        },
        error: (error) => {
          const errors = Array.isArray(error) ? (error as GraphQLErrorItem[]) : [];
          sink.error(new GraphQLRequestError(errors[0]?.extensions?.code ?? 'NETWORK_ERROR', errors[0]?.message ?? 'The live connection failed.'));
        },
        complete: () => undefined,
      },
    );
  }

  close(): void {
    void this.socket?.dispose();
    this.socket = undefined;
  }
}

export interface QueryState<R> {
  data: R | undefined;
  error: GraphQLRequestError | undefined;
  loading: boolean;
  refetch: () => Promise<void>;
}

/** Runs a query when its variables change (by value); `skip` leaves it idle. */
export function useQuery<R, V>(client: GraphQLClient, operation: Operation<R, V>, variables: V, options: { skip?: boolean } = {}): QueryState<R> {
  const key = JSON.stringify(variables);
  const [state, setState] = useState<{ data: R | undefined; error: GraphQLRequestError | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: !options.skip,
  });
  const current = useRef(0);
  const run = useCallback(async () => {
    const id = ++current.current;
    setState((previous) => ({ ...previous, loading: true }));
    try {
      const data = await client.request(operation, JSON.parse(key) as V);
      if (id === current.current) setState({ data, error: undefined, loading: false });
    } catch (error) {
      if (id === current.current) setState({ data: undefined, error: asRequestError(error), loading: false });
    }
  }, [client, operation, key]);
  useEffect(() => {
    if (!options.skip) void run();
  }, [run, options.skip]);
  return { ...state, refetch: run };
}

export function asRequestError(error: unknown): GraphQLRequestError {
  return error instanceof GraphQLRequestError ? error : new GraphQLRequestError('INTERNAL_SERVER_ERROR', String(error));
}
