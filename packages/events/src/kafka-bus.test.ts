// The Kafka event backbone against librdkafka's mock cluster (kcat) and the machine's PostgreSQL:
// per-key order, commit-after-handle, relay crash recovery, Kafka outages, idempotent consumers.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import {
  ConsumedEvent,
  InProcessEventBus,
  KafkaEventBus,
  Migration20261123000100Outbox,
  Migration20261129120000OutboxTraceparent,
  Migration20261125000100ConsumedEvent,
  Migration20261129002000ConsumedEventTenant,
  OutboxEvent,
  OutboxRelay,
  TenantCreated,
  Topic,
  consumeOnce,
  consumeOnceMany,
  enqueueEvent,
  type EventBus,
  type EventEnvelope,
  type KafkaEventBusOptions,
} from '@saldo/events';
import { createLogger } from '@saldo/service';
import { dropDatabases, ensureDatabases, migrate, openOrm } from '@saldo/sharding';
import { TEST_LOG_LEVEL, TEST_POSTGRES_URL, startKafkaMockCluster, testLogger, uniquePrefix, type KafkaMockCluster } from '@saldo/testing';

const logger = testLogger();
/** For the failures tests provoke on purpose (refused connections, failing handlers): printed only when debugging. */
const quietLogger = TEST_LOG_LEVEL === 'debug' ? logger : createLogger({ service: 'test', level: 'error', write: () => undefined });
const TOPIC = Topic.TenantEvents;

/** Fast retries and short fetch waits: the tests finish quickly and stop promptly. */
function kafkaBus(brokers: KafkaEventBusOptions['brokers'], overrides: Partial<KafkaEventBusOptions> = {}): KafkaEventBus {
  return new KafkaEventBus({
    brokers,
    clientId: 'saldo-test',
    logger,
    // The mock cluster cannot hand out idempotent producer ids to kafkajs (see KafkaEventBusOptions.idempotent).
    idempotent: false,
    retry: { initialRetryTime: 50, maxRetryTime: 500, retries: 3 },
    handlerRetryMs: { initial: 20, max: 200 },
    maxWaitTimeMs: 100,
    sessionTimeoutMs: 4_000,
    ...overrides,
  });
}

function envelope(key: string, n: number): EventEnvelope {
  return { id: randomUUID(), type: 'test.sequenced', version: 1, topic: TOPIC, key, occurredAt: new Date().toISOString(), payload: { n } };
}

