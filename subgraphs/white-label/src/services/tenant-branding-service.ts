import { BrandingChanged, enqueueEvent, type OutboxRelay } from '@saldo/events';
import { assertUuid, isUuid, validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { BRANDING_SELECT, brandingFromRow, type BrandingRow } from '../entities/branding-columns.js';
import { TenantBranding } from '../entities/tenant-branding.js';
import { brandingInputSchema, changedValues, fieldNames } from './inputs.js';
import { brandingValuesOf } from './partner-branding-service.js';

/**
 * Tenant-level branding: one row per tenant on the shard white-label's own directory holds the tenant on.
 * The tenant is placed on its first write; tenants that never set branding have no row and no placement.
 * The tenant itself (and its partner) is owned by the tenants subgraph; any well-formed id is accepted here.
 */
export class TenantBrandingService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly relay?: OutboxRelay,
  ) {}

  /**
   * Changes the tenant's own branding: omitted fields stay, null clears a field (the tenant inherits it
   * again). Input is validated before the tenant is placed or anything is written; the write is one upsert
   * that touches only the changed columns. Returns the tenant's own row (null when it has none).
   */
  async set(tenantId: string, input: unknown): Promise<TenantBranding | null> {
    assertUuid(tenantId, 'tenantId');
    const values = changedValues(validateInput(brandingInputSchema, input));
    if (fieldNames(values).length === 0) return (await this.getMany([tenantId]))[0] ?? null;
    const now = new Date();
    // The row and its branding.changed event commit together (billing dresses the tenant's documents in it); refused
    // because the tenant moved shards meanwhile (never applied there), the change runs again on the new shard.
    const row = await this.db.forTenant(
      tenantId,
      (em) =>
        em.transactional(async (tx) => {
          const saved = await tx.upsert(
            TenantBranding,
            { tenantId, ...values, createdAt: now, updatedAt: now },
            { onConflictFields: ['tenantId'], onConflictAction: 'merge', onConflictMergeFields: [...fieldNames(values), 'updatedAt'] },
          );
          enqueueEvent(tx, BrandingChanged, tenantId, {
            level: 'TENANT',
            partnerId: null,
            tenantId,
            values: brandingValuesOf(saved),
            changedAt: now.toISOString(),
          });
          return saved;
        }),
      { place: true },
    );
    this.relay?.poke();
    return row;
  }

  /** Removes the tenant's own branding, so it inherits everything again. True when there was a row to remove. */
  async clear(tenantId: string): Promise<boolean> {
    assertUuid(tenantId, 'tenantId');
    const removed = await this.db.forTenantIfPlaced(tenantId, (em) =>
      em.transactional(async (tx) => {
        const count = await tx.nativeDelete(TenantBranding, { tenantId });
        if (count > 0)
          enqueueEvent(tx, BrandingChanged, tenantId, {
            level: 'TENANT',
            partnerId: null,
            tenantId,
            values: brandingValuesOf(null),
            changedAt: new Date().toISOString(),
          });
        return count > 0;
      }),
    );
    if (removed === undefined) return false;
    this.relay?.poke();
    return removed;
  }

  /** Batch read in input order: one directory query plus one query per shard involved; null where unset. */
  async getMany(tenantIds: readonly string[]): Promise<Array<TenantBranding | null>> {
    const groups = await this.db.groupByShard(tenantIds.filter(isUuid));
    const found = new Map<string, TenantBranding>();
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db
          .em(shardId)
          .execute<Array<BrandingRow & { tenant_id: string }>>(`select tenant_id, ${BRANDING_SELECT} from tenant_branding where tenant_id in (?)`, [ids]);
        for (const row of rows) found.set(row.tenant_id, brandingFromRow(Object.assign(new TenantBranding(), { tenantId: row.tenant_id }), row));
      }),
    );
    return tenantIds.map((id) => found.get(id) ?? null);
  }
}
