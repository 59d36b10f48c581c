// The transactional outbox and its relay on the in-process bus (the embedded default's), against the machine's
// PostgreSQL: nothing uncommitted is published, nothing committed is lost, a failing consumer gets the events again,
// order per key; and the in-process bus itself: groups side by side, batches, a group name used once, as on Kafka.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  InProcessEventBus,
  Migration20261123000100Outbox,
  Migration20261129120000OutboxTraceparent,
  OutboxEvent,
  OutboxRelay,
  TenantCreated,
  Topic,
  decode,
  enqueueEvent,
  outboxRow,
  toEnvelope,
  type EventEnvelope,
} from '@saldo/events';
import { createLogger } from '@saldo/service';
import { dropDatabases, ensureDatabases, migrate, openOrm } from '@saldo/sharding';
import { TEST_LOG_LEVEL, TEST_POSTGRES_URL, testLogger, uniquePrefix, waitUntil } from '@saldo/testing';

/** Handlers fail on purpose here: their error logs show only when debugging. */
const logger = TEST_LOG_LEVEL === 'debug' ? testLogger() : createLogger({ service: 'test', level: 'error', write: () => undefined });

const created = (tenantId: string, name: string) => ({ tenantId, partnerId: null, name, currency: 'EUR', country: 'DE', status: 'ACTIVE' });
const names = (events: readonly EventEnvelope[]) => events.map((event) => decode(TenantCreated, event)?.name);

describe('outbox relay on the in-process bus', () => {
  const databaseUrl = `${TEST_POSTGRES_URL}/${uniquePrefix('outbox')}`;
  let orm: MikroORM;
  let bus: InProcessEventBus;
  let relay: OutboxRelay;
  const received: EventEnvelope[] = [];
  /** While set, the consumer fails every delivery (a consumer whose database is down, say). */
  let failing = false;
  let attempts = 0;

  async function unpublished(): Promise<number> {
    const [row] = await orm.em.fork().execute<Array<{ n: number }>>('select count(*)::int as n from outbox_event where published_at is null');
    return row?.n ?? 0;
  }

  before(async () => {
    await ensureDatabases([databaseUrl]);
    orm = await openOrm({
      url: databaseUrl,
      entities: [OutboxEvent],
      migrations: [Migration20261123000100Outbox, Migration20261129120000OutboxTraceparent],
      poolMax: 2,
      logger,
    });
    await migrate(orm);
    bus = new InProcessEventBus(logger);
    bus.subscribe(Topic.TenantEvents, 'test.consumer', async (event) => {
      attempts += 1;
      if (failing) throw new Error('consumer unavailable');
      received.push(event);
    });
    // Short intervals: a failed pass is retried after 100 ms, doubled per failure up to 400 ms.
    relay = new OutboxRelay({ sources: [{ name: 'outbox', em: () => orm.em.fork() }], bus, logger, pollIntervalMs: 100, maxRetryDelayMs: 400 });
    relay.start();
  });

  after(async () => {
    await relay?.stop();
    await bus?.close();
    await orm?.close();
    await dropDatabases([databaseUrl]);
  });

  it('publishes committed events once, in commit order per tenant, and nothing of a rolled-back transaction', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await orm.em.fork().transactional(async (tx) => {
      for (const n of [1, 2, 3]) {
        enqueueEvent(tx, TenantCreated, a, created(a, `a${n}`));
        enqueueEvent(tx, TenantCreated, b, created(b, `b${n}`));
      }
    });
    await assert.rejects(
      orm.em.fork().transactional(async (tx) => {
        enqueueEvent(tx, TenantCreated, a, created(a, 'rolled back'));
        await tx.flush();
        throw new Error('the business change failed');
      }),
      /the business change failed/,
    );
    relay.poke();
    await waitUntil(async () => (await unpublished()) === 0 && received.length >= 6, 'the committed events');
    await relay.flush();
    assert.deepEqual(names(received.filter((event) => event.key === a)), ['a1', 'a2', 'a3']);
    assert.deepEqual(names(received.filter((event) => event.key === b)), ['b1', 'b2', 'b3']);
    assert.equal(new Set(received.map((event) => event.id)).size, 6, 'each event once');
    received.length = 0;
  });

  it('refuses an event that does not match its contract before anything is written', async () => {
    const tenantId = randomUUID();
    await assert.rejects(
      orm.em.fork().transactional(async (tx) => {
        enqueueEvent(tx, TenantCreated, tenantId, { ...created(tenantId, 'x'), currency: 'EURO' });
      }),
    );
    const [row] = await orm.em.fork().execute<Array<{ n: number }>>('select count(*)::int as n from outbox_event where key = ?', [tenantId]);
    assert.equal(row?.n, 0);
  });

  it('keeps events in the outbox while their consumer fails, and delivers them once it recovers', async () => {
    const tenantId = randomUUID();
    failing = true;
    const attemptsBefore = attempts;
    await orm.em.fork().transactional(async (tx) => {
      enqueueEvent(tx, TenantCreated, tenantId, created(tenantId, 'first'));
      enqueueEvent(tx, TenantCreated, tenantId, created(tenantId, 'second'));
    });
    relay.poke();
    // Retried with backoff: several failed deliveries, and the rows stay unpublished.
    await waitUntil(() => attempts >= attemptsBefore + 3, 'the relay to retry the failing delivery');
    assert.equal(await unpublished(), 2);
    assert.deepEqual(received, []);

    failing = false;
    await waitUntil(async () => (await unpublished()) === 0, 'delivery after recovery');
    assert.deepEqual(names(received), ['first', 'second']);
  });
});

