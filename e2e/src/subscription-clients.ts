import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';

/** One subscription selecting fields of billing (balance, entry), tenants (name, status) and usage-forecast (usage). */
export const BALANCE_SUBSCRIPTION = /* GraphQL */ `
  subscription Balance($tenantId: ID!) {
    balanceChanged(tenantId: $tenantId) {
      tenantId
      balance {
        available {
          amountMinor
          currency
        }
        version
        updatedAt
      }
      previousBalance {
        amountMinor
      }
      entry {
        type
        product
        quantity
        amount {
          amountMinor
          currency
        }
        balanceAfter {
          amountMinor
        }
        version
      }
      tenant {
        id
        name
        status
        usage(days: 7) {
          date
          quantity
        }
      }
    }
  }
`;

export interface BalanceUpdate {
  balanceChanged: {
    tenantId: string;
    balance: { available: { amountMinor: number; currency: string }; version: number; updatedAt: string | null };
    previousBalance: { amountMinor: number } | null;
    entry: {
      type: string;
      product: string | null;
      quantity: number | null;
      amount: { amountMinor: number; currency: string };
      balanceAfter: { amountMinor: number };
      version: number;
    } | null;
    tenant: { id: string; name: string; status: string; usage: Array<{ date: string; quantity: number }> };
  };
}

/** What a subscription delivered so far; tests wait on it for a condition instead of sleeping. */
export class Collector<T = Record<string, any>> {
  readonly results: Array<{ data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }> = [];
  error: unknown;
  completed = false;
  private readonly waiters = new Set<{ check: () => boolean; resolve: () => void }>();

  push(result: { data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }): void {
    this.results.push(result);
    this.settle();
  }

  fail(error: unknown): void {
    this.error = error;
    this.completed = true;
    this.settle();
  }

  complete(): void {
    this.completed = true;
    this.settle();
  }

  get data(): T[] {
    return this.results.flatMap((result) => (result.data ? [result.data] : []));
  }

  get last(): T | undefined {
    return this.data.at(-1);
  }

  /** Resolves when `condition` holds (checked now and after every delivery); rejects after `timeoutMs` with what arrived. */
  until(condition: (collector: this) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (condition(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => condition(this),
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(`timed out waiting for ${what}; got ${JSON.stringify({ results: this.results, completed: this.completed, error: String(this.error) })}`),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Waits until `count` results arrived. */
  count(count: number, timeoutMs?: number): Promise<void> {
    return this.until((collector) => collector.results.length >= count, `${count} results`, timeoutMs);
  }

  private settle(): void {
    for (const waiter of [...this.waiters]) if (waiter.check()) waiter.resolve();
  }
}

export interface WsTestClient {
  client: WsClient;
  /** Close events seen by the client (code and reason). */
  closes: Array<{ code: number; reason: string }>;
  subscribe<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): { collector: Collector<T>; unsubscribe: () => void };
  dispose(): Promise<void>;
}

/** A graphql-ws client of the gateway (`http://.../graphql` becomes `ws://.../graphql`), retrying quickly. */
export function wsTestClient(
  graphqlUrl: string,
  connectionParams: Record<string, unknown> | (() => Promise<Record<string, unknown>>),
  options: { retryAttempts?: number } = {},
): WsTestClient {
  const closes: Array<{ code: number; reason: string }> = [];
  const client = createWsClient({
    url: graphqlUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: typeof connectionParams === 'function' ? connectionParams : () => connectionParams,
    retryAttempts: options.retryAttempts ?? 50,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
    shouldRetry: () => true,
    on: {
      closed: (event) => {
        const close = event as { code?: number; reason?: string };
        closes.push({ code: close.code ?? 0, reason: String(close.reason ?? '') });
      },
    },
  });
  return {
    client,
    closes,
    subscribe<T>(query: string, variables: Record<string, unknown> = {}) {
      const collector = new Collector<T>();
      const unsubscribe = client.subscribe<T>(
        { query, variables },
        {
          next: (result) => collector.push(result as never),
          error: (error) => collector.fail(error),
          complete: () => collector.complete(),
        },
      );
      return { collector, unsubscribe };
    },
    dispose: () => client.dispose() as Promise<void>,
  };
}

export interface SseTestClient {
  client: SseClient;
  subscribe<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): { collector: Collector<T>; unsubscribe: () => void };
  dispose(): void;
}

/** A graphql-sse client (distinct connections mode) of the gateway's `/graphql/stream`. */
export function sseTestClient(
  streamUrl: string,
  headers: Record<string, string> | (() => Promise<Record<string, string>>),
  options: { retryAttempts?: number } = {},
): SseTestClient {
  const client = createSseClient({
    url: streamUrl,
    headers: typeof headers === 'function' ? headers : () => headers,
    retryAttempts: options.retryAttempts ?? 50,
    retry: () => new Promise((resolve) => setTimeout(resolve, 50)),
  });
  return {
    client,
    subscribe<T>(query: string, variables: Record<string, unknown> = {}) {
      const collector = new Collector<T>();
      const unsubscribe = client.subscribe<T>(
        { query, variables },
        {
          next: (result) => collector.push(result as never),
          error: (error) => collector.fail(error),
          complete: () => collector.complete(),
        },
      );
      return { collector, unsubscribe };
    },
    dispose: () => client.dispose(),
  };
}

export interface RawWsSubscription {
  collector: Collector;
  /** The close code and reason once the server or client closed the socket. */
  closed: Promise<{ code: number; reason: string }>;
  /** Stops reading from the socket (the server's writes back up as if the client were slow), and resumes. */
  pause(): void;
  resume(): void;
  close(): void;
}

/**
 * A hand-rolled graphql-transport-ws client on a raw socket, so a test can stop reading from it (a slow consumer)
 * without the client library buffering for it.
 */
export async function rawWsSubscription(
  graphqlUrl: string,
  authorization: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<RawWsSubscription> {
  const socket = new WebSocket(graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const collector = new Collector();
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.on('message', (raw: Buffer) => {
    const message = JSON.parse(raw.toString('utf8')) as { type: string; payload?: never };
    if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
    else if (message.type === 'next') collector.push(message.payload!);
    else if (message.type === 'error') collector.fail(message.payload);
    else if (message.type === 'complete') collector.complete();
    else if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }));
  const raw = (socket as unknown as { _socket: import('node:net').Socket })._socket;
  return {
    collector,
    closed,
    pause: () => raw.pause(),
    resume: () => raw.resume(),
    close: () => socket.close(),
  };
}
