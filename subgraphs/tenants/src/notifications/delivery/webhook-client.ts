import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
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
}

/**
 * POSTs signed webhooks over keep-alive connections. Every connection resolves its host through the SSRF guard
 * (`guardedLookup`), so the check happens at delivery time, against the address actually connected to. Redirects are
 * not followed (a 3xx is a failure): following one would let a public receiver point the notifier at a private one.
 */
export class WebhookClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly options: WebhookClientOptions) {
    const lookup = guardedLookup(options);
    const agentOptions = { keepAlive: true, maxSockets: options.maxSocketsPerHost, lookup, scheduling: 'fifo' as const };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  post(url: string, body: string, headers: Record<string, string>): Promise<WebhookResponse> {
    const started = performance.now();
    const done = (status: number | null, error: string | null): WebhookResponse => ({
      ok: status !== null && status >= 200 && status < 300,
      status,
      error,
      durationMs: Math.round(performance.now() - started),
    });
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve(done(null, 'invalid URL'));
        return;
      }
      const secure = target.protocol === 'https:';
      // An IP literal skips the agent's lookup, so it is checked here (host names are checked as they resolve).
      const literal = target.hostname.replace(/^\[|\]$/g, '');
      if (!this.options.allowPrivate && isIP(literal) && !isPublicAddress(literal)) {
        resolve(done(null, `${literal} is not a public address`));
        return;
      }
      if (!secure && !(this.options.allowPrivate && target.protocol === 'http:')) {
        resolve(done(null, 'only https targets are allowed'));
        return;
      }
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