describe('in-process event bus', () => {
  const event = (tenantId: string, name: string) => toEnvelope(outboxRow(TenantCreated, tenantId, created(tenantId, name)));

  it('delivers to every group; publish resolves once all handled them, and rejects when one failed', async () => {
    const bus = new InProcessEventBus(logger);
    const seen: Record<string, string[]> = { fast: [], failing: [] };
    bus.subscribe(Topic.TenantEvents, 'fast', async (delivered) => {
      seen['fast']!.push(decode(TenantCreated, delivered)!.name);
    });
    bus.subscribe(Topic.TenantEvents, 'failing', async (delivered) => {
      seen['failing']!.push(decode(TenantCreated, delivered)!.name);
      throw new Error('this group fails');
    });
    const tenantId = randomUUID();
    await assert.rejects(bus.publish([event(tenantId, 'one'), event(tenantId, 'two')]), /this group fails/);
    assert.deepEqual(seen['fast'], ['one', 'two'], 'the other group was not held up');
    assert.deepEqual(seen['failing'], ['one'], 'the failing group stopped at the failed event');
    await bus.close();
  });

  it('hands batch consumers consecutive events in batches of at most maxBatchSize', async () => {
    const bus = new InProcessEventBus(logger);
    const batches: string[][] = [];
    bus.subscribeBatch(
      Topic.TenantEvents,
      'batches',
      async (events) => {
        batches.push(names(events) as string[]);
      },
      { maxBatchSize: 2 },
    );
    const tenantId = randomUUID();
    await bus.publish(['a', 'b', 'c', 'd', 'e'].map((name) => event(tenantId, name)));
    assert.deepEqual(batches, [['a', 'b'], ['c', 'd'], ['e']]);
    await bus.close();
  });

  it('refuses a consumer group name used twice, as Kafka would, and delivers nothing after unsubscribe', async () => {
    const bus = new InProcessEventBus(logger);
    const seen: string[] = [];
    const unsubscribe = bus.subscribe(Topic.TenantEvents, 'once', async (delivered) => {
      seen.push(delivered.id);
    });
    assert.throws(() => bus.subscribe(Topic.BalanceEvents, 'once', async () => undefined), /Consumer group once already subscribed to tenant-events/);
    await unsubscribe();
    await bus.publish([event(randomUUID(), 'after')]);
    assert.deepEqual(seen, []);
    await bus.close();
  });
});
