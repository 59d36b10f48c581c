import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { DependencyGuardPool, isDependencyUnavailable, type BreakerSettings } from '@saldo/resilience';
import { guardedLookup, isPublicAddress, type TargetPolicy } from './ssrf.js';

export interface WebhookResponse {
  ok: boolean;
  /** HTTP status, or null when no response arrived (refused, timed out, unsafe target). */
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface WebhookClientOptions extends TargetPolicy {
  timeoutMs: number;
  /** Sockets kept per receiver host (keep-alive), which also bounds requests in flight per host. */
  maxSocketsPerHost: number;
  userAgent: string;
  /** One circuit per receiver host (WEBHOOK_BREAKER_*). */
  breaker?: BreakerSettings;
}

/** A receiver that is down: nothing arrived (refused, reset, timed out, SSRF guard at connect) or it answered 502/503/504. */
function receiverFailing(result: unknown): boolean {
  const { status } = result as WebhookResponse;
  return status === null || (status >= 502 && status <= 504);
}

/**
 * POSTs signed webhooks over keep-alive connections. Every connection resolves its host through the SSRF guard
 * (`guardedLookup`), so the check happens at delivery time, against the address actually connected to. Redirects are
 * not followed (a 3xx is a failure): following one would let a public receiver point the notifier at a private one.
 */
export class WebhookClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  /**
   * A circuit per receiver host: one that is down fails its deliveries at once (they are retried with back-off, as
   * after any failure) instead of each holding a connection for WEBHOOK_TIMEOUT_MS; the others are untouched.
   */
  readonly guards: DependencyGuardPool;

  constructor(private readonly options: WebhookClientOptions) {
    this.guards = new DependencyGuardPool('webhook', {
      ...(options.breaker ?? { failureThreshold: 5, halfOpenAfterMs: 30_000 }),
      isFailureResult: receiverFailing,
      isFailure: () => false,
    });
    const lookup = guardedLookup(options);
    const agentOptions = { keepAlive: true, maxSockets: options.maxSocketsPerHost, lookup, scheduling: 'fifo' as const };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  async post(url: string, body: string, headers: Record<string, string>): Promise<WebhookResponse> {
    const started = performance.now();
    const done = (status: number | null, error: string | null): WebhookResponse => ({
      ok: status !== null && status >= 200 && status < 300,
      status,
      error,
      durationMs: Math.round(performance.now() - started),
    });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return done(null, 'invalid URL');
    }
    const secure = target.protocol === 'https:';
    // An IP literal skips the agent's lookup, so it is checked here (host names are checked as they resolve).
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (!this.options.allowPrivate && isIP(literal) && !isPublicAddress(literal)) return done(null, `${literal} is not a public address`);
    if (!secure && !(this.options.allowPrivate && target.protocol === 'http:')) return done(null, 'only https targets are allowed');
    try {
      return await this.guards.guard(target.host).execute(() => this.send(target, body, headers, done));
    } catch (error) {
      if (!isDependencyUnavailable(error)) throw error;
      return done(null, `DEPENDENCY_UNAVAILABLE: ${error.message}`);
    }
  }

  private send(
    target: URL,
    body: string,
    headers: Record<string, string>,
    done: (status: number | null, error: string | null) => WebhookResponse,
  ): Promise<WebhookResponse> {
    const secure = target.protocol === 'https:';
    return new Promise((resolve) => {
      const request = (secure ? https : http).request(
        target,
        {
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': this.options.userAgent, ...headers },
          timeout: this.options.timeoutMs,
        },
        (response) => {
          // The body is not needed; reading it to the end returns the socket to the pool.
          response.resume();
          response.on('end', () =>
            resolve(done(response.statusCode ?? null, response.statusCode && response.statusCode >= 300 ? `HTTP ${response.statusCode}` : null)),
          );
          response.on('error', (error) => resolve(done(response.statusCode ?? null, error.message)));
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no response within ${this.options.timeoutMs} ms`)));
      request.on('error', (error) => resolve(done(null, error.message)));
      request.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
