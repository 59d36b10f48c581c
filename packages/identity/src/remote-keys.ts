import { createLocalJWKSet, createRemoteJWKSet, customFetch, jwksCache, type ExportedJWKSCache, type FetchImplementation, type JWTVerifyGetKey } from 'jose';
import { ErrorCode, SaldoError } from '@saldo/graphql';

/** A DEPENDENCY_UNAVAILABLE error: ours, or the `jwks` breaker's (a GraphQL error carrying the code). */
type Unavailable = Error & { extensions: Record<string, unknown> };

/** How the verifier fetches a remote JWKS (jose's custom fetch: URL and init with jose's own abort signal). */
export type JwksFetch = FetchImplementation;

/** Where the key set's outages are told (the gateway's logger fits). */
export interface KeySetLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface RemoteKeysOptions {
  url: string;
  /** Longest one fetch may take (jose's timeoutDuration; default 5 s). */
  timeoutMs?: number | undefined;
  /** How jose fetches the set (default: fetch); the gateway's goes through its `jwks` circuit breaker. */
  fetch?: JwksFetch | undefined;
  /** Age past which the set is fetched again before use (jose's cacheMaxAge; default 10 min). */
  cacheMaxAgeMs?: number | undefined;
  /**
   * Longest after its last successful fetch that the set keeps verifying tokens while it cannot be fetched again
   * (default 24 h); 0 refuses every token as soon as a refresh fails.
   */
  maxStaleSeconds?: number | undefined;
  log?: KeySetLog | undefined;
}

/** A key lookup at a given time (ms since epoch): the verifier's clock decides how stale the last good set is. */
export type KeysAt = (now: number) => JWTVerifyGetKey;

/**
 * What a key lookup may throw because of the token itself (its header names no published key, or an algorithm that is not
 * allowed or supported): the caller's problem, UNAUTHENTICATED. jose decides these from the token's header against the
 * key set it holds (after a reload when the kid is unknown).
 */
const TOKEN_PROBLEMS = new Set([
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
]);

const DEFAULT_MAX_STALE_SECONDS = 86_400;

/**
 * The identity provider's signing keys (jose's remote key set), kept usable through an outage of the provider. jose
 * fetches the set, refetches it once older than `cacheMaxAgeMs` and on an unknown kid, and records each successful
 * fetch in its `jwksCache` object; when a fetch fails, the lookup falls back to that last good set (jose's local key
 * set over it) for up to `maxStaleSeconds` after it was fetched, as gateways do (a provider's short outage must not sign
 * every user out). A token whose kid the last good set lacks may be signed with a key rotated in during the outage, so it
 * is DEPENDENCY_UNAVAILABLE, never UNAUTHENTICATED; so is every token once the set is older than the bound. Once a fetch
 * succeeds again, jose's fresh set is used: keys rotated in or removed meanwhile count from then on.
 */
export class RemoteSigningKeys {
  /** Written by jose on every successful fetch: the set and when (`uat`, ms since epoch). */
  private readonly lastGood: Partial<ExportedJWKSCache> = {};
  private readonly remote: JWTVerifyGetKey;
  private readonly maxStaleMs: number;
  /** jose's local key set over `lastGood`, built once per fetched set (imported keys are cached inside it). */
  private fallback: { fetchedAt: number; keys: JWTVerifyGetKey } | undefined;
  /** The outage under way: since which successful fetch refreshes fail, and whether the bound was already told. */
  private outage: { fetchedAt: number; pastBound: boolean } | undefined;

  constructor(private readonly options: RemoteKeysOptions) {
    this.maxStaleMs = (options.maxStaleSeconds ?? DEFAULT_MAX_STALE_SECONDS) * 1000;
    this.remote = createRemoteJWKSet(new URL(options.url), {
      ...(options.timeoutMs ? { timeoutDuration: options.timeoutMs } : {}),
      ...(options.cacheMaxAgeMs !== undefined ? { cacheMaxAge: options.cacheMaxAgeMs } : {}),
      ...(options.fetch ? { [customFetch]: options.fetch } : {}),
      [jwksCache]: this.lastGood as ExportedJWKSCache,
    });
  }

  readonly keysAt: KeysAt = (now) => (header, token) => this.lookup(header, token, now);

