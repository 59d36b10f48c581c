import { assertUuid, isUuid, validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { TenantBranding } from '../entities/tenant-branding.js';
import { brandingInputSchema, changedValues, fieldNames } from './inputs.js';

/**
 * Tenant-level branding: one row per tenant on the shard white-label's own directory holds the tenant on.
 * The tenant is placed on its first write; tenants that never set branding have no row and no placement.
 * The tenant itself (and its partner) is owned by the tenants subgraph; any well-formed id is accepted here.
 */
export class TenantBrandingService {
  constructor(private readonly db: ShardedDatabase) {}

  /**
   * Changes the tenant's own branding: omitted fields stay, null clears a field (the tenant inherits it
   * again). Input is validated before the tenant is placed or anything is written; the write is one upsert
   * that touches only the changed columns. Returns the tenant's own row (null when it has none).
   */
  async set(tenantId: string, input: unknown): Promise<TenantBranding | null> {
    assertUuid(tenantId, 'tenantId');
    const values = changedValues(validateInput(brandingInputSchema, input));
    if (fieldNames(values).length === 0) return (await this.getMany([tenantId]))[0] ?? null;
    const { em } = (await this.db.emForTenant(tenantId)) ?? (await this.db.placeTenant(tenantId));
    const now = new Date();
    return em.upsert(
      TenantBranding,
      { tenantId, ...values, createdAt: now, updatedAt: now },
      { onConflictFields: ['tenantId'], onConflictAction: 'merge', onConflictMergeFields: [...fieldNames(values), 'updatedAt'] },
    );
  }

  /** Removes the tenant's own branding, so it inherits everything again. True when there was a row to remove. */
  async clear(tenantId: string): Promise<boolean> {
    assertUuid(tenantId, 'tenantId');
    const located = await this.db.emForTenant(tenantId);
    if (!located) return false;
    return (await located.em.nativeDelete(TenantBranding, { tenantId })) > 0;
  }

  /** Batch read in input order: one directory query plus one query per shard involved; null where unset. */
  async getMany(tenantIds: readonly string[]): Promise<Array<TenantBranding | null>> {
    const groups = await this.db.groupByShard(tenantIds.filter(isUuid));
    const found = new Map<string, TenantBranding>();
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db.em(shardId).find(TenantBranding, { tenantId: { $in: ids } });
        for (const row of rows) found.set(row.tenantId, row);
      }),
    );
    return tenantIds.map((id) => found.get(id) ?? null);
  }
}
