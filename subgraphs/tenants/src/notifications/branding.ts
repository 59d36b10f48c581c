import type { EntityManager } from '@mikro-orm/postgresql';
import { BrandingChanged, PLATFORM_BRANDING_VALUES, decode, type EventEnvelope, type PayloadOf } from '@saldo/events';
import type { ShardedDatabase } from '@saldo/sharding';
import type { MailBranding } from './templates.js';

type Values = PayloadOf<typeof BrandingChanged>['values'];
type Field = 'displayName' | 'primaryColor' | 'accentColor' | 'logoUrl' | 'supportEmail';

/**
 * The notifier's copy of branding (white-label owns it): each level's own values from `branding.changed` (tenant-events), a tenant's
 * on its shard, a partner's in the control database. Mail resolves them per field like white-label does: tenant, else
 * partner, else the platform default. A newer change wins; a replayed older one changes nothing.
 */
export class BrandingCopy {
  constructor(private readonly db: ShardedDatabase) {}

  /** Applies a batch of branding-events (idempotent: keyed by owner, newest `changedAt` kept). */
  async apply(events: readonly EventEnvelope[]): Promise<void> {
    const changes = events.map((event) => decode(BrandingChanged, event)).filter((change) => change !== undefined);
    for (const change of changes) {
      const ownerId = change.level === 'PARTNER' ? change.partnerId : change.tenantId;
      if (!ownerId) continue;
      const write = (em: EntityManager) =>
        em.execute(
          `insert into notification_branding (owner_id, level, "values", changed_at) values (?, ?, ?::jsonb, ?)
           on conflict (owner_id) do update set "values" = excluded."values", changed_at = excluded.changed_at
            where notification_branding.changed_at <= excluded.changed_at`,
          [ownerId, change.level, JSON.stringify(change.values), change.changedAt],
        );
      if (change.level === 'PARTNER') await write(this.db.globalEm());
      // A tenant's on its shard (retried there after a move); an id that is not a tenant of this platform is skipped
      // (white-label accepts any well-formed id).
      else await this.db.forTenantIfPlaced(ownerId, write);
    }
  }

  /** Resolved branding of tenants on one shard (one query there, one on the control database for their partners). */
  async forTenants(em: EntityManager, tenantIds: readonly string[]): Promise<Map<string, MailBranding>> {
    const result = new Map<string, MailBranding>();
    if (tenantIds.length === 0) return result;
    const rows = await em.execute<{ id: string; partner_id: string | null; values: Values | null }[]>(
      `select t.id, t.partner_id, b."values" from tenant t left join notification_branding b on b.owner_id = t.id where t.id = any(?::uuid[])`,
      [`{${tenantIds.join(',')}}`],
    );
    const partners = await this.partnerValues(rows.map((row) => row.partner_id).filter((id): id is string => id !== null));
    for (const row of rows) result.set(row.id, resolve([row.values, row.partner_id ? (partners.get(row.partner_id) ?? null) : null]));
    return result;
  }

  /** Resolved branding of partners (what a partner's own mail looks like). */
  async forPartners(partnerIds: readonly string[]): Promise<Map<string, MailBranding>> {
    const values = await this.partnerValues(partnerIds);
    return new Map(partnerIds.map((id) => [id, resolve([values.get(id) ?? null])]));
  }

  private async partnerValues(partnerIds: readonly string[]): Promise<Map<string, Values | null>> {
    const unique = [...new Set(partnerIds)];
    if (unique.length === 0) return new Map();
    const rows = await this.db
      .globalEm()
      .execute<{ owner_id: string; values: Values | null }[]>(`select owner_id, "values" from notification_branding where owner_id = any(?::uuid[])`, [
        `{${unique.join(',')}}`,
      ]);
    return new Map(rows.map((row) => [row.owner_id, row.values]));
  }
}

/** Per field, the most specific level that set it, else the platform default. */
function resolve(levels: ReadonlyArray<Values | null>): MailBranding {
  const pick = <F extends Field>(field: F): MailBranding[F] => {
    for (const level of levels) {
      const value = level?.[field];
      if (value !== null && value !== undefined) return value as MailBranding[F];
    }
    return PLATFORM_BRANDING_VALUES[field] as MailBranding[F];
  };
  return {
    displayName: pick('displayName'),
    primaryColor: pick('primaryColor'),
    accentColor: pick('accentColor'),
    logoUrl: pick('logoUrl'),
    supportEmail: pick('supportEmail'),
  };
}
