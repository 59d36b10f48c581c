// The subgraph runtime hosting durable jobs (@saldo/jobs): queues declared with the definition, workers in a request
// context over the subgraph's databases, schedules once across instances; against the machine's PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RequestContext } from '@mikro-orm/postgresql';
import { parseConfig, z } from '@saldo/config';
import { TestClock, defineQueue, schedule, work } from '@saldo/jobs';
import { subgraphConfigSchema, type SubgraphConfig, type SubgraphDefinition } from '@saldo/subgraph';
import { startTestSubgraph, waitUntil, type TestSubgraph } from '@saldo/testing';
import { probeSubgraph } from './test-fixtures/probe-subgraph.js';

describe('jobs in the subgraph runtime', () => {
  const queue = defineQueue<{ tenantId: string }>({ name: 'probe.recompute', payload: z.object({ tenantId: z.string() }), policy: 'stately' });
  const ticks = defineQueue<{ source: string }>({ name: 'probe.tick' });
  type ProbeServices = { ran: Array<{ tenantId: string; instance: string; shards: number; shardAnswered: boolean }>; release: () => void; gate: Promise<void> };
  type ProbeConfig = SubgraphConfig;

  function probeDefinition(instanceName: string): SubgraphDefinition<ProbeServices, ProbeConfig> {
    return probeSubgraph<ProbeServices, ProbeConfig>({
      createServices: () => {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        return { ran: [], release, gate };
      },
      jobs: {
        queues: [queue, ticks],
        workers: (services, runtime) => [
          work(queue, async (job) => {
            await services.gate;
            // Each job works in its own request context: a fresh control fork, and the shards reachable as usual.
            assert.equal(RequestContext.getEntityManager(job.em.name), job.em);
            const [row] = await job.em.execute<Array<{ n: number }>>('select count(*)::int as n from shard');
            const onShard = await runtime.db.em(0).execute<Array<{ one: number }>>('select 1 as one');
            services.ran.push({ tenantId: job.data.tenantId, instance: instanceName, shards: row!.n, shardAnswered: onShard.length === 1 });
          }),
        ],
        schedules: () => [schedule(ticks, { cron: '0 3 1 * *', tz: 'Europe/Berlin', data: { source: 'monthly' } })],
      },
    });
  }
  const loadConfig = (env: Record<string, string>) => parseConfig('probe', subgraphConfigSchema, env);
  let first: TestSubgraph<ProbeServices, ProbeConfig>;
  let second: TestSubgraph<ProbeServices, ProbeConfig>;

  before(async () => {
    first = await startTestSubgraph(probeDefinition('first'), loadConfig, { shards: 1 });
    second = await startTestSubgraph(probeDefinition('second'), loadConfig, { sharing: first });
  });

  after(async () => {
    await second?.destroy();
    await first?.destroy();
  });

  test('two instances on one control database run a job sent through runtime.jobs once, and stop after it', async () => {
    const { jobs } = first.service.runtime;
    const id = (await jobs.send(queue, { tenantId: 'tenant-1' }, { singletonKey: 'tenant-1' }))!;
    await waitUntil(async () => (await jobs.get(queue, id))?.state === 'active', 'an instance to take the job');
    // stately: one waiting job per key besides the running one; a further send is dropped.
    assert.ok(await second.service.runtime.jobs.send(queue, { tenantId: 'tenant-1' }, { singletonKey: 'tenant-1' }));
    assert.equal(await second.service.runtime.jobs.send(queue, { tenantId: 'tenant-1' }, { singletonKey: 'tenant-1' }), null);

    first.service.services.release();
    second.service.services.release();
    await waitUntil(async () => (await jobs.find(queue)).every((job) => job.state === 'completed'), 'both jobs to complete');
    const ran = [...first.service.services.ran, ...second.service.services.ran];
    assert.equal(ran.length, 2);
    assert.ok(ran.every((entry) => entry.tenantId === 'tenant-1' && entry.shards === 1 && entry.shardAnswered));

    // The subgraph's schedules and, in every subgraph, the periodic rebalance of its shards (SHARD_REBALANCE_CRON) and
    // the hourly outbox retention pass (OUTBOX_RETENTION_CRON).
    const schedules = await first.service.runtime.db.globalEm().execute('select name, cron, timezone from pgboss.schedule order by name');
    assert.deepEqual(schedules, [
      { name: 'outbox.retention', cron: '23 * * * *', timezone: 'UTC' },
      { name: ticks.name, cron: '0 3 1 * *', timezone: 'Europe/Berlin' },
      { name: 'sharding.rebalance', cron: '*/5 * * * *', timezone: 'UTC' },
    ]);
  });
});

describe('a subgraph schedule on a hand-driven clock', () => {
  const ticks = defineQueue<{ source: string }>({ name: 'probe.monthly' });
  const definition = probeSubgraph({
    createServices: () => ({}),
    jobs: { queues: [ticks], schedules: () => [schedule(ticks, { cron: '0 3 1 * *', tz: 'Europe/Berlin', data: { source: 'monthly' } })] },
  });
  const loadConfig = (env: Record<string, string>) => parseConfig('probe', subgraphConfigSchema, env);
  // 02:59:30 in Berlin on the 1st: the monthly occurrence is 30 seconds away.
  const clock = new TestClock('2026-12-01T01:59:30Z');
  let first: TestSubgraph<object>;
  let second: TestSubgraph<object>;

  before(async () => {
    // Long intervals: every timer a tick passes fires, and only the schedule matters here.
    const env = { JOBS_POLLING_INTERVAL_SECONDS: '30', JOBS_SUPERVISE_INTERVAL_SECONDS: '60', JOBS_MONITOR_INTERVAL_SECONDS: '60' };
    first = await startTestSubgraph(definition, loadConfig, { shards: 1, jobClock: clock, env });
    second = await startTestSubgraph(definition, loadConfig, { sharing: first, jobClock: clock, env });
  });

  after(async () => {
    await second?.destroy();
    await first?.destroy();
  });

  test('two instances create the monthly job once when its time comes', async () => {
    const { jobs } = first.service.runtime;
    await clock.tick(20_000);
    assert.deepEqual(await jobs.find(ticks), [], 'not before 03:00');
    await clock.tick(20_000);
    const created = await waitUntil(async () => {
      const found = await jobs.find(ticks);
      return found.length > 0 ? found : undefined;
    }, 'the monthly job');
    assert.deepEqual(
      created.map((job) => job.data),
      [{ source: 'monthly' }],
    );
    // Well past the occurrence: still the one job (no second instance's duplicate arrived late).
    await clock.tick(50_000);
    assert.equal((await second.service.runtime.jobs.find(ticks)).length, 1);
  });
});
