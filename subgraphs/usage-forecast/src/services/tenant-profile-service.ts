import {
  AutoTopUpChanged,
  AutoTopUpFailed,
  BalanceChanged,
  OverdraftPolicyChanged,
  TenantCreated,
  Topic,
  decode,
  type EventBus,
  type EventEnvelope,
  type Unsubscribe,
} from '@saldo/events';
import type { ShardedDatabase } from '@saldo/sharding';
import type { AutoTopUpSnapshot } from '../entities/tenant-profile.js';

export const PROFILE_GROUP = 'usage-forecast.tenant-profile';

/** What the forecasts, depletion dates and fraud checks know about a tenant's account. */
export interface TenantProfileView {
  tenantId: string;
  partnerId: string | null;
  createdAt: Date | null;
  currency: string | null;
  balanceMinor: bigint | null;
  balanceVersion: number;
  overdraftLimitMinor: bigint;
  autoTopUp: AutoTopUpSnapshot | null;
  lastTopUpAt: Date | null;
  lastTopUpMinor: bigint | null;
  lastTopUpBalanceMinor: bigint | null;
  /** The latest failed automatic top-up. */
  lastPaymentFailureAt: Date | null;
  warnedDepletionDate: string | null;
}

interface ProfileRow {
  tenant_id: string;
  partner_id: string | null;
  created_at: Date | null;
  currency: string | null;
  balance_minor: string | null;
  balance_version: number;
  overdraft_limit_minor: string;
  auto_top_up: AutoTopUpSnapshot | null;
  last_top_up_at: Date | null;
  last_top_up_minor: string | null;
  last_top_up_balance_minor: string | null;
  last_failure_at: Date | null;
  warned_depletion_date: string | null;
}

const ENSURE = `insert into tenant_profile (tenant_id, updated_at) values (?, now()) on conflict (tenant_id) do nothing`;

/** The newest balance per tenant of a batch; an older version (a redelivery, a reordering) never wins. */
const UPSERT_BALANCES = `insert into tenant_profile (tenant_id, currency, balance_minor, balance_version, balance_at, last_top_up_at, last_top_up_minor, last_top_up_balance_minor, updated_at)
  select b.tenant_id, b.currency, b.balance_minor, b.version, b.changed_at, b.top_up_at, b.top_up_minor, b.top_up_balance_minor, now()
    from jsonb_to_recordset(?::jsonb) as b(tenant_id uuid, currency text, balance_minor bigint, version int, changed_at timestamptz, top_up_at timestamptz,
                                          top_up_minor bigint, top_up_balance_minor bigint)
  on conflict (tenant_id) do update set
    currency = excluded.currency,
    balance_minor = case when tenant_profile.balance_version < excluded.balance_version then excluded.balance_minor else tenant_profile.balance_minor end,
    balance_at = case when tenant_profile.balance_version < excluded.balance_version then excluded.balance_at else tenant_profile.balance_at end,
    balance_version = greatest(tenant_profile.balance_version, excluded.balance_version),
    last_top_up_at = case when excluded.last_top_up_at is not null and (tenant_profile.last_top_up_at is null or tenant_profile.last_top_up_at < excluded.last_top_up_at)
                          then excluded.last_top_up_at else tenant_profile.last_top_up_at end,
    last_top_up_minor = case when excluded.last_top_up_at is not null and (tenant_profile.last_top_up_at is null or tenant_profile.last_top_up_at < excluded.last_top_up_at)
                          then excluded.last_top_up_minor else tenant_profile.last_top_up_minor end,
    last_top_up_balance_minor = case when excluded.last_top_up_at is not null and (tenant_profile.last_top_up_at is null or tenant_profile.last_top_up_at < excluded.last_top_up_at)
                          then excluded.last_top_up_balance_minor else tenant_profile.last_top_up_balance_minor end,
    updated_at = now()`;

/**
 * Keeps `tenant_profile` from events: tenant.created (creation time, partner, currency), balance.changed (balance,
 * newest version wins; top-up credits), billing's account settings (overdraft limit, auto-top-up rule), and
 * auto_top_up.failed (payment_failure rows). Every update is idempotent, so redeliveries change nothing.
 */
export class TenantProfileService {
  /** Recently read profiles for the forecast's hot path (`getRecent`), dropped whenever this instance writes one. */
  private readonly recent = new Map<string, { view: TenantProfileView | undefined; readAt: number }>();
  /** Bumped by every write: a read that overlapped one does not enter `recent` (it may hold the old row). */
  private writes = 0;

  constructor(
    private readonly db: ShardedDatabase,
    private readonly now: () => number = Date.now,
  ) {}

