import http from 'node:http';
import https from 'node:https';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import { DependencyGuard, type BreakerSettings } from '@saldo/resilience';
import { SpanKind, injectTraceHeaders, tracingEnabled, withSpan } from '@saldo/service';
import type { SubgraphQueryDedup } from '../dedup/index.js';

/** Apollo's fetcher types, as its data source declares them (@apollo/utils.fetcher). */
export type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher']>;
type FetcherResponse = Awaited<ReturnType<Fetcher>>;
type FetcherHeaders = FetcherResponse['headers'];

/** A subgraph's answer as the gateway needs it: status, headers (lower-case names) and the body text. */
export interface SubgraphHttpResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * POSTs JSON to subgraphs over keep-alive connections with node:http. Every federated operation makes one call
 * per subgraph it touches and each live-subscription update with fields of other subgraphs makes its entity
 * fetches, so this is the gateway's hottest client path; WHATWG fetch (undici's streams, Request/Headers objects)
 * costs several times the work of the call itself here.
 */
export class SubgraphHttpClient {
  /**
   * `timeout` is what makes Node's agent honour the subgraph's `Keep-Alive: timeout=N` hint: with it, an idle socket
   * is retired a second before the subgraph would close it; without it (Node's default) idle sockets are kept forever
   * and a request sent just as the subgraph closes one dies with ECONNRESET — harmless for queries (sent again) but a
   * client-visible error for mutations, which are never sent twice. Requests set their own timeout (SUBGRAPH_TIMEOUT_MS).
   */
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_TIMEOUT_MS });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_TIMEOUT_MS });
  /** One circuit breaker per subgraph (its URL): a failing subgraph fails fast, the others are untouched. */
  private readonly guards = new Map<string, DependencyGuard>();
  private readonly names = new Map<string, string>();

  constructor(
    private readonly timeoutMs = 30_000,
    private readonly breaker: BreakerSettings = { failureThreshold: 5, halfOpenAfterMs: 5_000 },
    /** Told each request's subgraph, duration and whether it failed (the fetch-latency histogram). */
    private readonly observe?: (subgraph: string, seconds: number, failed: boolean) => void,
  ) {}

  /** Names the subgraph at `url` (its breaker's `subgraph:<name>` in errors and metrics); unnamed ones use the host. */
  nameTarget(url: string, name: string): void {
    this.names.set(new URL(url).href, name);
  }

  /**
   * POSTs through the subgraph's circuit breaker: unreachable, timed out (SUBGRAPH_TIMEOUT_MS) and 502/503/504 answers
   * count as failures; once SUBGRAPH_BREAKER_FAILURES happened in a row, requests fail at once with
   * DEPENDENCY_UNAVAILABLE until a trial request after SUBGRAPH_BREAKER_HALF_OPEN_MS succeeds.
   */
  post(url: URL, headers: Record<string, string>, body: string): Promise<SubgraphHttpResponse> {
    const guard = this.guardFor(url);
    if (!this.observe && !tracingEnabled()) return guard.execute(() => this.postWithRetry(url, headers, body));
    const subgraph = this.names.get(url.href) ?? url.host;
    const started = performance.now();
    // With tracing on, a client span per request whose context travels in `traceparent` (added after the dedup key
    // was taken: requests of different traces still share one upstream fetch, which belongs to the first trace).
    const sent = withSpan(
      `POST ${subgraph}`,
      SpanKind.CLIENT,
      () => ({ 'saldo.subgraph': subgraph, 'server.address': url.host }),
      async (span) => {
        const response = await guard.execute(() => this.postWithRetry(url, headers, body));
        span?.setAttribute('http.response.status_code', response.status);
        return response;
      },
    );
    if (!this.observe) return sent;
    const observe = this.observe;
    return sent.then(
      (response) => {
        observe(subgraph, (performance.now() - started) / 1000, response.status >= 500);
        return response;
      },
      (error: unknown) => {
        observe(subgraph, (performance.now() - started) / 1000, true);
        throw error;
      },
    );
  }

  private guardFor(url: URL): DependencyGuard {
    let guard = this.guards.get(url.href);
    if (!guard) {
      guard = new DependencyGuard({
        dependency: `subgraph:${this.names.get(url.href) ?? url.host}`,
        traced: false,
        ...this.breaker,
        isFailureResult: (response) => UNAVAILABLE_STATUSES.has((response as SubgraphHttpResponse).status),
      });
      this.guards.set(url.href, guard);
    }
    return guard;
  }

  private async postWithRetry(url: URL, headers: Record<string, string>, body: string): Promise<SubgraphHttpResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.postOnce(url, headers, body);
      } catch (error) {
        if (!(error instanceof StaleSocketError)) throw error;
        // A kept-alive socket the subgraph had just closed as idle (it never read the request): Node's documented
        // remedy is to send again on a new connection. Only reads are sent again, never a mutation.
        if (attempt >= 3 || !isReadOnlyOperation(body)) throw error.cause;
      }
    }
  }

  private postOnce(url: URL, headers: Record<string, string>, body: string): Promise<SubgraphHttpResponse> {
    const secure = url.protocol === 'https:';
    const sent: Record<string, string | number> = { ...headers, 'content-length': Buffer.byteLength(body) };
    injectTraceHeaders(sent as Record<string, string>);
    return new Promise((resolve, reject) => {
      let answered = false;
      const request = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: sent,
          timeout: this.timeoutMs,
        },
        (response) => {
          answered = true;
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              statusText: response.statusMessage ?? '',
              headers: response.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`subgraph request to ${url.host} timed out after ${this.timeoutMs} ms`)));
      request.on('error', (error: NodeJS.ErrnoException) => {
        const stale = !answered && request.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
        reject(stale ? new StaleSocketError(error) : error);
      });
      request.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    for (const guard of this.guards.values()) guard.dispose();
    this.guards.clear();
  }
}

