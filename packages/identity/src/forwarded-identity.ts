import { randomUUID } from 'node:crypto';
import { SignJWT, importPKCS8, importSPKI, jwtVerify, type CryptoKey } from 'jose';
import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { claimsToIdentity, identityKey, identityToClaims } from './identity-claims.js';

/** The HTTP header carrying the gateway-signed identity to subgraphs. */
export const IDENTITY_HEADER = 'x-saldo-identity';

const ISSUER = 'saldo-gateway';
/** Audience of identities forwarded with GraphQL requests. */
export const SUBGRAPH_AUDIENCE = 'saldo-subgraph';
/** Audience of the gateway's own calls to internal endpoints (API key verification). */
export const INTERNAL_AUDIENCE = 'saldo-internal';
const ALGORITHM = 'EdDSA';

/**
 * Signs the verified identity for subgraphs: a short-lived EdDSA JWT. Only the gateway holds the private key;
 * subgraphs hold the public key, so nothing but the gateway can mint an identity they accept. Tokens are reused
 * for half their lifetime per identity, so signing costs nothing on most requests.
 */
export class IdentitySigner {
  /** Pending or finished signatures per identity; concurrent fetches of one request share one signature. */
  private readonly cache = new Map<string, { token: Promise<string>; renewAt: number }>();

  private constructor(
    private readonly key: CryptoKey,
    private readonly ttlSeconds: number,
  ) {}

  static async fromPem(privateKeyPem: string, ttlSeconds = 30): Promise<IdentitySigner> {
    return new IdentitySigner(await importPKCS8(privateKeyPem, ALGORITHM), ttlSeconds);
  }

  async sign(identity: Identity, audience: string = SUBGRAPH_AUDIENCE, now: number = Date.now()): Promise<string> {
    const cacheKey = `${audience}|${identityKey(identity)}`;
    const cached = this.cache.get(cacheKey);
    if (cached && cached.renewAt > now) return cached.token;
    const issuedAt = Math.floor(now / 1000);
    const token = new SignJWT({ ...identityToClaims(identity) })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.key);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(cacheKey, { token, renewAt: now + (this.ttlSeconds * 1000) / 2 });
    token.catch(() => this.cache.delete(cacheKey));
    return token;
  }
}

/**
 * Verifies gateway-signed identities in a subgraph (or an internal endpoint). The gateway reuses a token for
 * half its lifetime, so verified tokens are remembered until they expire: the signature is checked once per
 * token, not once per request.
 */
export class IdentityVerifier {
  private readonly verified = new Map<string, { identity: Identity; audience: string; expiresAt: number }>();
  /** Verifications under way, so concurrent requests carrying one new token check its signature once. */
  private readonly pending = new Map<string, Promise<{ identity: Identity; expiresAt: number } | undefined>>();

  private constructor(
    private readonly key: CryptoKey,
    private readonly clockToleranceSeconds: number,
    private readonly maxLifetimeSeconds: number,
  ) {}

  /**
   * `maxLifetimeSeconds`: tokens whose lifetime (exp - iat) is longer are refused (the gateway's IDENTITY_TTL_SECONDS;
   * default 300, the longest the gateway can be configured to mint).
   */
  static async fromPem(publicKeyPem: string, options: { clockToleranceSeconds?: number; maxLifetimeSeconds?: number } = {}): Promise<IdentityVerifier> {
    return new IdentityVerifier(await importSPKI(publicKeyPem, ALGORITHM), options.clockToleranceSeconds ?? 2, options.maxLifetimeSeconds ?? 300);
  }

  /** The identity in `token`; UNAUTHENTICATED when it is missing, forged, expired or meant for another audience. */
  async verify(token: string | undefined, audience: string = SUBGRAPH_AUDIENCE, now: Date = new Date()): Promise<Identity> {
    return (await this.verifySession(token, audience, now)).identity;
  }

  /** Like verify, with the token's expiry (ms since epoch): a connection opened with it is trusted until then only. */
  async verifySession(
    token: string | undefined,
    audience: string = SUBGRAPH_AUDIENCE,
    now: Date = new Date(),
  ): Promise<{ identity: Identity; expiresAt: number }> {
    const refuse = () => new SaldoError(ErrorCode.Unauthenticated, 'Requests must come through the gateway with a valid identity.');
    if (!token) throw refuse();
    const remembered = this.verified.get(token);
    if (remembered && remembered.audience === audience) {
      if (remembered.expiresAt + this.clockToleranceSeconds * 1000 > now.getTime()) return remembered;
      this.verified.delete(token);
      throw refuse();
    }
    const key = `${audience}|${token}`;
    let verification = this.pending.get(key);
    if (!verification) {
      verification = this.check(token, audience, now);
      this.pending.set(key, verification);
      void verification.finally(() => this.pending.delete(key));
    }
    const result = await verification;
    if (!result) throw refuse();
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(token, { identity: result.identity, audience, expiresAt: result.expiresAt });
    return result;
  }

  private async check(token: string, audience: string, now: Date): Promise<{ identity: Identity; expiresAt: number } | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience,
        algorithms: [ALGORITHM],
        clockTolerance: this.clockToleranceSeconds,
        currentDate: now,
        requiredClaims: ['exp', 'iat'],
      });
      // A token minted for longer than the gateway's TTL (or dated in the future) is not one the gateway made.
      const lifetime = (payload.exp ?? 0) - (payload.iat ?? 0);
      if (lifetime > this.maxLifetimeSeconds || (payload.iat ?? 0) * 1000 > now.getTime() + this.clockToleranceSeconds * 1000) return undefined;
      const identity = claimsToIdentity(payload);
      return identity ? { identity, expiresAt: (payload.exp ?? 0) * 1000 } : undefined;
    } catch {
      return undefined;
    }
  }
}
