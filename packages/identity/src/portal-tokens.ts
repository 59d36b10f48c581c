import { createLocalJWKSet, createRemoteJWKSet, customFetch, exportJWK, importSPKI, jwtVerify, type FetchImplementation, type JWTVerifyGetKey } from 'jose';
import { createPublicKey } from 'node:crypto';
import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { claimsToIdentity } from './identity-claims.js';

export interface PortalTokenOptions {
  issuer: string;
  audience: string;
  /** Identity provider's JWKS endpoint (keys fetched and rotated by jose). */
  jwksUrl?: string;
  /** Longest one JWKS fetch may take (jose's timeout; default 5 s). */
  jwksTimeoutMs?: number;
  /**
   * How jose fetches the JWKS (default: fetch): the gateway passes one through its `jwks` circuit breaker, so an identity
   * provider that is down costs a fast DEPENDENCY_UNAVAILABLE instead of a timeout per token with an unknown key. Keys
   * already fetched keep verifying tokens whatever the breaker's state: jose calls this only to (re)load the set.
   */
  jwksFetch?: JwksFetch;
  /** Or PEM public keys (SPKI), e.g. the embedded default's dev issuer. */
  publicKeysPem?: string[];
  clockToleranceSeconds?: number;
}

/** How the verifier fetches a remote JWKS (jose's custom fetch: URL and init with jose's own abort signal). */
export type JwksFetch = FetchImplementation;

const ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/**
 * Verifies portal users' and admins' JWTs: signature (asymmetric only), issuer, audience and expiry, then the
 * Saldo claims `role`, `tenant_id`, `partner_id`. Verified tokens are cached until they expire, so a client that
 * reuses its token pays for the signature check once.
 */
export class PortalTokenVerifier {
  private readonly cache = new Map<string, { identity: Identity; expiresAt: number }>();

  private constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly options: PortalTokenOptions,
  ) {}

  static async create(options: PortalTokenOptions): Promise<PortalTokenVerifier> {
    if (options.jwksUrl) {
      const remote = createRemoteJWKSet(new URL(options.jwksUrl), {
        ...(options.jwksTimeoutMs ? { timeoutDuration: options.jwksTimeoutMs } : {}),
        ...(options.jwksFetch ? { [customFetch]: options.jwksFetch } : {}),
      });
      return new PortalTokenVerifier(keysOrUnavailable(remote), options);
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
    return new PortalTokenVerifier(createLocalJWKSet({ keys }), options);
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
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ALGORITHMS,
        clockTolerance: this.options.clockToleranceSeconds ?? 5,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      // The identity provider's keys could not be fetched (breaker open or timed out): a dependency failure, not a bad token.
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

/**
 * The remote key set, its failures to fetch the keys made DEPENDENCY_UNAVAILABLE: unreachable, timed out, a non-200
 * answer, a body that is no key set. Without this a valid token met while the identity provider is down would be
 * answered UNAUTHENTICATED, telling the client its credentials are bad (it would sign its user out) rather than to
 * retry; the `jwks` breaker's own refusals (circuit open, its timeout) already carry the code and pass unchanged.
 */
function keysOrUnavailable(remote: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      const code = (error as { code?: unknown; extensions?: { code?: unknown } }).extensions?.code ?? (error as { code?: unknown }).code;
      if (code === ErrorCode.DependencyUnavailable || TOKEN_PROBLEMS.has(code as string)) throw error;
      throw new SaldoError(
        ErrorCode.DependencyUnavailable,
        "The identity provider's signing keys could not be fetched, so the token could not be checked; nothing was changed by this request. Retry later.",
        { dependency: 'jwks', reason: code === 'ERR_JWKS_TIMEOUT' ? 'timeout' : 'failed' },
      );
    }
  };
}

/** JWS algorithm matching a PEM public key's type (RSA -> RS256, EC P-256 -> ES256, Ed25519 -> EdDSA). */
function algorithmOf(pem: string): string {
  const type = createPublicKey(pem).asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ec') return 'ES256';
  if (type === 'ed25519') return 'EdDSA';
  throw new Error(`Unsupported public key type ${type}`);
}
