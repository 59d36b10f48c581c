import type { EntityManager } from '@mikro-orm/postgresql';
import { deleteOutboxEventsPublishedBefore } from '@saldo/events';
import { defineQueue, schedule, work, type JobSchedule, type JobWorker } from '@saldo/jobs';
import type { ServiceMetrics } from '@saldo/observability';
import type { Logger } from '@saldo/service';
import { movingTenantCondition, type ShardedDatabase } from '@saldo/sharding';
import { outboxDatabases } from './outbox-databases.js';

/**
 * Every subgraph's outbox retention: published events older than OUTBOX_RETENTION_HOURS are deleted from its control
 * database's outbox and every shard's, by a durable job in the subgraph's own queue (once across instances; a pass a
 * restart cut short is finished by the next one). `exclusive`: a slow pass never overlaps the next occurrence. A
 * failed pass is retried a little later, and the next occurrence comes within the hour anyway.
 */
export const OUTBOX_RETENTION_QUEUE = defineQueue<Record<string, never>>({
  name: 'outbox.retention',
  policy: 'exclusive',
  expireInSeconds: 3600,
  retry: { limit: 2, delaySeconds: 60, backoff: true },
});

export interface OutboxRetentionSettings {
  /** Published events are kept this many hours after their publication; 0 keeps them forever. */
  hours: number;
  /** Rows per delete statement. */
  batchSize: number;
}

/** The recurring pass; none when the retention is 0 (the queue's schedules are exactly those listed, so it stops). */
export function outboxRetentionSchedules(settings: OutboxRetentionSettings, cron: string): JobSchedule[] {
  return settings.hours > 0 ? [schedule(OUTBOX_RETENTION_QUEUE, { cron, data: {}, missed: 'skip' })] : [];
}

/** Counts the deleted events per database (control, shard-N); never per tenant. */
function deletedCounter(metrics: ServiceMetrics) {
  return metrics.counter({
    name: 'saldo_outbox_retention_deleted_total',
    help: 'Published outbox events deleted by the retention pass (OUTBOX_RETENTION_HOURS), per database (control, shard-N).',
    labelNames: ['database'],
  });
}

/** A shard's events of tenants with a move marker there stay (see pruneOutboxes). */
const spareMovingTenants = (tx: EntityManager) => movingTenantCondition(tx, 'o.key');

/** Per database (control, shard-N), the events one pass deleted. */
export type OutboxRetentionResult = Record<string, number>;

/**
 * One retention pass: the control database's outbox, then each shard's, one after the other (they may share a server),
 * each in batches. On a shard the rows of tenants with a shard move marker stay (see movingTenantCondition: a move
 * compares the tenant's rows on both shards, and the outbox's deletions are not captured); the next pass after the move
 * takes them (the target's copies, once the tenant is there) or the move's cleanup does (the source's). The control
 * database's outbox holds no tenant's rows and never moves. Logs one line with the counts.
 */
export async function pruneOutboxes(
  db: ShardedDatabase,
  settings: OutboxRetentionSettings,
  options: { now?: Date; logger: Logger; metrics?: ServiceMetrics; signal?: AbortSignal },
): Promise<OutboxRetentionResult> {
  const deleted: OutboxRetentionResult = {};
  if (settings.hours <= 0) return deleted;
  const begun = performance.now();
  const publishedBefore = new Date((options.now ?? new Date()).getTime() - settings.hours * 3_600_000);
  const counter = options.metrics ? deletedCounter(options.metrics) : undefined;
  for (const source of outboxDatabases(db)) {
    const count = await deleteOutboxEventsPublishedBefore(source.em(), {
      publishedBefore,
      batchSize: settings.batchSize,
      spare: source.shard ? spareMovingTenants : undefined,
      signal: options.signal,
      // Per batch, so a pass cut short still counts what it deleted.
      onDeleted: (batch) => counter?.inc({ database: source.name }, batch),
    });
    deleted[source.name] = count;
  }
  options.logger.info('outbox retention pass', {
    deleted: Object.values(deleted).reduce((sum, count) => sum + count, 0),
    databases: deleted,
    publishedBefore: publishedBefore.toISOString(),
    ms: Math.round(performance.now() - begun),
  });
  return deleted;
}

/** Runs a pass per job; its output is the per-database counts. */
export function outboxRetentionWorker(db: ShardedDatabase, settings: OutboxRetentionSettings, metrics: ServiceMetrics): JobWorker<Record<string, never>> {
  // Registered now, so /metrics names the counter before the first pass.
  deletedCounter(metrics);
  return work(OUTBOX_RETENTION_QUEUE, async (job) => ({
    deleted: await pruneOutboxes(db, settings, { logger: job.logger, metrics, signal: job.signal }),
  }));
}
