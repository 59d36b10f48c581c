import { ErrorCode, SaldoError, assertUuid, validateInput } from '@saldo/graphql';
import { apiKeySecretMatches, generateApiKey } from '@saldo/identity';
import type { ShardedDatabase } from '@saldo/sharding';
import { z } from 'zod';
import { ApiKey } from '../entities/api-key.js';
import { Partner } from '../entities/partner.js';

const nameSchema = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');
const graceSchema = z
  .number()
  .int()
  .min(0)
  .max(7 * 24 * 3600, 'must be at most 7 days');

export interface IssuedApiKey {
  apiKey: ApiKey;
  /** The full key; returned once and never stored. */
  secret: string;
}

/** Partner API keys: issue, list, revoke, rotate, and verify (for the gateway). They live in the control database. */
export class ApiKeyService {
  constructor(private readonly db: ShardedDatabase) {}

  async create(partnerId: string, name: unknown): Promise<IssuedApiKey> {
    assertUuid(partnerId, 'partnerId');
    const label = validateInput(nameSchema, name);
    const em = this.db.globalEm();
    if (!(await em.findOne(Partner, { id: partnerId }))) {
      throw new SaldoError(ErrorCode.PartnerNotFound, `No partner with id ${partnerId}.`, { field: 'partnerId' });
    }
    const generated = generateApiKey();
    const apiKey = em.create(ApiKey, { id: generated.keyId, partnerId, name: label, secretHash: generated.secretHash });
    await em.flush();
    return { apiKey, secret: generated.plaintext };
  }

  async get(keyId: string): Promise<ApiKey | null> {
    return this.db.globalEm().findOne(ApiKey, { id: keyId });
  }

  async listForPartners(partnerIds: readonly string[]): Promise<ApiKey[][]> {
    const keys = await this.db.globalEm().find(ApiKey, { partnerId: { $in: [...partnerIds] } }, { orderBy: { createdAt: 'asc' } });
    return partnerIds.map((partnerId) => keys.filter((key) => key.partnerId === partnerId));
  }

  /** Revokes at once; revoking a revoked key is a no-op that returns it. */
  async revoke(keyId: string): Promise<ApiKey> {
    const em = this.db.globalEm();
    const key = await em.findOne(ApiKey, { id: keyId });
    if (!key) throw notFound(keyId);
    key.revokedAt ??= new Date();
    await em.flush();
    return key;
  }

  /**
   * Issues a replacement with the same partner and name. The old key stops working after `graceSeconds`
   * (immediately with 0), so a partner can roll the new key out before the old one dies.
   */
  async rotate(keyId: string, graceSeconds: unknown): Promise<IssuedApiKey> {
    const grace = validateInput(graceSchema, graceSeconds);
    const em = this.db.globalEm();
    return em.transactional(async (tx) => {
      const old = await tx.findOne(ApiKey, { id: keyId });
      if (!old || !old.isActive()) throw notFound(keyId);
      const generated = generateApiKey();
      const replacement = tx.create(ApiKey, { id: generated.keyId, partnerId: old.partnerId, name: old.name, secretHash: generated.secretHash });
      old.replacedBy = replacement.id;
      if (grace === 0) old.revokedAt = new Date();
      else old.expiresAt = new Date(Date.now() + grace * 1000);
      return { apiKey: replacement, secret: generated.plaintext };
    });
  }

  /** The partner a presented key belongs to, or null when it is unknown, wrong, revoked or expired. */
  async verify(keyId: string, secret: string): Promise<string | null> {
    const key = await this.get(keyId);
    if (!key || !key.isActive() || !apiKeySecretMatches(secret, key.secretHash)) return null;
    return key.partnerId;
  }
}

function notFound(keyId: string): SaldoError {
  return new SaldoError(ErrorCode.NotFound, `No active API key with id ${keyId}.`, { field: 'id' });
}
