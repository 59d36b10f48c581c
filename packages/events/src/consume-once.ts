import { PrimaryKeyProp } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Migration } from '@mikro-orm/migrations';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Which events a consumer group has applied, on the database its effects write to. A row is inserted in the
 * same transaction as the effect, so "applied" and "recorded" commit together: a re-delivered event (Kafka
 * after a crash before the offset commit, a relay re-sending after a crash before marking rows published)
 * finds its row and is skipped.
 */
@Entity({ tableName: 'consumed_event' })
export class ConsumedEvent {
  [PrimaryKeyProp]?: ['consumerGroup', 'eventId'];

  @PrimaryKey({ type: 'text' })
  consumerGroup!: string;

  @PrimaryKey({ type: 'uuid' })
  eventId!: string;

  @Property({ type: 'timestamptz' })
  consumedAt!: Date;
}

/** Add to the shard migrations (and `ConsumedEvent` to the shard entities) of every subgraph that consumes events. */
export class Migration20261125000100ConsumedEvent extends Migration {
  override name = 'Migration20261125000100ConsumedEvent';

  override up(): void {
    this.addSql(`create table "consumed_event" (
      "consumer_group" text not null,
      "event_id" uuid not null,
      "consumed_at" timestamptz not null,
      constraint "consumed_event_pkey" primary key ("consumer_group", "event_id")
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "consumed_event";');
  }
}

export type ConsumeResult<T> = { applied: true; value: T } | { applied: false };

/**
 * Applies `effect` at most once per (consumer group, event id): in one transaction on `em`'s database, records
 * the event as consumed and runs the effect. A duplicate delivery (already recorded) skips the effect and
 * returns `{ applied: false }`. Two concurrent deliveries of one event serialize on the primary key: the
 * second waits for the first and then skips it (or applies it, if the first rolled back). If the effect
 * throws, nothing is recorded and the event is applied on its next delivery.
 *
 * The effect must write through `tx` (the transaction's EntityManager) so both commit together.
 */
export async function consumeOnce<T>(em: EntityManager, group: string, eventId: string, effect: (tx: EntityManager) => Promise<T>): Promise<ConsumeResult<T>> {
  return em.transactional(async (tx) => {
    const inserted = await tx.execute<{ event_id: string }[]>(
      'insert into consumed_event (consumer_group, event_id, consumed_at) values (?, ?, now()) on conflict do nothing returning event_id',
      [group, eventId],
    );
    if (inserted.length === 0) return { applied: false } as const;
    return { applied: true, value: await effect(tx) } as const;
  });
}

/**
 * `consumeOnce` for a batch: in one transaction on `em`'s database, records every event of `eventIds` not yet
 * consumed by `group` and runs `effect` with exactly those (in input order). Events recorded earlier are skipped;
 * if the effect throws, nothing of the batch is recorded. One round trip for the bookkeeping, whatever the size.
 */
export async function consumeOnceMany<T>(
  em: EntityManager,
  group: string,
  eventIds: readonly string[],
  effect: (tx: EntityManager, fresh: ReadonlySet<string>) => Promise<T>,
): Promise<{ applied: ReadonlySet<string>; value: T | undefined }> {
  if (eventIds.length === 0) return { applied: new Set(), value: undefined };
  // PostgreSQL answers uuids in canonical lower case; map them back to the ids as the caller spelled them.
  const byCanonical = new Map(eventIds.map((id) => [id.toLowerCase(), id]));
  return em.transactional(async (tx) => {
    const inserted = await tx.execute<{ event_id: string }[]>(
      `insert into consumed_event (consumer_group, event_id, consumed_at)
       select ?, id, now() from unnest(?::uuid[]) as ids(id)
       on conflict do nothing returning event_id`,
      // Sorted: concurrent overlapping batches take their row locks in one order (no deadlock).
      [group, `{${[...byCanonical.keys()].sort().join(',')}}`],
    );
    const fresh = new Set(inserted.map((row) => byCanonical.get(row.event_id) ?? row.event_id));
    if (fresh.size === 0) return { applied: fresh, value: undefined };
    return { applied: fresh, value: await effect(tx, fresh) };
  });
}
