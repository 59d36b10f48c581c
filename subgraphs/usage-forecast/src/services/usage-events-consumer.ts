import { Topic, UsageRecorded, consumeOnceMany, decode, type EventBus, type PayloadOf, type Unsubscribe } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { recordHoursAndPrices, type HourlyRecord, type PriceRecord, type UsageRecord, type UsageService } from './usage-service.js';

export const USAGE_AGGREGATOR_GROUP = 'usage-forecast.daily-aggregates';

/**
 * Billing's `usage.recorded` (charged usage) feeds the daily aggregates. Adding is not idempotent by itself, so
 * events are applied through consumeOnceMany in the same transaction as the aggregate update: a redelivered
 * event (Kafka at-least-once, relay retries) never counts twice. Events arrive in batches (whatever the relay
 * or a Kafka fetch brought together) and cost one transaction per shard per batch, not one per event: under
 * load the aggregation keeps up with the ledger instead of holding back the events behind it.
 */
export function subscribeUsageAggregator(
  bus: EventBus,
  db: ShardedDatabase,
  usage: UsageService,
  logger: Logger,
  /** Told of the usage batches just aggregated (after commit): anomaly and fraud checks, forecast cache. */
  onApplied?: (recorded: ReadonlyArray<PayloadOf<typeof UsageRecorded>>) => void,
): Unsubscribe {
  return bus.subscribeBatch(Topic.UsageEvents, USAGE_AGGREGATOR_GROUP, async (events) => {
    const recorded = events.flatMap((event) => {
      const payload = decode(UsageRecorded, event);
      return payload ? [{ event, payload }] : [];
    });
    if (recorded.length === 0) return;
    // One transaction per shard; a shard's batch refused because one of its tenants moved meanwhile (nothing of it
    // applied) runs again for those tenants where they are now, with its consumed-event records.
    await db.forTenants(
      recorded.map(({ payload }) => payload.tenantId),
      async (em, shardId, tenantIds) => {
        const members = new Set(tenantIds);
        const batch = recorded.filter(({ payload }) => members.has(payload.tenantId));
        const result = await consumeOnceMany(
          em,
          USAGE_AGGREGATOR_GROUP,
          // Each record names its tenant: it moves with the tenant's aggregates when the tenant changes shards.
          batch.map(({ event, payload }) => ({ id: event.id, tenantId: payload.tenantId })),
          async (tx, fresh) => {
            const applied = batch.filter(({ event }) => fresh.has(event.id)).map(({ payload }) => payload);
            await usage.recordMany(applied.flatMap(usageRows), { transaction: tx });
            await recordHoursAndPrices(tx, applied.flatMap(hourRows), applied.flatMap(priceRows));
          },
        );
        if (result.applied.size > 0) onApplied?.(batch.filter(({ event }) => result.applied.has(event.id)).map(({ payload }) => payload));
        const skipped = batch.length - result.applied.size;
        if (skipped > 0) logger.debug('usage events already aggregated', { skipped, shardId });
      },
      { place: true },
    );
  });
}

function usageRows(recorded: PayloadOf<typeof UsageRecorded>): UsageRecord[] {
  return recorded.events.map((entry) => ({
    tenantId: recorded.tenantId,
    day: entry.occurredAt.slice(0, 10),
    product: entry.product,
    quantity: BigInt(entry.quantity),
  }));
}

function hourRows(recorded: PayloadOf<typeof UsageRecorded>): HourlyRecord[] {
  return recorded.events.map((entry) => ({ tenantId: recorded.tenantId, at: new Date(entry.occurredAt), quantity: BigInt(entry.quantity) }));
}

function priceRows(recorded: PayloadOf<typeof UsageRecorded>): PriceRecord[] {
  return recorded.events.map((entry) => ({
    tenantId: recorded.tenantId,
    product: entry.product,
    unitPriceMicros: BigInt(entry.unitPriceMicros),
    rateId: entry.rateId,
    chargedAt: new Date(entry.occurredAt),
  }));
}
