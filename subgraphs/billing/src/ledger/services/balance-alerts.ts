import { BalanceAlertsConfigured, BalanceDepleted, BalanceLow, Topic, decode, outboxRow, type EventBus, type OutboxRow, type Unsubscribe } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';

/** Consumer group keeping billing's copy of low-balance thresholds (the tenants subgraph owns the settings). */
export const BALANCE_ALERTS_GROUP = 'billing.balance-alerts';

/**
 * `balance.low` and `balance.depleted` for one posting, decided under the account's row lock (postings of an account
 * run one at a time), so each downward crossing is announced exactly once, whatever the number of debits below it:
 * - depleted: the balance went from above zero to zero or below;
 * - otherwise low: it went from above one of the tenant's thresholds to at or below it (the lowest crossed is named).
 * A credit that lifts the balance above a threshold re-arms it: the next crossing is announced again.
 */
export function balanceAlertEvents(
  posting: { tenantId: string; currency: string; previousMinor: bigint; balanceMinor: bigint; version: number; at: Date },
  thresholdsMinor: readonly bigint[],
): OutboxRow[] {
  const { tenantId, currency, previousMinor, balanceMinor, version, at } = posting;
  if (balanceMinor >= previousMinor) return [];
  const common = { tenantId, currency, balanceMinor: balanceMinor.toString(), previousBalanceMinor: previousMinor.toString(), version };
  if (previousMinor > 0n && balanceMinor <= 0n) return [outboxRow(BalanceDepleted, tenantId, { ...common, depletedAt: at.toISOString() }, at)];
  const crossed = thresholdsMinor.filter((threshold) => previousMinor > threshold && balanceMinor <= threshold);
  if (crossed.length === 0) return [];
  const lowest = crossed.reduce((min, threshold) => (threshold < min ? threshold : min));
  return [outboxRow(BalanceLow, tenantId, { ...common, thresholdMinor: lowest.toString(), crossedAt: at.toISOString() }, at)];
}

/**
 * Keeps `balance_alert_rule` (tenant's thresholds, read with the account row at posting) in step with
 * `balance_alerts.configured`; an older revision than the stored one changes nothing (replays, reordering).
 */
export function subscribeBalanceAlerts(bus: EventBus, db: ShardedDatabase, logger: Logger): Unsubscribe {
  return bus.subscribe(Topic.TenantEvents, BALANCE_ALERTS_GROUP, async (event) => {
    const configured = decode(BalanceAlertsConfigured, event);
    if (!configured) return;
    // Placement is idempotent (the tenant registry records its partner whichever comes first).
    await db.forTenant(
      configured.tenantId,
      (em) =>
        em.execute(
          `insert into balance_alert_rule (tenant_id, currency, thresholds_minor, revision, updated_at) values (?, ?, ?::jsonb, ?, now())
           on conflict (tenant_id) do update set currency = excluded.currency, thresholds_minor = excluded.thresholds_minor, revision = excluded.revision,
             updated_at = excluded.updated_at
            where balance_alert_rule.revision < excluded.revision`,
          [configured.tenantId, configured.currency, JSON.stringify(configured.thresholdsMinor), configured.revision],
        ),
      { place: true },
    );
    logger.debug('balance alert thresholds', { tenant: configured.tenantId, thresholds: configured.thresholdsMinor });
  });
}
