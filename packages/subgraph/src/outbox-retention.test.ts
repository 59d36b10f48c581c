// Outbox retention in the subgraph runtime, against the machine's PostgreSQL: published events older than
// OUTBOX_RETENTION_HOURS go from the control database's outbox and every shard's, in batches; newer published events and
// unpublished ones of any age stay; 0 keeps everything; the pass is a durable job on a schedule, run once across two
// instances. The clock is moved by passing `now` (the pass) or by pg-boss's TestClock (the schedule), never by waiting.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EntityManager } from '@mikro-orm/postgresql';
import { parseConfig } from '@saldo/config';
import { TestClock } from '@saldo/jobs';
import { OUTBOX_RETENTION_QUEUE, outboxRetentionSettings, pruneOutboxes, subgraphConfigSchema, type SubgraphRuntime } from '@saldo/subgraph';
import { startTestSubgraph, testLogger, waitUntil, type TestSubgraph } from '@saldo/testing';
import { probeSubgraph } from './test-fixtures/probe-subgraph.js';

const definition = probeSubgraph({ createServices: () => ({}) });
const loadConfig = (env: Record<string, string>) => parseConfig('probe', subgraphConfigSchema, env);
const HOUR = 3_600_000;

/** Every outbox of the subgraph, by the name the pass reports it under. */
function outboxes(runtime: SubgraphRuntime): Array<{ name: string; em: () => EntityManager }> {
  return [
    { name: 'control', em: () => runtime.db.globalEm() },
    ...runtime.db.shardIds.map((shardId) => ({ name: `shard-${shardId}`, em: () => runtime.db.em(shardId) })),
  ];
}

/**
 * Writes `count` events keyed `key`, published at `publishedAt` (null: not yet), which occurred `occurredAt`; times are
 * SQL timestamptz expressions or ISO instants.
 */
async function writeEvents(em: EntityManager, key: string, count: number, occurredAt: string, publishedAt: string | null): Promise<void> {
  await em.execute(
    `insert into outbox_event (id, topic, key, type, version, payload, occurred_at, published_at)
     select gen_random_uuid(), 'tenant-events', ?, 'test.retention', 1, '{}'::jsonb, (${occurredAt})::timestamptz, (${publishedAt ?? 'null'})::timestamptz
       from generate_series(1, ?)`,
    [key, count],
  );
}

/** Events per key in one outbox. */
async function countsByKey(em: EntityManager): Promise<Record<string, number>> {
  const rows = await em.execute<Array<{ key: string; n: number }>>('select key, count(*)::int as n from outbox_event group by key order by key');
  return Object.fromEntries(rows.map((row) => [row.key, row.n]));
}

const literal = (at: Date) => `'${at.toISOString()}'`;

