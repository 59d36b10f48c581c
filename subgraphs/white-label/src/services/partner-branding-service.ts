import { BrandingChanged, enqueueEvent, type OutboxRelay } from '@saldo/events';
import { assertUuid, isUuid, validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { BRANDING_SELECT, brandingFromRow, type BrandingRow } from '../entities/branding-columns.js';
import { PartnerBranding } from '../entities/partner-branding.js';
import { brandingInputSchema, changedValues, fieldNames } from './inputs.js';

/**
 * Partner-level branding: platform-wide rows in the control database (partners belong to no tenant).
 * The partner itself is owned by the tenants subgraph; any well-formed partner id is accepted here.
 */
export class PartnerBrandingService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly relay?: OutboxRelay,
  ) {}

  /**
   * Changes the partner's branding: omitted fields stay, null clears a field. Input is validated before
   * anything is written; the write is one upsert that touches only the changed columns.
   */
  async set(partnerId: string, input: unknown): Promise<PartnerBranding | null> {
    assertUuid(partnerId, 'partnerId');
    const values = changedValues(validateInput(brandingInputSchema, input));
    const em = this.db.globalEm();
    if (fieldNames(values).length === 0) return em.findOne(PartnerBranding, { partnerId });
    const now = new Date();
    // The row and its branding.changed event commit together (billing dresses the partner's documents in it).
    const row = await em.transactional(async (tx) => {
      const saved = await tx.upsert(
        PartnerBranding,
        { partnerId, ...values, createdAt: now, updatedAt: now },
        { onConflictFields: ['partnerId'], onConflictAction: 'merge', onConflictMergeFields: [...fieldNames(values), 'updatedAt'] },
      );
      enqueueEvent(tx, BrandingChanged, partnerId, {
        level: 'PARTNER',
        partnerId,
        tenantId: null,
        values: brandingValuesOf(saved),
        changedAt: now.toISOString(),
      });
      return saved;
    });
    this.relay?.poke();
    return row;
  }

  /** Batch read in input order, one query for the whole batch; null where a partner set no branding. */
  async getMany(partnerIds: readonly string[]): Promise<Array<PartnerBranding | null>> {
    const wellFormed = [...new Set(partnerIds.filter(isUuid))];
    const rows =
      wellFormed.length === 0
        ? []
        : await this.db
            .globalEm()
            .execute<Array<BrandingRow & { partner_id: string }>>(`select partner_id, ${BRANDING_SELECT} from partner_branding where partner_id in (?)`, [
              wellFormed,
            ]);
    const byId = new Map(rows.map((row) => [row.partner_id, brandingFromRow(Object.assign(new PartnerBranding(), { partnerId: row.partner_id }), row)]));
    return partnerIds.map((id) => byId.get(id) ?? null);
  }
}

/** The five branding fields of a row, as branding.changed carries them. */
export function brandingValuesOf(
  row: { displayName: string | null; primaryColor: string | null; accentColor: string | null; logoUrl: string | null; supportEmail: string | null } | null,
) {
  return {
    displayName: row?.displayName ?? null,
    primaryColor: row?.primaryColor ?? null,
    accentColor: row?.accentColor ?? null,
    logoUrl: row?.logoUrl ?? null,
    supportEmail: row?.supportEmail ?? null,
  };
}