  /** `onBalances` is told the tenants whose balance or account settings just changed (after they are stored). */
  subscribe(bus: EventBus, onBalances?: (tenantIds: string[]) => void): Unsubscribe[] {
    return [
      bus.subscribe(Topic.TenantEvents, `${PROFILE_GROUP}.tenants`, (event) => this.forgettingOnFailure(() => this.onTenantEvent(event))),
      bus.subscribeBatch(Topic.BalanceEvents, `${PROFILE_GROUP}.balances`, async (events) => {
        const tenants = await this.forgettingOnFailure(() => this.onBalanceEvents(events));
        if (tenants.length > 0) onBalances?.(tenants);
      }),
      bus.subscribe(Topic.NotificationEvents, `${PROFILE_GROUP}.payment-failures`, (event) => this.forgettingOnFailure(() => this.onNotification(event))),
    ];
  }

  /**
   * `get`, answered from profiles read at most `maxAgeMs` ago. Tenant.forecast reads a profile per request; at
   * hundreds of requests a second that one query per request was the subgraph's only database work on a cached
   * forecast. Writes through this instance's own event handlers drop the entry at once (and a read overlapping a
   * write is not kept), so one instance is never stale; another instance sees an overdraft limit, auto-top-up rule
   * or payment failure at most `maxAgeMs` late. The balance itself reaches forecasts through the graph (@requires).
   */
  async getRecent(tenantIds: readonly string[], maxAgeMs: number): Promise<Map<string, TenantProfileView>> {
    const profiles = new Map<string, TenantProfileView>();
    const missing: string[] = [];
    const now = this.now();
    for (const tenantId of new Set(tenantIds)) {
      const entry = this.recent.get(tenantId);
      if (entry && now - entry.readAt <= maxAgeMs) {
        if (entry.view) profiles.set(tenantId, entry.view);
      } else missing.push(tenantId);
    }
    if (missing.length === 0) return profiles;
    const writes = this.writes;
    const read = await this.get(missing);
    const keep = writes === this.writes;
    for (const tenantId of missing) {
      const view = read.get(tenantId);
      if (view) profiles.set(tenantId, view);
      if (keep) this.recent.set(tenantId, { view, readAt: now });
    }
    // Bounded like the forecast cache: the tenant base at most, oldest first.
    while (this.recent.size > 100_000) this.recent.delete(this.recent.keys().next().value!);
    return profiles;
  }

  /** A handler that failed part-way may have committed some rows: nothing read before it is trusted any more. */
  private async forgettingOnFailure<T>(handle: () => Promise<T>): Promise<T> {
    try {
      return await handle();
    } catch (error) {
      this.writes += 1;
      this.recent.clear();
      throw error;
    }
  }

  private forget(tenantIds: Iterable<string>): void {
    this.writes += 1;
    for (const tenantId of tenantIds) this.recent.delete(tenantId);
  }

