import { Topic, UsageRecorded, consumeOnceMany, decode, type EventBus, type EventEnvelope, type PayloadOf, type Unsubscribe } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase, ShardId } from '@saldo/sharding';
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
    const byShard = await placeByShard(db, recorded);
    await Promise.all(
      [...byShard].map(async ([shardId, batch]) => {
        const result = await consumeOnceMany(
          db.em(shardId),
          USAGE_AGGREGATOR_GROUP,
          batch.map(({ event }) => event.id),
          async (tx, fresh) => {
            const applied = batch.filter(({ event }) => fresh.has(event.id)).map(({ payload }) => payload);
            await usage.recordMany(applied.flatMap(usageRows), { transaction: tx });
            await recordHoursAndPrices(tx, applied.flatMap(hourRows), applied.flatMap(priceRows));
          },
        );
        if (result.applied.size > 0) onApplied?.(batch.filter(({ event }) => result.applied.has(event.id)).map(({ payload }) => payload));
        const skipped = batch.length - result.applied.size;
        if (skipped > 0) logger.debug('usage events already aggregated', { skipped, shardId });
      }),
    );
  });
}

type Recorded = { event: EventEnvelope; payload: PayloadOf<typeof UsageRecorded> };

/** Groups events by their tenant's shard (placing tenants seen for the first time). */
async function placeByShard(db: ShardedDatabase, recorded: readonly Recorded[]): Promise<Map<ShardId, Recorded[]>> {
  const shardOf = await db.placeMany(recorded.map(({ payload }) => payload.tenantId));
  const byShard = new Map<ShardId, Recorded[]>();
  for (const item of recorded) {
    const shardId = shardOf.get(item.payload.tenantId)!;
    const group = byShard.get(shardId);
    if (group) group.push(item);
    else byShard.set(shardId, [item]);
  }
  return byShard;
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
