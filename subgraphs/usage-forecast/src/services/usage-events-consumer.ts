import { Topic, UsageRecorded, consumeOnce, decode, type EventBus, type Unsubscribe } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import type { UsageRecord, UsageService } from './usage-service.js';

export const USAGE_AGGREGATOR_GROUP = 'usage-forecast.daily-aggregates';

/**
 * Billing's `usage.recorded` (charged usage) feeds the daily aggregates. Adding is not idempotent by itself, so
 * each event is applied through consumeOnce in the same transaction as the aggregate update: a redelivered
 * event (Kafka at-least-once, relay retries) never counts twice.
 */
export function subscribeUsageAggregator(bus: EventBus, db: ShardedDatabase, usage: UsageService, logger: Logger): Unsubscribe {
  return bus.subscribe(Topic.UsageEvents, USAGE_AGGREGATOR_GROUP, async (event) => {
    const recorded = decode(UsageRecorded, event);
    if (!recorded) return;
    const rows: UsageRecord[] = recorded.events.map((entry) => ({
      tenantId: recorded.tenantId,
      day: entry.occurredAt.slice(0, 10),
      product: entry.product,
      quantity: BigInt(entry.quantity),
    }));
    const { em } = await db.placeTenant(recorded.tenantId);
    const result = await consumeOnce(em, USAGE_AGGREGATOR_GROUP, event.id, (tx) => usage.recordMany(rows, { transaction: tx }));
    if (!result.applied) logger.debug('usage event already aggregated', { id: event.id });
  });
}
