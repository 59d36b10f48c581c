import { createLocalJWKSet, exportJWK, importSPKI, jwtVerify } from 'jose';
import { createPublicKey } from 'node:crypto';
import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { claimsToIdentity } from './identity-claims.js';
import { RemoteSigningKeys, type JwksFetch, type KeySetLog, type KeysAt } from './remote-keys.js';

export interface PortalTokenOptions {
  issuer: string;
  audience: string;
  /** Identity provider's JWKS endpoint (keys fetched and rotated by jose; the last set fetched stands in while it cannot be). */
  jwksUrl?: string;
  /** Longest one JWKS fetch may take (jose's timeout; default 5 s). */
  jwksTimeoutMs?: number;
  /**
   * How jose fetches the JWKS (default: fetch): the gateway passes one through its `jwks` circuit breaker, so an identity
   * provider that is down costs a fast DEPENDENCY_UNAVAILABLE instead of a timeout per token with an unknown key. Keys
   * already fetched keep verifying tokens whatever the breaker's state: jose calls this only to (re)load the set.
   */
  jwksFetch?: JwksFetch;
  /** Age past which the fetched set is fetched again before use (jose's cacheMaxAge; default 10 min). */
  jwksCacheMaxAgeMs?: number;
  /**
   * Longest after its last successful fetch that the set keeps verifying tokens while it cannot be fetched again
   * (default 24 h): see RemoteSigningKeys.
   */
  jwksMaxStaleSeconds?: number;
  /** Where JWKS outages are told (their start once, the bound passed, the end). */
  log?: KeySetLog;
  /** Or PEM public keys (SPKI), e.g. the embedded default's dev issuer. */
  publicKeysPem?: string[];
  clockToleranceSeconds?: number;
}

const ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/**
 * Verifies portal users' and admins' JWTs: signature (asymmetric only), issuer, audience and expiry, then the
 * Saldo claims `role`, `tenant_id`, `partner_id`. Verified tokens are cached until they expire, so a client that
 * reuses its token pays for the signature check once.
 */
export class PortalTokenVerifier {
  private readonly cache = new Map<string, { identity: Identity; expiresAt: number }>();

  private constructor(
    private readonly keysAt: KeysAt,
    private readonly options: PortalTokenOptions,
    private readonly remote?: RemoteSigningKeys,
  ) {}

  static async create(options: PortalTokenOptions): Promise<PortalTokenVerifier> {
    if (options.jwksUrl) {
      const remote = new RemoteSigningKeys({
        url: options.jwksUrl,
        timeoutMs: options.jwksTimeoutMs,
        fetch: options.jwksFetch,
        cacheMaxAgeMs: options.jwksCacheMaxAgeMs,
        maxStaleSeconds: options.jwksMaxStaleSeconds,
        log: options.log,
      });
      return new PortalTokenVerifier(remote.keysAt, options, remote);
    }
    const pems = options.publicKeysPem ?? [];
    if (pems.length === 0) throw new Error('PortalTokenVerifier needs a JWKS URL or at least one public key');
    const keys = await Promise.all(
      pems.map(async (pem, index) => {
        const algorithm = algorithmOf(pem);
        const jwk = await exportJWK(await importSPKI(pem, algorithm));
        return { ...jwk, alg: algorithm, kid: `configured-${index}` };
      }),
    );
    const local = createLocalJWKSet({ keys });
    return new PortalTokenVerifier(() => local, options);
  }

  /**
   * Seconds since the last successful JWKS fetch while refreshing it fails, 0 otherwise (and with configured keys): how
   * close the verifier is to refusing every token (JWT_JWKS_MAX_STALE_SECONDS).
   */
  jwksStaleSeconds(now: number = Date.now()): number {
    return this.remote?.staleSeconds(now) ?? 0;
  }

  /** The issuer whose tokens this verifier accepts (the `iss` every verified token carries). */
  get issuer(): string {
    return this.options.issuer;
  }

  async verify(token: string, now: number = Date.now()): Promise<Identity> {
    return (await this.verifySession(token, now)).identity;
  }

  /** Like verify, with the token's expiry (ms since epoch): long-lived connections end when it passes. */
  async verifySession(token: string, now: number = Date.now()): Promise<{ identity: Identity; expiresAt: number }> {
    const cached = this.cache.get(token);
    if (cached && cached.expiresAt > now) return cached;
    const invalid = () => new SaldoError(ErrorCode.Unauthenticated, 'The bearer token is invalid or expired.');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keysAt(now), {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ALGORITHMS,
        clockTolerance: this.options.clockToleranceSeconds ?? 5,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      // The identity provider's keys could not be fetched, nor stood in for by the last ones fetched: a dependency failure,
      // not a bad token.
      if ((error as { extensions?: { code?: unknown } }).extensions?.code === ErrorCode.DependencyUnavailable) throw error;
      throw invalid();
    }
    const identity = claimsToIdentity(payload);
    if (!identity || identity.role === 'anonymous') throw invalid();
    if (this.cache.size > 50_000) this.cache.clear();
    const session = { identity, expiresAt: (payload.exp ?? 0) * 1000 };
    this.cache.set(token, session);
    return session;
  }
}

/** JWS algorithm matching a PEM public key's type (RSA -> RS256, EC P-256 -> ES256, Ed25519 -> EdDSA). */
function algorithmOf(pem: string): string {
  const type = createPublicKey(pem).asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ec') return 'ES256';
  if (type === 'ed25519') return 'EdDSA';
  throw new Error(`Unsupported public key type ${type}`);
}