describe('outbox retention pass', () => {
  let subgraph: TestSubgraph<object>;
  // A fixed "now" for the pass: rows are written relative to it, whatever the machine's clock says.
  const now = new Date('2031-03-01T12:00:00Z');
  const hoursBefore = (hours: number) => literal(new Date(now.getTime() - hours * HOUR));

  before(async () => {
    subgraph = await startTestSubgraph(definition, loadConfig, { shards: 2 });
    // Unpublished rows must stay unpublished here: no relay publishes them behind the test's back.
    await subgraph.service.runtime.relay.stop();
  });

  after(async () => {
    await subgraph?.destroy();
  });

  test('deletes events published more than the retention ago from the control database and every shard, in batches, and keeps the rest', async () => {
    const { runtime } = subgraph.service;
    for (const { em } of outboxes(runtime)) {
      await writeEvents(em(), 'old', 23, hoursBefore(400), hoursBefore(169));
      await writeEvents(em(), 'recent', 4, hoursBefore(400), hoursBefore(167));
      // Never published, however old: the relay has yet to send them (a long outage), they must never be lost.
      await writeEvents(em(), 'unpublished', 3, hoursBefore(10_000), null);
    }
    // Batches of 10: 23 old rows per database take three statements, the last one short.
    const deleted = await pruneOutboxes(runtime.db, { hours: 168, batchSize: 10 }, { now, logger: testLogger() });
    assert.deepEqual(deleted, { control: 23, 'shard-0': 23, 'shard-1': 23 });
    for (const { name, em } of outboxes(runtime)) {
      assert.deepEqual(await countsByKey(em()), { recent: 4, unpublished: 3 }, name);
    }

    // Two hours later the events published 167 hours before the first pass are past the retention; the unpublished stay.
    const later = await pruneOutboxes(runtime.db, { hours: 168, batchSize: 10 }, { now: new Date(now.getTime() + 2 * HOUR), logger: testLogger() });
    assert.deepEqual(later, { control: 4, 'shard-0': 4, 'shard-1': 4 });
    for (const { name, em } of outboxes(runtime)) assert.deepEqual(await countsByKey(em()), { unpublished: 3 }, name);
    await Promise.all(outboxes(runtime).map(({ em }) => em().execute('delete from outbox_event')));
  });

  test('with the default batch of 5,000 rows, more rows than one batch all go; a retention of 0 keeps everything', async () => {
    const { runtime } = subgraph.service;
    const shard = runtime.db.em(0);
    await writeEvents(shard, 'old', 12_001, hoursBefore(300), hoursBefore(200));
    await writeEvents(shard, 'unpublished', 2, hoursBefore(300), null);

    assert.deepEqual(await pruneOutboxes(runtime.db, { hours: 0, batchSize: 5_000 }, { now, logger: testLogger() }), {});
    assert.deepEqual(await countsByKey(runtime.db.em(0)), { old: 12_001, unpublished: 2 }, 'a retention of 0 deleted nothing');

    // The configured defaults: 7 days, 5,000 rows per statement.
    assert.deepEqual(outboxRetentionSettings(runtime.config), { hours: 168, batchSize: 5_000 });
    const deleted = await pruneOutboxes(runtime.db, outboxRetentionSettings(runtime.config), { now, logger: testLogger() });
    assert.deepEqual(deleted, { control: 0, 'shard-0': 12_001, 'shard-1': 0 });
    assert.deepEqual(await countsByKey(runtime.db.em(0)), { unpublished: 2 });
    await runtime.db.em(0).execute('delete from outbox_event');
  });

  test('every outbox carries the index the pass reads published rows through, declared on the entity as in the migration', async () => {
    assert.deepEqual(await subgraph.service.runtime.db.schemaDrift(), []);
    for (const { name, em } of outboxes(subgraph.service.runtime)) {
      const [index] = await em().execute<Array<{ definition: string }>>(
        "select pg_get_indexdef(indexrelid) as definition from pg_index where indexrelid = 'outbox_event_published_at_index'::regclass",
      );
      assert.match(index?.definition ?? '', /\(published_at\) WHERE \(published_at IS NOT NULL\)/, name);
    }
  });
});

