import { OptionalProps } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Migration } from '@mikro-orm/migrations';
import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { currentTraceparent } from '@saldo/service';
import type { z } from 'zod';
import type { EventContract, EventEnvelope } from './contracts.js';

/**
 * Transactional outbox row. Written in the same transaction as the change it announces, so an event
 * exists exactly when its change committed; the relay publishes it afterwards.
 */
@Entity({ tableName: 'outbox_event' })
@Index({
  name: 'outbox_event_unpublished_index',
  expression: 'create index "outbox_event_unpublished_index" on "outbox_event" ("seq") where "published_at" is null',
})
@Index({
  name: 'outbox_event_key_id_unique',
  expression: 'create unique index "outbox_event_key_id_unique" on "outbox_event" ("key", "id")',
})
@Index({
  name: 'outbox_event_published_at_index',
  expression: 'create index "outbox_event_published_at_index" on "outbox_event" ("published_at") where "published_at" is not null',
})
export class OutboxEvent {
  [OptionalProps]?: 'seq' | 'publishedAt' | 'attempts' | 'traceparent';

  @PrimaryKey({ type: 'uuid' })
  id!: string;

  /** Insertion order; the relay publishes in this order. */
  @Property({ type: 'bigint', autoincrement: true, unique: true })
  seq!: string;

  @Property({ type: 'text' })
  topic!: string;

  @Property({ type: 'text' })
  key!: string;

  @Property({ type: 'text' })
  type!: string;

  @Property({ type: 'integer' })
  version!: number;

  @Property({ type: 'jsonb' })
  payload!: unknown;

  @Property({ type: 'timestamptz' })
  occurredAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  publishedAt: Date | null = null;

  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  /** W3C trace context of the operation that wrote the event (when tracing): the relay passes it on to consumers. */
  @Property({ type: 'text', nullable: true })
  traceparent?: string | null;
}

export class Migration20261123000100Outbox extends Migration {
  override name = 'Migration20261123000100Outbox';

  override up(): void {
    this.addSql(`create table "outbox_event" (
      "id" uuid not null primary key,
      "seq" bigserial not null,
      "topic" text not null,
      "key" text not null,
      "type" text not null,
      "version" integer not null,
      "payload" jsonb not null,
      "occurred_at" timestamptz not null,
      "published_at" timestamptz null,
      "attempts" integer not null default 0,
      constraint "outbox_event_seq_unique" unique ("seq")
    );`);
    this.addSql(`create index "outbox_event_unpublished_index" on "outbox_event" ("seq") where "published_at" is null;`);
  }

  override down(): void {
    this.addSql('drop table if exists "outbox_event";');
  }
}

/**
 * Adds an event to the unit of work of `em`; it is inserted when `em` flushes (inside the caller's
 * transaction), never on its own. The tenant id is the key, which keeps one tenant's events in order.
 */
export function enqueueEvent<C extends EventContract<string, z.ZodType>>(
  em: EntityManager,
  contract: C,
  tenantId: string,
  payload: z.input<C['payload']>,
  occurredAt: Date = new Date(),
): OutboxEvent {
  const event = em.create(OutboxEvent, {
    id: uuidv7(),
    topic: contract.topic,
    key: tenantId,
    type: contract.type,
    version: contract.version,
    payload: contract.payload.parse(payload),
    occurredAt,
    traceparent: currentTraceparent() ?? null,
  });
  em.persist(event);
  return event;
}

/** An outbox row built outside a unit of work, for a statement that writes its events itself (see OUTBOX_INSERT). */
export interface OutboxRow {
  id: string;
  topic: string;
  key: string;
  type: string;
  version: number;
  payload: unknown;
  occurred_at: string;
  traceparent?: string;
}