/** Idle kept-alive sockets close after this at the latest; sooner when the subgraph's Keep-Alive hint says so. */
const IDLE_SOCKET_TIMEOUT_MS = 30_000;

/** Subgraph answers that say it is down or overloaded (a proxy in front of it, or its own drain), not a request error. */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/** A request that failed on a reused keep-alive socket before any answer arrived. */
class StaleSocketError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

/** Whether a subgraph request body holds a query (safe to send twice), parsed only on this rare error path. */
function isReadOnlyOperation(body: string): boolean {
  try {
    const { query } = JSON.parse(body) as { query?: unknown };
    return typeof query === 'string' && /^\s*(query\b|\{)/.test(query);
  } catch {
    return false;
  }
}

/** The body is read once, up front (subgraph answers are small JSON documents). */
class SubgraphFetcherResponse implements FetcherResponse {
  readonly redirected = false;
  /** Apollo's data source reads Content-Type and Cache-Control. */
  readonly headers: FetcherHeaders;
  bodyUsed = false;

  constructor(
    readonly url: string,
    private readonly response: SubgraphHttpResponse,
  ) {
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    this.headers = headers as unknown as FetcherHeaders;
  }

  get status(): number {
    return this.response.status;
  }
  get statusText(): string {
    return this.response.statusText;
  }
  get ok(): boolean {
    return this.response.status >= 200 && this.response.status < 300;
  }
  async text(): Promise<string> {
    this.bodyUsed = true;
    return this.response.body;
  }
  async json(): Promise<unknown> {
    this.bodyUsed = true;
    return JSON.parse(this.response.body);
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    this.bodyUsed = true;
    const bytes = Buffer.from(this.response.body, 'utf8');
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  clone(): FetcherResponse {
    return new SubgraphFetcherResponse(this.url, this.response);
  }
}

/**
 * Apollo's `Fetcher` on top of a SubgraphHttpClient (POSTs only: the data source sends nothing else). With `dedup`,
 * identical queries in flight share one upstream request (each caller still parses its own copy of the answer).
 */
export function subgraphFetcher(client: SubgraphHttpClient, dedup?: SubgraphQueryDedup): Fetcher {
  // A data source always calls one URL: parsed once, not on every call (the client never changes a URL it is given).
  const parsed = new Map<string, URL>();
  return async (url, init = {}) => {
    if ((init.method ?? 'GET').toUpperCase() !== 'POST') throw new Error(`subgraph fetcher: only POST is supported, got ${init.method}`);
    const body = typeof init.body === 'string' ? init.body : (init.body?.toString('utf8') ?? '');
    const headers = init.headers ?? {};
    let target = parsed.get(url);
    if (!target) {
      target = new URL(url);
      if (parsed.size < 64) parsed.set(url, target);
    }
    const send = () => client.post(target, headers, body);
    return new SubgraphFetcherResponse(url, await (dedup ? dedup.fetch(url, headers, body, send) : send()));
  };
}