describe('outbox retention as a durable job', () => {
  // 00:22:30 UTC: the hourly pass (OUTBOX_RETENTION_CRON, minute 23) is 30 seconds away.
  const clock = new TestClock('2026-12-01T00:22:30Z');
  let first: TestSubgraph<object>;
  let second: TestSubgraph<object>;

  before(async () => {
    first = await startTestSubgraph(definition, loadConfig, { shards: 2, jobClock: clock });
    second = await startTestSubgraph(definition, loadConfig, { sharing: first, jobClock: clock });
    await first.service.runtime.relay.stop();
    await second.service.runtime.relay.stop();
  });

  after(async () => {
    await second?.destroy();
    await first?.destroy();
  });

  test('is scheduled hourly in the subgraph job queue; two instances run each occurrence once, deleting on every database', async () => {
    const { runtime } = first.service;
    const schedules = await runtime.db.globalEm().execute('select name, cron, timezone from pgboss.schedule where name = ?', [OUTBOX_RETENTION_QUEUE.name]);
    assert.deepEqual(schedules, [{ name: 'outbox.retention', cron: '23 * * * *', timezone: 'UTC' }]);
    // The job deletes by the machine's clock (the TestClock drives only the queue): old and recent relative to it.
    for (const { em } of outboxes(runtime)) {
      await writeEvents(em(), 'old', 5, "now() - interval '300 hours'", "now() - interval '200 hours'");
      await writeEvents(em(), 'recent', 2, "now() - interval '300 hours'", "now() - interval '1 hour'");
      await writeEvents(em(), 'unpublished', 1, "now() - interval '300 hours'", null);
    }

    await clock.tick(20_000);
    assert.deepEqual(await runtime.jobs.find(OUTBOX_RETENTION_QUEUE), [], 'not before minute 23');
    // Idle workers poll as the clock moves: each look moves it a second, until the occurrence's job has run.
    const [job] = await waitUntil(async () => {
      await clock.tick(1_000);
      const found = await runtime.jobs.find(OUTBOX_RETENTION_QUEUE);
      return found.length > 0 && found.every((entry) => entry.state === 'completed') ? found : undefined;
    }, 'the occurrence of minute 23 to run');
    assert.deepEqual(job!.output, { deleted: { control: 5, 'shard-0': 5, 'shard-1': 5 } });
    for (const { name, em } of outboxes(runtime)) assert.deepEqual(await countsByKey(em()), { recent: 2, unpublished: 1 }, name);
    assert.equal((await second.service.runtime.jobs.find(OUTBOX_RETENTION_QUEUE)).length, 1, 'one job for the occurrence across both instances');

    // The instance that ran it counted the deletions per database; the other counted none.
    const counted = async (subgraph: TestSubgraph<object>) => {
      const metric = await subgraph.service.runtime.metrics.registry.getSingleMetric('saldo_outbox_retention_deleted_total')?.get();
      return Object.fromEntries((metric?.values ?? []).map((value) => [String(value.labels['database']), value.value]));
    };
    const [a, b] = [await counted(first), await counted(second)];
    const expected = { control: 5, 'shard-0': 5, 'shard-1': 5 };
    assert.ok(
      (JSON.stringify(a) === JSON.stringify(expected) && Object.keys(b).length === 0) ||
        (JSON.stringify(b) === JSON.stringify(expected) && Object.keys(a).length === 0),
      `counters: first ${JSON.stringify(a)}, second ${JSON.stringify(b)}`,
    );
  });
});

describe('outbox retention of 0', () => {
  let subgraph: TestSubgraph<object>;

  before(async () => {
    subgraph = await startTestSubgraph(definition, loadConfig, { shards: 1, env: { OUTBOX_RETENTION_HOURS: '0' } });
    await subgraph.service.runtime.relay.stop();
  });

  after(async () => {
    await subgraph?.destroy();
  });

  test('schedules no pass, and a pass sent anyway deletes nothing', async () => {
    const { runtime } = subgraph.service;
    const schedules = await runtime.db.globalEm().execute('select name from pgboss.schedule where name = ?', [OUTBOX_RETENTION_QUEUE.name]);
    assert.deepEqual(schedules, []);
    await writeEvents(runtime.db.em(0), 'old', 3, "now() - interval '10000 hours'", "now() - interval '9000 hours'");
    const id = (await runtime.jobs.send(OUTBOX_RETENTION_QUEUE, {}))!;
    const done = await waitUntil(async () => {
      const job = await runtime.jobs.get(OUTBOX_RETENTION_QUEUE, id);
      return job?.state === 'completed' ? job : undefined;
    }, 'the pass sent by hand to run');
    assert.deepEqual(done.output, { deleted: {} });
    assert.deepEqual(await countsByKey(runtime.db.em(0)), { old: 3 });
  });
});