/** Validates `payload` against its contract and builds the row `enqueueEvent` would persist, keyed by tenant. */
export function outboxRow<C extends EventContract<string, z.ZodType>>(
  contract: C,
  tenantId: string,
  payload: z.input<C['payload']>,
  occurredAt: Date = new Date(),
): OutboxRow {
  return {
    id: uuidv7(),
    topic: contract.topic,
    key: tenantId,
    type: contract.type,
    version: contract.version,
    payload: contract.payload.parse(payload),
    occurred_at: occurredAt.toISOString(),
    ...traceOf(),
  };
}

/**
 * Inserts the outbox rows of one JSON-array parameter (`JSON.stringify(rows)`) in array order, which is the order the
 * relay publishes them in. Usable as a statement or as a data-modifying CTE (`with events as (${OUTBOX_INSERT} returning 1)`).
 */
export const OUTBOX_INSERT = `insert into outbox_event (id, topic, key, type, version, payload, occurred_at, traceparent)
  select (e.value->>'id')::uuid, e.value->>'topic', e.value->>'key', e.value->>'type', (e.value->>'version')::integer, e.value->'payload',
         (e.value->>'occurred_at')::timestamptz, e.value->>'traceparent'
    from jsonb_array_elements(?::jsonb) with ordinality as e(value, ord)
   order by e.ord`;

export function toEnvelope(row: {
  id: string;
  topic: string;
  key: string;
  type: string;
  version: number;
  payload: unknown;
  occurred_at: Date | string;
  traceparent?: string | null;
}): EventEnvelope {
  return {
    id: row.id,
    topic: row.topic,
    key: row.key,
    type: row.type,
    version: row.version,
    payload: row.payload,
    occurredAt: new Date(row.occurred_at).toISOString(),
    ...(row.traceparent ? { traceparent: row.traceparent } : {}),
  };
}

function traceOf(): { traceparent?: string } {
  const traceparent = currentTraceparent();
  return traceparent ? { traceparent } : {};
}

/** Adds outbox_event.traceparent (the producing operation's W3C trace context; null when tracing is off). */
export class Migration20261129120000OutboxTraceparent extends Migration {
  override name = 'Migration20261129120000OutboxTraceparent';

  override up(): void {
    this.addSql(`alter table "outbox_event" add column if not exists "traceparent" text null;`);
  }

  override down(): void {
    this.addSql(`alter table "outbox_event" drop column "traceparent";`);
  }
}

/**
 * A unique index on (key, id) of a shard's outbox: the key is the tenant, and a shard move copies, counts and compares a
 * tenant's events through it (each keyset batch one range scan of it). Without it every batch walked the primary key
 * filtering other tenants' events, and every count scanned the table. The control database's outbox (whose rows belong
 * to no tenant and never move) gets it too, so that one entity definition describes every outbox.
 */
export class Migration20261129160000OutboxTenantKey extends Migration {
  override name = 'Migration20261129160000OutboxTenantKey';

  override up(): void {
    this.addSql('create unique index if not exists "outbox_event_key_id_unique" on "outbox_event" ("key", "id");');
  }

  override down(): void {
    this.addSql('drop index if exists "outbox_event_key_id_unique";');
  }
}

/**
 * An index on the publication time of published outbox rows, for the retention pass (deleteOutboxEventsPublishedBefore):
 * each of its batches finds the rows published before the cutoff as one range scan of it. Without it every batch, and
 * above all the last one of each pass (which finds fewer rows than a batch and so reads on to the end), walked the whole
 * table: a week of events per database, every hour. Unpublished rows are not in it (the relay's partial index has them).
 * The relay's update that sets published_at already changes a column of an index predicate, so it was never a HOT update:
 * this index adds one entry per published event, not a rewrite of the row.
 */
export class Migration20261130010000OutboxPublishedAt extends Migration {
  override name = 'Migration20261130010000OutboxPublishedAt';

  override up(): void {
    this.addSql('create index if not exists "outbox_event_published_at_index" on "outbox_event" ("published_at") where "published_at" is not null;');
  }

  override down(): void {
    this.addSql('drop index if exists "outbox_event_published_at_index";');
  }
}
