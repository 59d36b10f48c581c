import { DepletionSoon, OUTBOX_INSERT, outboxRow, type OutboxRelay } from '@saldo/events';
import type { ShardedDatabase } from '@saldo/sharding';
import { dayNumber, utcDay } from '../domain/days.js';
import type { ForecastService } from './forecast-service.js';

/**
 * forecast.depletion_soon: after balance changes (and in the hourly sweep), tenants whose balance is forecast to run
 * out within `warningDays` are told once per depletion date: the date warned about is stored on the tenant's profile
 * in the same statement that writes the event, so a repeat or a concurrent check sends nothing. A tenant whose date
 * moved out of the window is forgotten, so a later approach warns again.
 */
export class DepletionNotifier {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly forecasts: ForecastService,
    private readonly relay: Pick<OutboxRelay, 'poke'>,
    private readonly warningDays: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Checks the tenants; returns those warned now. */
  async check(tenantIds: readonly string[]): Promise<string[]> {
    const unique = [...new Set(tenantIds)];
    if (unique.length === 0) return [];
    const now = this.now();
    const today = dayNumber(utcDay(now));
    const forecasts = await this.forecasts.forecast(unique.map((tenantId) => ({ tenantId, days: 1 })));
    const warned: string[] = [];
    for (const forecast of forecasts) {
      // Through the directory: a tenant that moved shards meanwhile is written (and warned once) on its new shard.
      const didWarn = await this.db.forTenantIfPlaced(forecast.tenantId, async (em) => {
        const depletion = forecast.depletion;
        const daysLeft = depletion ? dayNumber(depletion.date) - today : Number.POSITIVE_INFINITY;
        if (!depletion || daysLeft > this.warningDays) {
          await em.execute(
            'update tenant_profile set warned_depletion_date = null where tenant_id = ? and warned_depletion_date is not null',
            [forecast.tenantId],
            'run',
          );
          return false;
        }
        const [profile] = await em.execute<{ currency: string | null; balance_minor: string | null }[]>(
          'select currency, balance_minor::text from tenant_profile where tenant_id = ?',
          [forecast.tenantId],
        );
        if (!profile?.currency || profile.balance_minor === null) return false;
        const event = outboxRow(DepletionSoon, forecast.tenantId, {
          tenantId: forecast.tenantId,
          currency: profile.currency,
          balanceMinor: profile.balance_minor,
          depletionDate: depletion.date,
          earliest: depletion.earliest,
          latest: depletion.latest,
          daysLeft,
          confidence: depletion.confidence,
          modelVersion: forecast.model.version,
          computedAt: now.toISOString(),
        });
        const [row] = await em.execute<{ warned: number }[]>(
          `with updated as (
           update tenant_profile set warned_depletion_date = ?::date, updated_at = now()
            where tenant_id = ? and warned_depletion_date is distinct from ?::date returning tenant_id
         ), events as (${OUTBOX_INSERT.replace('from jsonb_array_elements(?::jsonb)', 'from updated, jsonb_array_elements(?::jsonb)')} returning 1)
         select count(*)::int as warned from updated`,
          [depletion.date, forecast.tenantId, depletion.date, JSON.stringify([event])],
        );
        return (row?.warned ?? 0) > 0;
      });
      if (didWarn) warned.push(forecast.tenantId);
    }
    if (warned.length > 0) this.relay.poke();
    return warned;
  }

  /** Every tenant with a known balance (the hourly sweep: dates move as days pass without balance changes). */
  async sweep(): Promise<number> {
    let warned = 0;
    for (const shardId of this.db.shardIds) {
      const rows = await this.db.em(shardId).execute<{ tenant_id: string }[]>('select tenant_id from tenant_profile where balance_minor is not null');
      for (let index = 0; index < rows.length; index += 500) warned += (await this.check(rows.slice(index, index + 500).map((row) => row.tenant_id))).length;
    }
    return warned;
  }
}
