import type { EntityManager } from '@mikro-orm/postgresql';
import { BalanceAlertsConfigured, enqueueEvent, type OutboxRelay } from '@saldo/events';
import { ErrorCode, SaldoError, isUuid, validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { settingsInputSchema } from './inputs.js';
import { TENANT_KINDS } from './kinds.js';
import type { Language } from './templates.js';

/** A tenant's notification settings (defaults where it never set any). */
export interface NotificationSettingsRecord {
  tenantId: string;
  /** The tenant's partner (not a setting: who resells to it, whose endpoints hear its events). */
  partnerId: string | null;
  language: Language;
  recipients: string[];
  currency: string;
  /** Ascending. */
  lowBalanceThresholdsMinor: bigint[];
  runwayDays: number | null;
  emailKinds: string[];
  liveKinds: string[];
  revision: number;
  updatedAt: Date | null;
}

interface SettingsRow {
  tenant_id: string;
  partner_id: string | null;
  country: string;
  tenant_currency: string;
  language: Language | null;
  recipients: string[] | null;
  currency: string | null;
  low_balance_thresholds_minor: string[] | null;
  runway_days: number | null;
  email_kinds: string[] | null;
  live_kinds: string[] | null;
  revision: number | null;
  updated_at: Date | string | null;
}

const GERMAN_SPEAKING = new Set(['DE', 'AT', 'CH', 'LI', 'LU']);

/**
 * Per tenant: who gets mail (recipients, language), below which balances to warn (amounts in the tenant's currency;
 * days of runway for forecasts) and which kinds go to mail and to the live feed. Webhooks choose their own event
 * types per endpoint. Billing learns the thresholds from `balance_alerts.configured`, enqueued with the change.
 */
export class NotificationSettingsService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly relay: Pick<OutboxRelay, 'poke'>,
  ) {}

  /** Settings of tenants on one shard (defaults for those without a row); tenants that do not exist are absent. */
  async onShard(em: EntityManager, tenantIds: readonly string[]): Promise<Map<string, NotificationSettingsRecord>> {
    if (tenantIds.length === 0) return new Map();
    const rows = await em.execute<SettingsRow[]>(
      `select t.id as tenant_id, t.partner_id, t.country, t.currency as tenant_currency, s.language, s.recipients, s.currency, s.low_balance_thresholds_minor,
              s.runway_days, s.email_kinds, s.live_kinds, s.revision, s.updated_at
         from tenant t left join notification_settings s on s.tenant_id = t.id
        where t.id = any(?::uuid[])`,
      [`{${tenantIds.join(',')}}`],
    );
    return new Map(rows.map((row) => [row.tenant_id, settingsFromRow(row)]));
  }

  async getMany(tenantIds: readonly string[]): Promise<Array<NotificationSettingsRecord | null>> {
    const groups = await this.db.groupByShard(tenantIds.filter(isUuid));
    const found = new Map<string, NotificationSettingsRecord>();
    await Promise.all([...groups].map(async ([shardId, ids]) => (await this.onShard(this.db.em(shardId), ids)).forEach((value, key) => found.set(key, value))));
    return tenantIds.map((id) => found.get(id) ?? null);
  }

  /**
   * Changes the settings: omitted fields stay. Thresholds must be in the tenant's currency (INVALID_CURRENCY), kinds
   * known (UNKNOWN_EVENT_TYPE), recipients addresses (INVALID_EMAIL); a refused input changes nothing.
   */
  async set(tenantId: string, input: unknown): Promise<NotificationSettingsRecord> {
    const changes = validateInput(settingsInputSchema, input);
    const saved = await this.db.forTenantIfPlaced(tenantId, (em) => this.save(em, tenantId, changes));
    if (!saved) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${tenantId}.`);
    this.relay.poke();
    return saved;
  }

  private save(em: EntityManager, tenantId: string, changes: ReturnType<typeof settingsInputSchema.parse>): Promise<NotificationSettingsRecord> {
    return em.transactional(async (tx) => {
      // The tenant row lock serializes changes of one tenant's settings (revisions stay in order).
      const [tenant] = await tx.execute<{ id: string }[]>('select id from tenant where id = ? for update', [tenantId]);
      if (!tenant) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${tenantId}.`);
      const current = (await this.onShard(tx, [tenantId])).get(tenantId)!;
      const next: NotificationSettingsRecord = { ...current, revision: current.revision + 1, updatedAt: new Date() };
      if (changes.language !== undefined) next.language = changes.language;
      if (changes.recipients !== undefined) next.recipients = changes.recipients;
      if (changes.runwayDaysThreshold !== undefined) next.runwayDays = changes.runwayDaysThreshold;
      if (changes.emailKinds !== undefined) next.emailKinds = [...new Set(changes.emailKinds)];
      if (changes.liveKinds !== undefined) next.liveKinds = [...new Set(changes.liveKinds)];
      if (changes.lowBalanceThresholds !== undefined) {
        changes.lowBalanceThresholds.forEach((threshold, index) => {
          if (threshold.currency.trim().toUpperCase() !== current.currency) {
            throw new SaldoError(
              ErrorCode.InvalidCurrency,
              `lowBalanceThresholds.${index}.currency: the tenant's balance is kept in ${current.currency}; thresholds must be too.`,
              {
                field: `lowBalanceThresholds.${index}.currency`,
              },
            );
          }
        });
        next.lowBalanceThresholdsMinor = [...new Set(changes.lowBalanceThresholds.map((threshold) => threshold.amountMinor))].sort((a, b) =>
          a < b ? -1 : a > b ? 1 : 0,
        );
      }
      await tx.execute(
        `insert into notification_settings (tenant_id, language, recipients, currency, low_balance_thresholds_minor, runway_days, email_kinds, live_kinds, revision, updated_at)
         values (?, ?, ?::jsonb, ?, ?::jsonb, ?, ?::jsonb, ?::jsonb, ?, ?)
         on conflict (tenant_id) do update set language = excluded.language, recipients = excluded.recipients, currency = excluded.currency,
           low_balance_thresholds_minor = excluded.low_balance_thresholds_minor, runway_days = excluded.runway_days, email_kinds = excluded.email_kinds,
           live_kinds = excluded.live_kinds, revision = excluded.revision, updated_at = excluded.updated_at`,
        [
          tenantId,
          next.language,
          JSON.stringify(next.recipients),
          next.currency,
          JSON.stringify(next.lowBalanceThresholdsMinor.map(String)),
          next.runwayDays,
          JSON.stringify(next.emailKinds),
          JSON.stringify(next.liveKinds),
          next.revision,
          next.updatedAt,
        ],
      );
      if (changes.lowBalanceThresholds !== undefined) {
        enqueueEvent(tx, BalanceAlertsConfigured, tenantId, {
          tenantId,
          currency: next.currency,
          thresholdsMinor: next.lowBalanceThresholdsMinor.map(String),
          revision: next.revision,
        });
        await tx.flush();
      }
      return next;
    });
  }
}

function settingsFromRow(row: SettingsRow): NotificationSettingsRecord {
  return {
    tenantId: row.tenant_id,
    partnerId: row.partner_id,
    language: row.language ?? (GERMAN_SPEAKING.has(row.country.trim()) ? 'de' : 'en'),
    recipients: row.recipients ?? [],
    currency: (row.currency ?? row.tenant_currency).trim(),
    lowBalanceThresholdsMinor: (row.low_balance_thresholds_minor ?? []).map((value) => BigInt(value)),
    runwayDays: row.runway_days,
    emailKinds: row.email_kinds ?? [...TENANT_KINDS],
    liveKinds: row.live_kinds ?? [...TENANT_KINDS],
    revision: row.revision ?? 0,
    updatedAt: row.updated_at === null ? null : new Date(row.updated_at),
  };
}
