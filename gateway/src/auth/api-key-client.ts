import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { INTERNAL_AUDIENCE, IDENTITY_HEADER, parseApiKey, type IdentitySigner } from '@saldo/identity';
import { fetchThrough, isDependencyUnavailable, type DependencyGuard } from '@saldo/resilience';
import type { Logger } from '@saldo/service';

/** The gateway's own identity on internal endpoints (signed for the internal audience only). */
const GATEWAY_SERVICE: Identity = { role: 'platform-admin', subject: 'saldo-gateway' };

/** The issuer of identities authenticated by API key (rate-limit keys tell issuers apart). */
export const API_KEY_ISSUER = 'saldo-api-keys';

/** How often watched keys are verified again when the cache is off (API_KEY_CACHE_TTL_MS=0). */
const MIN_WATCH_INTERVAL_MS = 1000;

interface Watch {
  listeners: Set<() => void>;
  timer: NodeJS.Timeout;
}

/**
 * Verifies partner API keys with the service that owns them (the tenants subgraph's internal endpoint),
 * caching answers for `cacheTtlMs` so a busy partner costs one verification per interval, not per request.
 * A revoked key therefore stops working within that interval.
 *
 * Long-lived connections (WebSocket, SSE) authenticate once, so they `watch` their key: every watched key is verified
 * afresh once per interval (one request per key, however many connections use it), and when the owner refuses it
 * (revoked, its rotation grace over, unknown) every listener is told, so the connections end within the same bound
 * as HTTP requests.
 */
export class ApiKeyClient {
  private readonly cache = new Map<string, { identity: Identity | null; until: number }>();
  private readonly watches = new Map<string, Watch>();

  constructor(
    private readonly verifyUrl: string,
    private readonly signer: IdentitySigner,
    private readonly cacheTtlMs: number,
    private readonly logger: Logger,
    /**
     * The `api-keys` circuit breaker and timeout around each verification call (API_KEY_BREAKER_*, API_KEY_TIMEOUT_MS):
     * with the tenants subgraph down, requests with an uncached key fail fast with DEPENDENCY_UNAVAILABLE.
     */
    private readonly guard: DependencyGuard,
  ) {}

  /** How long a revoked key may keep working: on HTTP (the cache) and on watched connections. */
  get revocationBoundMs(): number {
    return Math.max(this.cacheTtlMs, MIN_WATCH_INTERVAL_MS);
  }

  async verify(plaintext: string, now: number = Date.now()): Promise<Identity> {
    const parsed = parseApiKey(plaintext);
    if (!parsed) throw invalidKey();
    const cached = this.cache.get(plaintext);
    if (cached && cached.until > now) {
      if (!cached.identity) throw invalidKey();
      return cached.identity;
    }
    const identity = await this.ask(plaintext, now);
    if (!identity) throw invalidKey();
    return identity;
  }

  /**
   * Calls `onInvalid` once when the key stops being valid (checked afresh every `revocationBoundMs`). Returns the
   * function that stops watching (call it when the connection closes).
   */
  watch(plaintext: string, onInvalid: () => void): () => void {
    let watch = this.watches.get(plaintext);
    if (!watch) {
      const timer = setInterval(() => void this.recheck(plaintext), this.revocationBoundMs);
      timer.unref();
      watch = { listeners: new Set(), timer };
      this.watches.set(plaintext, watch);
    }
    const listener = () => onInvalid();
    watch.listeners.add(listener);
    return () => {
      const current = this.watches.get(plaintext);
      if (!current?.listeners.delete(listener) || current.listeners.size > 0) return;
      clearInterval(current.timer);
      this.watches.delete(plaintext);
    };
  }

  /** Stops every watch (gateway shutdown). */
  close(): void {
    for (const watch of this.watches.values()) clearInterval(watch.timer);
    this.watches.clear();
    this.guard.dispose();
  }

  private async recheck(plaintext: string): Promise<void> {
    let identity: Identity | null;
    try {
      identity = await this.ask(plaintext, Date.now());
    } catch (error) {
      // The owner is unreachable: the connections keep their last answer and are checked again next interval.
      this.logger.warn('API key re-check failed; trying again next interval', { error });
      return;
    }
    if (identity) return;
    const watch = this.watches.get(plaintext);
    if (!watch) return;
    clearInterval(watch.timer);
    this.watches.delete(plaintext);
    for (const listener of watch.listeners) listener();
  }

  /** Asks the owner (never the cache) and caches the answer. Null: the key is refused. */
  private async ask(plaintext: string, now: number): Promise<Identity | null> {
    const parsed = parseApiKey(plaintext);
    if (!parsed) return null;
    const headers = { 'content-type': 'application/json', [IDENTITY_HEADER]: await this.signer.sign(GATEWAY_SERVICE, INTERNAL_AUDIENCE) };
    let response: Response;
    try {
      response = await fetchThrough(this.guard, this.verifyUrl, { method: 'POST', headers, body: JSON.stringify(parsed) });
    } catch (error) {
      if (isDependencyUnavailable(error)) throw error;
      throw ownerUnavailable();
    }
    if (response.status >= 500) throw ownerUnavailable();
    const body = (await response.json()) as { partnerId?: string; keyId?: string };
    const identity: Identity | null =
      response.ok && body.partnerId ? { role: 'partner', subject: `api-key:${parsed.keyId}`, partnerId: body.partnerId, issuer: API_KEY_ISSUER } : null;
    if (this.cacheTtlMs > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(plaintext, { identity, until: now + this.cacheTtlMs });
    }
    return identity;
  }
}

/**
 * The key owner unreachable or failing before the breaker opens: the same code as the open circuit (the gateway answers
 * 503), since the key may well be good; the breaker counted the failure.
 */
function ownerUnavailable(): SaldoError {
  return new SaldoError(ErrorCode.DependencyUnavailable, 'API key verification is unavailable; nothing was changed by this request. Retry later.', {
    dependency: 'api-keys',
    reason: 'failed',
  });
}

function invalidKey(): SaldoError {
  return new SaldoError(ErrorCode.Unauthenticated, 'The API key is invalid, revoked or expired.', { http: { status: 401 } });
}