/** Collects deliveries; `until` resolves when a condition holds, and fails the test after a deadline. */
class Deliveries {
  readonly events: EventEnvelope[] = [];
  private waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  push(event: EventEnvelope): void {
    this.events.push(event);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.check()) return true;
      waiter.resolve();
      return false;
    });
  }

  until(check: (events: EventEnvelope[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (check(this.events)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${what} (have ${this.events.length} deliveries)`)), timeoutMs);
      this.waiters.push({
        check: () => check(this.events),
        resolve: () => {
          clearTimeout(deadline);
          resolve();
        },
      });
    });
  }

  count(n: number, timeoutMs?: number): Promise<void> {
    return this.until((events) => events.length >= n, `${n} deliveries`, timeoutMs);
  }

  ids(): string[] {
    return this.events.map((event) => event.id);
  }
}

/** Payload field `n` of each delivered event with key `key`, in delivery order. */
function sequence(events: readonly EventEnvelope[], key: string): number[] {
  return events.filter((event) => event.key === key).map((event) => (event.payload as { n: number }).n);
}

/** Mock clusters and buses a suite starts; `release` (after the suite) closes the buses, then stops the clusters. */
function kafkaResources() {
  const clusters: KafkaMockCluster[] = [];
  const buses: EventBus[] = [];
  return {
    cluster: async (): Promise<KafkaMockCluster> => {
      const started = await startKafkaMockCluster();
      clusters.push(started);
      return started;
    },
    track: <B extends EventBus>(bus: B): B => {
      buses.push(bus);
      return bus;
    },
    release: async (): Promise<void> => {
      await Promise.all(buses.map((bus) => bus.close()));
      await Promise.all(clusters.map((started) => started.stop()));
    },
  };
}

/** A bus for a relay under test: `publish` as given, nothing to subscribe to. */
function publishOnly(publish: EventBus['publish']): EventBus {
  return { publish, subscribe: () => () => undefined, subscribeBatch: () => () => undefined, close: async () => undefined };
}

// Each test has its own mock cluster and consumer groups, so they run side by side.
describe('Kafka event bus (librdkafka mock cluster)', { concurrency: true }, () => {
  const { cluster, track, release } = kafkaResources();

  after(release);

  test('events of one key arrive in order across many publishes', async () => {
    const { brokers } = await cluster();
    const producer = track(kafkaBus(brokers));
    const consumer = track(kafkaBus(brokers));
    const keys = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const perKey = 60;
    const received = new Deliveries();
    consumer.subscribe(TOPIC, 'order-check', async (event) => received.push(event));

    // 30 publishes of 10 events, keys interleaved; each key's events are numbered in publish order.
    const next = new Map(keys.map((key) => [key, 0]));
    for (let publish = 0; publish < (keys.length * perKey) / 10; publish += 1) {
      const batch = Array.from({ length: 10 }, (_, index) => {
        const key = keys[(publish * 10 + index) % keys.length]!;
        const n = next.get(key)!;
        next.set(key, n + 1);
        return envelope(key, n);
      });
      await producer.publish(batch);
    }

    await received.count(keys.length * perKey);
    for (const key of keys)
      assert.deepEqual(
        sequence(received.events, key),
        Array.from({ length: perKey }, (_, n) => n),
        `order of key ${key}`,
      );
    assert.equal(new Set(received.ids()).size, keys.length * perKey, 'each event once');
  });

  test('a failing handler commits nothing: the same message comes again, and later ones wait for it', async () => {
    const { brokers } = await cluster();
    const producer = track(kafkaBus(brokers));
    const key = randomUUID();
    const events = Array.from({ length: 5 }, (_, n) => envelope(key, n));
    await producer.publish(events);

    // In-process retry: the handler fails twice on event 2; it is redelivered, and 3 and 4 come only after it.
    const attempts = new Deliveries();
    let failuresLeft = 2;
    const logged: string[] = [];
    const recording = createLogger({ service: 'test', level: 'error', format: 'json', write: (line) => logged.push(line) });
    const retrying = track(kafkaBus(brokers, { logger: recording }));
    retrying.subscribe(TOPIC, 'retry-check', async (event) => {
      attempts.push(event);
      if (event.id === events[2]!.id && failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('handler failed (test)');
      }
    });
    await attempts.count(7);
    assert.deepEqual(
      attempts.ids(),
      [0, 1, 2, 2, 2, 3, 4].map((n) => events[n]!.id),
    );
    const failureLogs = logged.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'event handler failed; the message will be delivered again');
    assert.deepEqual(
      failureLogs.map((entry) => [entry.id, entry.attempt]),
      [
        [events[2]!.id, 1],
        [events[2]!.id, 2],
      ],
      'each failure is logged with its attempt',
    );

    // Across a restart: a consumer that keeps failing on event 1 stops; the next one in its group starts at
    // event 1 (not committed), and not at event 0 (committed).
    const first = track(kafkaBus(brokers, { logger: quietLogger }));
    const failed = new Deliveries();
    first.subscribe(TOPIC, 'restart-check', async (event) => {
      failed.push(event);
      if (event.id === events[1]!.id) throw new Error('handler failed (test)');
    });
    await failed.until((seen) => seen.filter((event) => event.id === events[1]!.id).length >= 2, 'two failed deliveries of event 1');
    await first.close();

    const second = track(kafkaBus(brokers));
    const resumed = new Deliveries();
    second.subscribe(TOPIC, 'restart-check', async (event) => resumed.push(event));
    await resumed.count(4);
    assert.deepEqual(
      resumed.ids(),
      [1, 2, 3, 4].map((n) => events[n]!.id),
    );
  });

  test('a consumer restarted after half the messages goes on without loss and without re-processing', async () => {
    const { brokers } = await cluster();
    const producer = track(kafkaBus(brokers));
    const keys = [randomUUID(), randomUUID(), randomUUID()];
    const events = Array.from({ length: 90 }, (_, index) => envelope(keys[index % keys.length]!, Math.floor(index / keys.length)));
    await producer.publish(events);

    // The first consumer stops itself after handling 45 events (as a deploy would stop it mid-stream).
    const first = track(kafkaBus(brokers));
    const before = new Deliveries();
    let stopping: Promise<void> | undefined;
    first.subscribe(TOPIC, 'half-check', async (event) => {
      before.push(event);
      if (before.events.length === 45) stopping = first.close();
    });
    await before.count(45);
    await stopping;
    assert.equal(before.events.length, 45, 'the stopping consumer handles nothing after the one in hand');

    const second = track(kafkaBus(brokers));
    const resumed = new Deliveries();
    second.subscribe(TOPIC, 'half-check', async (event) => resumed.push(event));
    const handled = new Set(before.ids());
    const rest = events.filter((event) => !handled.has(event.id)).map((event) => event.id);
    // Per partition, a re-delivered (already handled) event would come before the rest: once all of the rest
    // arrived, every re-delivery would have too.
    await resumed.until((seen) => rest.every((id) => seen.some((event) => event.id === id)), 'the other 45 events');
    assert.deepEqual(
      resumed.ids().filter((id) => handled.has(id)),
      [],
      'no committed event is handled again',
    );
    assert.equal(resumed.events.length, 45);
    for (const key of keys) {
      assert.deepEqual(
        [...sequence(before.events, key), ...sequence(resumed.events, key)],
        Array.from({ length: 30 }, (_, n) => n),
        `order of ${key}`,
      );
    }
  });
});

describe('outbox relay to Kafka (real PostgreSQL)', () => {
  const databaseUrl = `${TEST_POSTGRES_URL}/${uniquePrefix('kafkarelay')}`;
  let orm: Awaited<ReturnType<typeof openOrm>>;
  const { cluster, track, release } = kafkaResources();
  const relays: OutboxRelay[] = [];
  /** A relay over the test database's outbox; every relay is stopped when its test ends (they share the table). */
  const relay = (t: TestContext, bus: EventBus, pollIntervalMs = 50) => {
    const created = new OutboxRelay({ sources: [{ name: 'outbox', em: () => orm.em.fork() }], bus, logger: quietLogger, pollIntervalMs, maxRetryDelayMs: 400 });
    relays.push(created);
    t.after(() => created.stop());
    return created;
  };

  before(async () => {
    await ensureDatabases([databaseUrl]);
    orm = await openOrm({
      url: databaseUrl,
      entities: [OutboxEvent, ConsumedEvent],
      migrations: [
        Migration20261123000100Outbox,
        Migration20261125000100ConsumedEvent,
        Migration20261129002000ConsumedEventTenant,
        Migration20261129120000OutboxTraceparent,
      ],
      poolMax: 8,
      logger,
    });
    await migrate(orm);
    await orm.em.fork().execute('create table applied_effect (consumer_group text not null, event_id uuid not null)');
  });

  after(async () => {
    await Promise.all(relays.map((started) => started.stop()));
    await release();
    await orm?.close();
    await dropDatabases([databaseUrl]);
  });

  /** Commits `count` tenant.created events per tenant, numbered per tenant in the payload's name. */
  async function commitEvents(tenants: string[], count: number, label: string): Promise<string[]> {
    const ids: string[] = [];
    await orm.em.fork().transactional(async (tx) => {
      for (let n = 0; n < count; n += 1) {
        for (const tenantId of tenants) {
          const row = enqueueEvent(tx, TenantCreated, tenantId, {
            tenantId,
            partnerId: null,
            name: `${label}-${n}`,
            currency: 'EUR',
            country: 'DE',
            status: 'ACTIVE',
          });
          ids.push(row.id);
        }
      }
    });
    return ids;
  }

  async function unpublished(ids: string[]): Promise<number> {
    const [row] = await orm.em
      .fork()
      .execute<{ count: string }[]>('select count(*) as count from outbox_event where published_at is null and id in (?)', [ids]);
    return Number(row!.count);
  }

  const names = (events: readonly EventEnvelope[], tenantId: string) =>
    events.filter((event) => event.key === tenantId).map((event) => (event.payload as { name: string }).name);

  test('the relay killed between commit and publish: after restart each event is published once', async (t) => {
    const { brokers } = await cluster();
    const tenants = [randomUUID(), randomUUID()];
    const ids = await commitEvents(tenants, 10, 'c');

    const received = new Deliveries();
    const consumer = track(kafkaBus(brokers));
    consumer.subscribe(TOPIC, 'relay-restart', async (event) => received.push(event));

    // The first relay is killed before its first pass: the rows are committed, nothing was published.
    const killed = relay(t, track(kafkaBus(brokers)));
    killed.start();
    await killed.stop();
    assert.equal(await unpublished(ids), ids.length);

    // A new relay publishes each event once; a sentinel per tenant, committed afterwards, marks the end of
    // each tenant's partition, so no duplicate can still be on its way when the sentinels arrive.
    const restarted = relay(t, track(kafkaBus(brokers)));
    restarted.start();
    await restarted.flush();
    const sentinels = await commitEvents(tenants, 1, 'sentinel');
    restarted.poke();
    await received.until((events) => sentinels.every((id) => events.some((event) => event.id === id)), 'the sentinels');

    const delivered = received.ids().filter((id) => !sentinels.includes(id));
    assert.deepEqual([...delivered].sort(), [...ids].sort(), 'every event delivered exactly once');
    for (const tenantId of tenants) assert.deepEqual(names(received.events, tenantId), [...Array.from({ length: 10 }, (_, n) => `c-${n}`), 'sentinel-0']);
    assert.equal(await unpublished([...ids, ...sentinels]), 0);
  });

  test('a relay crashing after the broker acked, before marking rows: re-published, applied once (consumeOnce)', async (t) => {
    const { brokers } = await cluster();
    const tenants = [randomUUID(), randomUUID(), randomUUID()];
    const ids = await commitEvents(tenants, 5, 'd');

    const group = 'crash-after-publish';
    const deliveries = new Deliveries();
    const consumer = track(kafkaBus(brokers));
    consumer.subscribe(TOPIC, group, async (event) => {
      await consumeOnce(orm.em.fork(), group, event.id, async (tx) => {
        await tx.execute('insert into applied_effect (consumer_group, event_id) values (?, ?)', [group, event.id]);
      });
      deliveries.push(event);
    });

    // The crash: the broker acknowledged the batch, then the relay died before its transaction committed.
    const kafka = track(kafkaBus(brokers));
    const crashing = publishOnly(async (events) => {
      await kafka.publish(events);
      throw new Error('relay process killed (test)');
    });
    await assert.rejects(relay(t, crashing).flush(), /killed/);
    assert.equal(await unpublished(ids), ids.length, 'rows stay unpublished');

    await relay(t, kafka).flush();
    assert.equal(await unpublished(ids), 0);
    // Every event arrives twice (once per relay); the effect is applied once.
    await deliveries.until((events) => ids.every((id) => events.filter((event) => event.id === id).length === 2), 'two deliveries of each event');
    const applied = await orm.em
      .fork()
      .execute<{ event_id: string; count: string }[]>('select event_id, count(*) as count from applied_effect where consumer_group = ? group by event_id', [
        group,
      ]);
    assert.equal(applied.length, ids.length);
    assert.ok(
      applied.every((row) => Number(row.count) === 1),
      'each effect applied once',
    );
  });

  test('when Kafka is down, events wait in the outbox and flow once it is back', async (t) => {
    const first = await cluster();
    let brokers = first.brokers;
    const tenants = [randomUUID(), randomUUID()];

    // Attempts of the relay's bus, to watch it retry without waiting on the clock.
    const attempts: Array<{ startedAt: number; failedAt?: number }> = [];
    const failures = new Deliveries();
    const kafka = track(
      kafkaBus(() => brokers, { logger: quietLogger, retry: { initialRetryTime: 20, maxRetryTime: 100, retries: 1 }, connectionTimeoutMs: 500 }),
    );
    const watched = publishOnly(async (events) => {
      const attempt: { startedAt: number; failedAt?: number } = { startedAt: Date.now() };
      attempts.push(attempt);
      try {
        await kafka.publish(events);
      } catch (error) {
        attempt.failedAt = Date.now();
        failures.push(events[0]!);
        throw error;
      }
    });
    const running = relay(t, watched);
    running.start();

    // Up: a first batch flows.
    const before = new Deliveries();
    const firstConsumer = track(kafkaBus(first.brokers));
    firstConsumer.subscribe(TOPIC, 'outage', async (event) => before.push(event));
    const upIds = await commitEvents(tenants, 3, 'up');
    running.poke();
    await before.count(upIds.length);
    await firstConsumer.close();

    // Down: the cluster is gone. New events stay in the outbox while the relay keeps retrying, backing off.
    await first.stop();
    const downIds = await commitEvents(tenants, 8, 'down');
    running.poke();
    await failures.count(4);
    assert.equal(await unpublished(downIds), downIds.length, 'nothing is lost or marked published while Kafka is down');
    const failed = attempts.filter((attempt) => attempt.failedAt !== undefined);
    for (let index = 1; index < 4; index += 1) {
      const waited = failed[index]!.startedAt - failed[index - 1]!.failedAt!;
      const backoff = Math.min(400, 50 * 2 ** (index - 1));
      assert.ok(waited >= backoff - 5, `retry ${index} waited ${waited} ms (backoff ${backoff} ms)`);
    }

    // Back (a new cluster at a new address, as after a failover): everything waiting flows, in order.
    const second = await cluster();
    brokers = second.brokers;
    const after = new Deliveries();
    const secondConsumer = track(kafkaBus(second.brokers));
    secondConsumer.subscribe(TOPIC, 'outage', async (event) => after.push(event));
    await after.until((events) => downIds.every((id) => events.some((event) => event.id === id)), 'the events held back');
    assert.equal(await unpublished(downIds), 0);
    for (const tenantId of tenants)
      assert.deepEqual(
        names(after.events, tenantId),
        Array.from({ length: 8 }, (_, n) => `down-${n}`),
      );
  });

  test("events committed while another instance's relay holds the outbox leave without waiting for the poll interval", async (t) => {
    // Two relays on one outbox (two instances of a service); polling is off (1 h) so only pokes and the
    // contention retry move events. Relay A is poked first and is held inside its publish.
    const bus = new InProcessEventBus(quietLogger);
    const received = new Deliveries();
    bus.subscribe(TOPIC, 'contention', async (event) => received.push(event));
    let releaseA!: () => void;
    const heldA = new Promise<void>((resolve) => (releaseA = resolve));
    let aEntered!: () => void;
    const aInPublish = new Promise<void>((resolve) => (aEntered = resolve));
    const gated = publishOnly(async (events) => {
      aEntered();
      await heldA;
      await bus.publish(events);
    });
    const relayA = relay(t, gated, 3_600_000);
    const relayB = relay(t, bus, 3_600_000);
    const tenant = randomUUID();
    const first = await commitEvents([tenant], 1, 'a');
    relayA.start();
    await aInPublish;
    // Committed while A holds the lock; B starts (a pass at once, as after a poke) and finds the outbox locked.
    const second = await commitEvents([tenant], 1, 'b');
    relayB.start();
    releaseA();
    await received.until((events) => [...first, ...second].every((id) => events.some((event) => event.id === id)), 'both events', 5_000);
    assert.deepEqual(names(received.events, tenant), ['a-0', 'b-0'], 'in commit order, each once');
    // Stopping waits for passes in flight, which mark what they published.
    await Promise.all([relayA.stop(), relayB.stop()]);
    assert.equal(await unpublished([...first, ...second]), 0);
  });

  test('consumeOnce applies an event once per consumer group and skips duplicates', async () => {
    const eventId = randomUUID();
    const apply = (group: string, fail = false) =>
      consumeOnce(orm.em.fork(), group, eventId, async (tx) => {
        await tx.execute('insert into applied_effect (consumer_group, event_id) values (?, ?)', [group, eventId]);
        if (fail) throw new Error('effect failed (test)');
        return 'done';
      });
    const applied = async (group: string) => {
      const [row] = await orm.em
        .fork()
        .execute<{ count: string }[]>('select count(*) as count from applied_effect where consumer_group = ? and event_id = ?', [group, eventId]);
      return Number(row!.count);
    };

    assert.deepEqual(await apply('g1'), { applied: true, value: 'done' });
    assert.deepEqual(await apply('g1'), { applied: false });
    assert.equal(await applied('g1'), 1);

    // Another group consumes the same event independently.
    assert.deepEqual(await apply('g2'), { applied: true, value: 'done' });

    // A failed effect records nothing: the next delivery applies it.
    await assert.rejects(apply('g3', true), /effect failed/);
    assert.equal(await applied('g3'), 0);
    assert.deepEqual(await apply('g3'), { applied: true, value: 'done' });

    // Concurrent deliveries of one event: exactly one applies.
    const results = await Promise.all(Array.from({ length: 10 }, () => apply('g4')));
    assert.equal(results.filter((result) => result.applied).length, 1);
    assert.equal(await applied('g4'), 1);
  });

  test('a batch consumer gets consecutive events together, in order, and a failed batch comes again whole', async () => {
    const { brokers } = await cluster();
    const producer = track(kafkaBus(brokers));
    const key = randomUUID();
    const events = Array.from({ length: 40 }, (_, n) => envelope(key, n));
    await producer.publish(events);

    const batches: EventEnvelope[][] = [];
    const handled = new Deliveries();
    let failuresLeft = 1;
    const consumer = track(kafkaBus(brokers, { logger: quietLogger }));
    consumer.subscribeBatch(
      TOPIC,
      'batch-check',
      async (batch) => {
        batches.push([...batch]);
        // The first batch holding event 25 fails once: all of it is delivered again, nothing of it is lost.
        if (failuresLeft > 0 && batch.some((event) => event.id === events[25]!.id)) {
          failuresLeft -= 1;
          throw new Error('batch handler failed (test)');
        }
        for (const event of batch) handled.push(event);
      },
      { maxBatchSize: 16 },
    );
    await handled.count(events.length);
    assert.deepEqual(
      sequence(handled.events, key),
      Array.from({ length: 40 }, (_, n) => n),
      'each event handled once, in order',
    );
    assert.ok(
      batches.every((batch) => batch.length >= 1 && batch.length <= 16),
      'batches respect maxBatchSize',
    );
    assert.ok(batches.length < events.length, `events arrive together (${batches.length} handler calls for ${events.length} events)`);
    const failed = batches.find((batch) => batch.some((event) => event.id === events[25]!.id))!;
    const retried = batches.filter((batch) => batch.some((event) => event.id === events[25]!.id));
    assert.equal(retried.length, 2, 'the failed batch is delivered again');
    assert.ok(retried[1]![0]!.id === failed[0]!.id, 'the retry starts at the first event of the failed batch');
  });

  test('consumeOnceMany applies the events of a batch not consumed before, once, in one transaction', async () => {
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const apply = (group: string, eventIds: string[], fail = false) =>
      consumeOnceMany(orm.em.fork(), group, eventIds, async (tx, fresh) => {
        for (const id of eventIds.filter((eventId) => fresh.has(eventId))) {
          await tx.execute('insert into applied_effect (consumer_group, event_id) values (?, ?)', [group, id]);
        }
        if (fail) throw new Error('effect failed (test)');
        return fresh.size;
      });
    const applied = async (group: string) => {
      const rows = await orm.em
        .fork()
        .execute<{ event_id: string }[]>('select event_id from applied_effect where consumer_group = ? order by event_id', [group]);
      return rows.map((row) => row.event_id).sort();
    };

    const first = await apply('m1', ids.slice(0, 3));
    assert.equal(first.value, 3);
    // A redelivered batch overlapping the first: only the two new events take effect.
    const second = await apply('m1', ids);
    assert.deepEqual([...second.applied].sort(), ids.slice(3).sort());
    assert.deepEqual(await applied('m1'), [...ids].sort());
    assert.equal((await apply('m1', ids)).applied.size, 0, 'a batch seen whole before changes nothing');

    // A failing effect records none of the batch: the next delivery applies all of it.
    await assert.rejects(apply('m2', ids, true), /effect failed/);
    assert.deepEqual(await applied('m2'), []);
    assert.equal((await apply('m2', ids)).value, 5);

    // Concurrent deliveries of one batch: each event takes effect once.
    await Promise.all(Array.from({ length: 6 }, () => apply('m3', ids)));
    assert.deepEqual(await applied('m3'), [...ids].sort());

    // Ids are matched as uuids, whatever their spelling: an upper-case id is applied (and then seen) like any other.
    const upper = randomUUID().toUpperCase();
    const spelled = await apply('m4', [upper]);
    assert.deepEqual([...spelled.applied], [upper]);
    assert.equal((await apply('m4', [upper.toLowerCase()])).applied.size, 0);
  });
});