  async get(tenantIds: readonly string[]): Promise<Map<string, TenantProfileView>> {
    const profiles = new Map<string, TenantProfileView>();
    const groups = await this.db.groupByShard([...new Set(tenantIds)]);
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db.em(shardId).execute<ProfileRow[]>(
          `select p.tenant_id, partner_id, created_at, currency, balance_minor::text, balance_version, overdraft_limit_minor::text, auto_top_up,
                  last_top_up_at, last_top_up_minor::text, last_top_up_balance_minor::text,
                  (select max(failed_at) from payment_failure f where f.tenant_id = p.tenant_id) as last_failure_at,
                  to_char(warned_depletion_date, 'YYYY-MM-DD') as warned_depletion_date
             from tenant_profile p where tenant_id in (?)`,
          [ids],
        );
        for (const row of rows) profiles.set(row.tenant_id, toView(row));
      }),
    );
    return profiles;
  }

  private async onTenantEvent(event: EventEnvelope): Promise<void> {
    const created = decode(TenantCreated, event);
    if (!created) return;
    await this.db.forTenant(
      created.tenantId,
      (em) =>
        em.execute(
          `insert into tenant_profile (tenant_id, partner_id, created_at, currency, updated_at) values (?, ?, ?, ?, now())
           on conflict (tenant_id) do update set partner_id = excluded.partner_id, created_at = excluded.created_at,
             currency = coalesce(tenant_profile.currency, excluded.currency), updated_at = now()`,
          [created.tenantId, created.partnerId, new Date(event.occurredAt), created.currency],
          'run',
        ),
      { place: true, partnerId: created.partnerId },
    );
    this.forget([created.tenantId]);
  }

  private async onBalanceEvents(events: readonly EventEnvelope[]): Promise<string[]> {
    const touched = new Set<string>();
    type Row = {
      tenant_id: string;
      currency: string;
      balance_minor: string;
      version: number;
      changed_at: string;
      top_up_at: string | null;
      top_up_minor: string | null;
      top_up_balance_minor: string | null;
    };
    const balances = new Map<string, Row>();
    for (const event of events) {
      const changed = decode(BalanceChanged, event);
      if (changed) {
        touched.add(changed.tenantId);
        const current = balances.get(changed.tenantId);
        const topUp = changed.entry?.type === 'TOP_UP' ? { at: changed.changedAt, minor: changed.entry.amountMinor, balance: changed.balanceMinor } : null;
        if (!current || current.version < changed.version) {
          balances.set(changed.tenantId, {
            tenant_id: changed.tenantId,
            currency: changed.currency,
            balance_minor: changed.balanceMinor,
            version: changed.version,
            changed_at: changed.changedAt,
            top_up_at: topUp?.at ?? current?.top_up_at ?? null,
            top_up_minor: topUp?.minor ?? current?.top_up_minor ?? null,
            top_up_balance_minor: topUp?.balance ?? current?.top_up_balance_minor ?? null,
          });
        } else if (topUp && (!current.top_up_at || current.top_up_at < topUp.at)) {
          current.top_up_at = topUp.at;
          current.top_up_minor = topUp.minor;
          current.top_up_balance_minor = topUp.balance;
        }
        continue;
      }
      const overdraft = decode(OverdraftPolicyChanged, event);
      if (overdraft) {
        touched.add(overdraft.tenantId);
        await this.onTenant(overdraft.tenantId, (em) =>
          em.execute(
            `update tenant_profile set overdraft_limit_minor = ?, updated_at = now() where tenant_id = ?`,
            [overdraft.limitMinor, overdraft.tenantId],
            'run',
          ),
        );
        continue;
      }
      const rule = decode(AutoTopUpChanged, event);
      if (rule) {
        touched.add(rule.tenantId);
        const snapshot: AutoTopUpSnapshot = {
          enabled: rule.enabled,
          thresholdMinor: rule.thresholdMinor,
          mode: rule.mode,
          amountMinor: rule.amountMinor,
          dailyCapMinor: rule.dailyCapMinor,
          paymentMethodId: rule.paymentMethodId,
        };
        await this.onTenant(rule.tenantId, (em) =>
          em.execute(
            `update tenant_profile set auto_top_up = ?::jsonb, updated_at = now() where tenant_id = ?`,
            [JSON.stringify(snapshot), rule.tenantId],
            'run',
          ),
        );
      }
    }
    this.forget(touched);
    if (balances.size === 0) return [...touched];
    await this.db.forTenants(
      [...balances.keys()],
      (em, _shardId, tenantIds) => em.execute(UPSERT_BALANCES, [JSON.stringify(tenantIds.map((tenantId) => balances.get(tenantId)))], 'run'),
      { place: true },
    );
    this.forget(balances.keys());
    return [...touched];
  }

  private async onNotification(event: EventEnvelope): Promise<void> {
    const failed = decode(AutoTopUpFailed, event);
    if (!failed) return;
    await this.db.forTenant(
      failed.tenantId,
      (em) =>
        em.execute(
          `insert into payment_failure (attempt_id, tenant_id, failed_at, failure_code, decline_code) values (?, ?, ?, ?, ?) on conflict (attempt_id) do nothing`,
          [failed.attemptId, failed.tenantId, new Date(failed.failedAt), failed.failureCode, failed.declineCode],
          'run',
        ),
      { place: true },
    );
    this.forget([failed.tenantId]);
  }

  /** Runs `update` on the tenant's shard after making sure its profile row exists. */
  private async onTenant(tenantId: string, update: (em: ReturnType<ShardedDatabase['em']>) => Promise<unknown>): Promise<void> {
    await this.db.forTenant(
      tenantId,
      async (em) => {
        await em.execute(ENSURE, [tenantId], 'run');
        await update(em);
      },
      { place: true },
    );
  }
}

function toView(row: ProfileRow): TenantProfileView {
  return {
    tenantId: row.tenant_id,
    partnerId: row.partner_id,
    createdAt: row.created_at ? new Date(row.created_at) : null,
    currency: row.currency,
    balanceMinor: row.balance_minor === null ? null : BigInt(row.balance_minor),
    balanceVersion: row.balance_version,
    overdraftLimitMinor: BigInt(row.overdraft_limit_minor),
    autoTopUp: row.auto_top_up,
    lastTopUpAt: row.last_top_up_at ? new Date(row.last_top_up_at) : null,
    lastTopUpMinor: row.last_top_up_minor === null ? null : BigInt(row.last_top_up_minor),
    lastTopUpBalanceMinor: row.last_top_up_balance_minor === null ? null : BigInt(row.last_top_up_balance_minor),
    lastPaymentFailureAt: row.last_failure_at ? new Date(row.last_failure_at) : null,
    warnedDepletionDate: row.warned_depletion_date,
  };
}
