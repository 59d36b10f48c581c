import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Rows one retention statement deletes at most. Each batch is its own short transaction: row locks held for
 * milliseconds, no transaction that deletes millions of rows at once (its WAL, its dead rows kept from vacuum until
 * it ends), and a pass cut short (a stop, an expired job) keeps what it deleted.
 */
export const OUTBOX_RETENTION_BATCH_SIZE = 5_000;

export interface OutboxRetentionOptions {
  /** Published events whose publication is before this instant go; unpublished ones never do, however old. */
  publishedBefore: Date;
  /** Rows per delete statement (default OUTBOX_RETENTION_BATCH_SIZE). */
  batchSize?: number;
  /**
   * Rows to leave in place besides the unpublished ones: a SQL condition on the outbox row (alias `o`), asked for anew
   * in each batch's transaction just before its delete, so it may depend on what that transaction sees (the shard
   * move markers on a shard: see `movingTenantCondition` in @saldo/sharding).
   */
  spare?: (tx: EntityManager) => Promise<string | undefined>;
  /** Checked before each batch: a pass stopped here leaves the rest to the next one (the deletion is idempotent). */
  signal?: AbortSignal;
  /** Told each batch's count once it committed (metrics count what a pass cut short did delete). */
  onDeleted?: (count: number) => void;
}

/**
 * Deletes the outbox's events published before `publishedBefore`, in batches of `batchSize` rows, and returns how many
 * went. Nothing reads a published event but a shard move (which copies a moving tenant's: `spare` keeps those) and a
 * restore's replay of the last minutes before a backup (BACKUP_REPLAY_MINUTES, far shorter than any retention): the
 * bus has them, and consumers deduplicate by event id.
 *
 * A batch picks its rows through the published_at index and deletes them by their physical address (`ctid`, a TID
 * scan) in the same statement. By primary key (`where id in (select id ... limit n)`) PostgreSQL planned a hash
 * semi-join over a sequential scan of the whole table (1,000,000 rows) for every batch.
 */
export async function deleteOutboxEventsPublishedBefore(em: EntityManager, options: OutboxRetentionOptions): Promise<number> {
  const batchSize = options.batchSize ?? OUTBOX_RETENTION_BATCH_SIZE;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`Outbox retention batch size must be a positive integer, not ${batchSize}`);
  const before = options.publishedBefore.toISOString();
  let deleted = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const count = await em.transactional(async (tx) => {
      const spare = await options.spare?.(tx);
      const [row] = await tx.execute<Array<{ count: string }>>(
        `with gone as (
           delete from outbox_event where ctid = any(array(
             select o.ctid from outbox_event o
              where o.published_at is not null and o.published_at < ?::timestamptz ${spare ? `and not (${spare})` : ''}
              limit ?))
           returning 1)
         select count(*)::text as count from gone`,
        [before, batchSize],
      );
      return Number(row?.count ?? 0);
    });
    deleted += count;
    if (count > 0) options.onDeleted?.(count);
    if (count < batchSize) return deleted;
  }
}