  /**
   * Seconds since the last successful fetch of the set in use while refreshing it fails (0 while refreshes succeed, or
   * before any fetch): what `saldo_jwks_stale_seconds` reports, to alert on before it reaches the bound.
   */
  staleSeconds(now: number = Date.now()): number {
    this.noticeRecovery();
    return this.outage ? Math.max(0, (now - this.outage.fetchedAt) / 1000) : 0;
  }

  private async lookup(header: Parameters<JWTVerifyGetKey>[0], token: Parameters<JWTVerifyGetKey>[1], now: number) {
    try {
      return await this.remote(header, token);
    } catch (error) {
      if (TOKEN_PROBLEMS.has(codeOf(error) as string)) throw error;
      return this.fromLastGood(header, token, now, unavailable(error));
    } finally {
      this.noticeRecovery();
    }
  }

  /** The key from the last set fetched, while it is within the bound; otherwise `unavailable`. */
  private async fromLastGood(header: Parameters<JWTVerifyGetKey>[0], token: Parameters<JWTVerifyGetKey>[1], now: number, unavailable: Unavailable) {
    const { uat: fetchedAt, jwks } = this.lastGood;
    if (fetchedAt === undefined || !jwks) throw unavailable;
    const outage = this.outageSince(fetchedAt, unavailable);
    if (now - fetchedAt > this.maxStaleMs) {
      if (!outage.pastBound) {
        outage.pastBound = true;
        this.options.log?.error('JWKS: the last key set fetched is older than JWT_JWKS_MAX_STALE_SECONDS; bearer tokens are refused until it can be fetched', {
          fetchedAt: new Date(fetchedAt).toISOString(),
          maxStaleSeconds: this.maxStaleMs / 1000,
        });
      }
      throw unavailable;
    }
    if (this.fallback?.fetchedAt !== fetchedAt) this.fallback = { fetchedAt, keys: createLocalJWKSet(jwks) };
    try {
      return await this.fallback.keys(header, token);
    } catch (error) {
      // Not in the last good set: perhaps a key rotated in since, which only the provider can tell.
      if (codeOf(error) === 'ERR_JWKS_NO_MATCHING_KEY') throw unavailable;
      throw error;
    }
  }

  /** The outage that began when a refresh of the set fetched at `fetchedAt` failed; told once when it begins. */
  private outageSince(fetchedAt: number, cause: Unavailable): { fetchedAt: number; pastBound: boolean } {
    if (this.outage?.fetchedAt !== fetchedAt) {
      this.outage = { fetchedAt, pastBound: false };
      this.options.log?.warn('JWKS: the key set cannot be fetched; verifying bearer tokens with the last one fetched until it can', {
        fetchedAt: new Date(fetchedAt).toISOString(),
        maxStaleSeconds: this.maxStaleMs / 1000,
        reason: cause.extensions['reason'],
      });
    }
    return this.outage;
  }

  /** Ends the outage once jose has fetched the set again (its `uat` moved on). */
  private noticeRecovery(): void {
    if (!this.outage || this.lastGood.uat === this.outage.fetchedAt) return;
    this.options.log?.info('JWKS: the key set is fetched again', {
      staleSeconds: Math.round(((this.lastGood.uat ?? Date.now()) - this.outage.fetchedAt) / 1000),
    });
    this.outage = undefined;
  }
}

function codeOf(error: unknown): unknown {
  return (error as { extensions?: { code?: unknown } }).extensions?.code ?? (error as { code?: unknown }).code;
}

/**
 * A failure to fetch the keys as DEPENDENCY_UNAVAILABLE: unreachable, timed out, a non-200 answer, a body that is no key
 * set. Without this a valid token met while the identity provider is down would be answered UNAUTHENTICATED, telling the
 * client its credentials are bad (it would sign its user out) rather than to retry; the `jwks` breaker's own refusals
 * (circuit open, its timeout) already carry the code and pass unchanged.
 */
function unavailable(error: unknown): Unavailable {
  const code = codeOf(error);
  if (code === ErrorCode.DependencyUnavailable) return error as Unavailable;
  return new SaldoError(
    ErrorCode.DependencyUnavailable,
    "The identity provider's signing keys could not be fetched, so the token could not be checked; nothing was changed by this request. Retry later.",
    { dependency: 'jwks', reason: code === 'ERR_JWKS_TIMEOUT' ? 'timeout' : 'failed' },
  );
}
