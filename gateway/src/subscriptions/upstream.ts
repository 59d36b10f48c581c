import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import type { GraphQLFormattedError } from 'graphql';
import WebSocket from 'ws';
import { ANONYMOUS, type Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, type IdentitySigner } from '@saldo/identity';
import type { Logger } from '@saldo/service';

/** Error code of a subscription ended because its subgraph could not be reached again in time. */
export const SUBGRAPH_UNAVAILABLE = 'SUBGRAPH_UNAVAILABLE';

export interface UpstreamRequest {
  /** The subgraph's name (for messages) and its GraphQL URL (http:// or ws://; the WebSocket upgrade of it is used). */
  subgraph: string;
  url: string;
  query: string;
  operationName?: string | undefined;
  variables: Record<string, unknown>;
  /** Whose subscription this is: signed by the gateway into the subscribe message, like the header of a query. */
  identity: Identity;
}

export interface UpstreamSink {
  next(result: FormattedExecutionResult): void;
  /** The subgraph ended the subscription. */
  complete(): void;
  /** The subgraph refused it (GraphQL errors), or it could not be reached again within the retry window. */
  error(errors: readonly GraphQLFormattedError[]): void;
  /** The connection dropped; the subscription is being opened again (the subgraph sends its initial result again). */
  reconnecting?(attempt: number): void;
}

export interface UpstreamOptions {
  signer: IdentitySigner;
  logger: Logger;
  /** Protocol pings to each subgraph connection (ms). */
  keepAliveMs?: number;
  /** Reconnect backoff: first delay, doubled per attempt up to max; give up when the outage lasts longer than giveUpAfterMs. */
  retry?: { initialMs: number; maxMs: number; giveUpAfterMs: number };
}

/**
 * The gateway's subscriptions on subgraphs: one graphql-ws connection per subgraph URL, multiplexing every upstream
 * subscription to that subgraph.
 *
 * - The connection is authenticated with a gateway-signed token in `connection_init` (identity `anonymous`: it proves
 *   the gateway, it names nobody); each subscribe message carries the caller's signed identity in
 *   `extensions["x-saldo-identity"]`, which the subgraph verifies like the header of a query.
 * - When a connection drops, graphql-ws' own retry would re-send the original subscribe message, whose identity token
 *   has expired by then; so retries are ours: every affected subscription is opened again, with a fresh token, after a
 *   backoff; the subgraph answers with its initial result again (for balances: the current balance). After
 *   `giveUpAfterMs` without success the subscription ends with SUBGRAPH_UNAVAILABLE.
 */
export class UpstreamSubscriptions {
  private readonly clients = new Map<string, Client>();
  private readonly retry: { initialMs: number; maxMs: number; giveUpAfterMs: number };
  private opened = 0;
  private active = 0;
  private reconnects = 0;
  private closed = false;

  constructor(private readonly options: UpstreamOptions) {
    this.retry = options.retry ?? { initialMs: 100, maxMs: 5_000, giveUpAfterMs: 60_000 };
  }

  metrics(): { opened: number; active: number; reconnects: number; connections: number } {
    return { opened: this.opened, active: this.active, reconnects: this.reconnects, connections: this.clients.size };
  }

  /** Opens the subscription; the result ends it (and closes nothing else). */
  subscribe(request: UpstreamRequest, sink: UpstreamSink): () => void {
    let disposed = false;
    let stop: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let attempt = 0;
    let outageSince: number | undefined;
    this.active += 1;

    const finish = (): void => {
      if (disposed) return;
      disposed = true;
      this.active -= 1;
      if (timer) clearTimeout(timer);
    };

    const open = async (): Promise<void> => {
      if (disposed) return;
      let token: string;
      try {
        token = await this.options.signer.sign(request.identity);
      } catch (error) {
        this.options.logger.error('could not sign a subscription identity', { error });
        finish();
        sink.error([{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
        return;
      }
      if (disposed) return;
      this.opened += 1;
      stop = this.client(request.url).subscribe(
        {
          query: request.query,
          variables: request.variables,
          ...(request.operationName ? { operationName: request.operationName } : {}),
          extensions: { [IDENTITY_HEADER]: token },
        },
        {
          next: (result) => {
            attempt = 0;
            outageSince = undefined;
            sink.next(result as FormattedExecutionResult);
          },
          complete: () => {
            if (disposed) return;
            finish();
            sink.complete();
          },
          error: (error: unknown) => {
            if (disposed) return;
            if (Array.isArray(error)) {
              finish();
              sink.error(error as GraphQLFormattedError[]);
              return;
            }
            // The connection closed or could not be opened: open this subscription again after a backoff.
            outageSince ??= Date.now();
            if (this.closed || Date.now() - outageSince >= this.retry.giveUpAfterMs) {
              finish();
              sink.error([
                {
                  message: `The ${request.subgraph} subgraph is unavailable; the subscription ended. Subscribe again later.`,
                  extensions: { code: SUBGRAPH_UNAVAILABLE, subgraph: request.subgraph },
                },
              ]);
              return;
            }
            const delay = Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** Math.min(attempt, 16));
            attempt += 1;
            this.reconnects += 1;
            this.options.logger.debug('upstream subscription lost; opening it again', {
              subgraph: request.subgraph,
              attempt,
              delayMs: delay,
              reason: describe(error),
            });
            sink.reconnecting?.(attempt);
            timer = setTimeout(() => void open(), delay);
            timer.unref();
          },
        },
      );
    };
    void open();

    return () => {
      if (disposed) return;
      finish();
      stop?.();
    };
  }

  /** Closes every connection (subscriptions end without retry). */
  async close(): Promise<void> {
    this.closed = true;
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((client) => client.dispose()));
  }

  private client(url: string): Client {
    const wsUrl = url.replace(/^http/, 'ws');
    let client = this.clients.get(wsUrl);
    if (!client) {
      client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        lazy: true,
        // Keep an idle connection a little while: a reconnecting subscriber need not pay a new handshake.
        lazyCloseTimeout: 5_000,
        keepAlive: this.options.keepAliveMs ?? 10_000,
        retryAttempts: 0,
        shouldRetry: () => false,
        connectionParams: async () => ({ [IDENTITY_HEADER]: await this.options.signer.sign(ANONYMOUS) }),
      });
      this.clients.set(wsUrl, client);
    }
    return client;
  }
}

function describe(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error)
    return `close ${String((error as { code: unknown }).code)} ${String((error as { reason?: unknown }).reason ?? '')}`.trim();
  return error instanceof Error ? error.message : String((error as { message?: unknown } | undefined)?.message ?? error);
}
