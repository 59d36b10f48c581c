import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { INTERNAL_AUDIENCE, IDENTITY_HEADER, parseApiKey, type IdentitySigner } from '@saldo/identity';

/** The gateway's own identity on internal endpoints (signed for the internal audience only). */
const GATEWAY_SERVICE: Identity = { role: 'platform-admin', subject: 'saldo-gateway' };

/**
 * Verifies partner API keys with the service that owns them (the tenants subgraph's internal endpoint),
 * caching answers for `cacheTtlMs` so a busy partner costs one verification per interval, not per request.
 * A revoked key therefore stops working within that interval.
 */
export class ApiKeyClient {
  private readonly cache = new Map<string, { identity: Identity | null; until: number }>();

  constructor(
    private readonly verifyUrl: string,
    private readonly signer: IdentitySigner,
    private readonly cacheTtlMs: number,
  ) {}

  async verify(plaintext: string, now: number = Date.now()): Promise<Identity> {
    const invalid = () => new SaldoError(ErrorCode.Unauthenticated, 'The API key is invalid, revoked or expired.', { http: { status: 401 } });
    const parsed = parseApiKey(plaintext);
    if (!parsed) throw invalid();
    const cached = this.cache.get(plaintext);
    if (cached && cached.until > now) {
      if (!cached.identity) throw invalid();
      return cached.identity;
    }
    const response = await fetch(this.verifyUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [IDENTITY_HEADER]: await this.signer.sign(GATEWAY_SERVICE, INTERNAL_AUDIENCE) },
      body: JSON.stringify(parsed),
    });
    if (response.status >= 500) throw new SaldoError(ErrorCode.Internal, 'API key verification is unavailable.', { http: { status: 503 } });
    const body = (await response.json()) as { partnerId?: string; keyId?: string };
    const identity: Identity | null =
      response.ok && body.partnerId ? { role: 'partner', subject: `api-key:${parsed.keyId}`, partnerId: body.partnerId } : null;
    if (this.cacheTtlMs > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(plaintext, { identity, until: now + this.cacheTtlMs });
    }
    if (!identity) throw invalid();
    return identity;
  }
}
