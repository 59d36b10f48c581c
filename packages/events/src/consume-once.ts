import { PrimaryKeyProp } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Migration } from '@mikro-orm/migrations';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Which events a consumer group has applied, on the database its effects write to. A row is inserted in the
 * same transaction as the effect, so "applied" and "recorded" commit together: a re-delivered event (Kafka
 * after a crash before the offset commit, a relay re-sending after a crash before marking rows published)
 * finds its row and is skipped. `tenantId` names the tenant whose rows the effect wrote (on a shard): the record
 * moves with the tenant's rows when the tenant moves to another shard, so a redelivery there is skipped too.
 */
@Entity({ tableName: 'consumed_event' })
@Index({
  name: 'consumed_event_tenant_key_unique',
  expression: 'create unique index "consumed_event_tenant_key_unique" on "consumed_event" ("tenant_id", "consumer_group", "event_id")',
})
export class ConsumedEvent {
  [PrimaryKeyProp]?: ['consumerGroup', 'eventId'];

  @PrimaryKey({ type: 'text' })
  consumerGroup!: string;

  @PrimaryKey({ type: 'uuid' })
  eventId!: string;

  @Property({ type: 'timestamptz' })
  consumedAt!: Date;

  @Property({ type: 'uuid', nullable: true })
  tenantId?: string | null;
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

/**
 * The tenant a consumed event's effect belongs to (its records move with the tenant between shards). Add to the shard
 * migrations after Migration20261125000100ConsumedEvent.
 */
export class Migration20261129002000ConsumedEventTenant extends Migration {
  override name = 'Migration20261129002000ConsumedEventTenant';

  override up(): void {
    this.addSql('alter table "consumed_event" add column "tenant_id" uuid null;');
    this.addSql('create index "consumed_event_tenant_index" on "consumed_event" ("tenant_id");');
  }

  override down(): void {
    this.addSql('drop index if exists "consumed_event_tenant_index";');
    this.addSql('alter table "consumed_event" drop column if exists "tenant_id";');
  }
}

/**
 * Replaces the tenant index of consumed_event by a unique one on (tenant_id, consumer_group, event_id): a shard move copies
 * a tenant's records in keyset batches of that index (one range scan each) instead of sorting all of the tenant's
 * records by the primary key for every batch; lookups by tenant alone use its first column as before. Add to the shard
 * migrations after Migration20261129002000ConsumedEventTenant.
 */
export class Migration20261129160100ConsumedEventTenantKey extends Migration {
  override name = 'Migration20261129160100ConsumedEventTenantKey';

  override up(): void {
    this.addSql('create unique index if not exists "consumed_event_tenant_key_unique" on "consumed_event" ("tenant_id", "consumer_group", "event_id");');
    this.addSql('drop index if exists "consumed_event_tenant_index";');
  }

  override down(): void {
    this.addSql('create index if not exists "consumed_event_tenant_index" on "consumed_event" ("tenant_id");');
    this.addSql('drop index if exists "consumed_event_tenant_key_unique";');
  }
}

/** An event to consume once: its id and, on a shard, the tenant whose rows its effect writes (moves with them). */
export type ConsumedEventKey = string | { id: string; tenantId: string | null };

function keyOf(event: ConsumedEventKey): { id: string; tenantId: string | null } {
  return typeof event === 'string' ? { id: event, tenantId: null } : event;
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
export async function consumeOnce<T>(
  em: EntityManager,
  group: string,
  event: ConsumedEventKey,
  effect: (tx: EntityManager) => Promise<T>,
): Promise<ConsumeResult<T>> {
  const { id, tenantId } = keyOf(event);
  return em.transactional(async (tx) => {
    const inserted = await tx.execute<{ event_id: string }[]>(
      'insert into consumed_event (consumer_group, event_id, consumed_at, tenant_id) values (?, ?, now(), ?) on conflict do nothing returning event_id',
      [group, id, tenantId],
    );
    if (inserted.length === 0) return { applied: false } as const;
    return { applied: true, value: await effect(tx) } as const;
  });
}

/**
 * `consumeOnce` for a batch: in one transaction on `em`'s database, records every event of `events` not yet
 * consumed by `group` and runs `effect` with exactly those (in input order). Events recorded earlier are skipped;
 * if the effect throws, nothing of the batch is recorded. One round trip for the bookkeeping, whatever the size.
 */
export async function consumeOnceMany<T>(
  em: EntityManager,
  group: string,
  events: readonly ConsumedEventKey[],
  effect: (tx: EntityManager, fresh: ReadonlySet<string>) => Promise<T>,
): Promise<{ applied: ReadonlySet<string>; value: T | undefined }> {
  if (events.length === 0) return { applied: new Set(), value: undefined };
  const keys = events.map(keyOf);
  // PostgreSQL answers uuids in canonical lower case; map them back to the ids as the caller spelled them.
  const byCanonical = new Map(keys.map((key) => [key.id.toLowerCase(), key.id]));
  const tenantOf = new Map(keys.map((key) => [key.id.toLowerCase(), key.tenantId]));
  // Sorted: concurrent overlapping batches take their row locks in one order (no deadlock).
  const sorted = [...byCanonical.keys()].sort();
  return em.transactional(async (tx) => {
    const inserted = await tx.execute<{ event_id: string }[]>(
      `insert into consumed_event (consumer_group, event_id, consumed_at, tenant_id)
       select ?, id, now(), tenant from unnest(?::uuid[], ?::uuid[]) as ids(id, tenant)
       on conflict do nothing returning event_id`,
      [group, `{${sorted.join(',')}}`, `{${sorted.map((id) => tenantOf.get(id) ?? 'NULL').join(',')}}`],
    );
    const fresh = new Set(inserted.map((row) => byCanonical.get(row.event_id) ?? row.event_id));
    if (fresh.size === 0) return { applied: fresh, value: undefined };
    return { applied: fresh, value: await effect(tx, fresh) };
  });
}
