// The durable job queue (@saldo/jobs, pg-boss in a subgraph's control database) against the machine's PostgreSQL:
// once across instances, crash recovery, transactional sends, deduplication, retries, schedules and graceful stop. The
// subgraph runtime that hosts it has its tests in packages/subgraph (subgraph-jobs.test.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { MikroORM } from '@mikro-orm/postgresql';
import { z } from '@saldo/config';
import {
  JobQueue,
  TestClock,
  defineQueue,
  deterministicJobId,
  schedule,
  work,
  type AnyQueueDefinition,
  type JobContext,
  type JobSettings,
  type QueueDefinition,
} from '@saldo/jobs';
import { createLogger, type Logger } from '@saldo/service';
import { dropDatabases, ensureDatabases, openOrm } from '@saldo/sharding';
import { TEST_LOG_LEVEL, TEST_POSTGRES_URL, testLogger, uniquePrefix, waitUntil } from '@saldo/testing';

const logger = testLogger();

/** Log lines as JSON objects, so tests can assert what was logged (failures must never be silent). */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const write = (line: string) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
    if (TEST_LOG_LEVEL === 'debug') process.stdout.write(`${line}\n`);
  };
  return { logger: createLogger({ service: 'test', level: 'debug', format: 'json', write }), lines };
}

/** Short intervals: idle workers poll twice a second, expired attempts are found within a second. */
const FAST: Partial<JobSettings> = { pollingIntervalSeconds: 0.5, superviseIntervalSeconds: 1, monitorIntervalSeconds: 1, stopTimeoutSeconds: 5, poolMax: 2 };

let queueCounter = 0;
/** A queue of its own per test: tests share one control database. */
function testQueue<T extends object>(label: string, options: Omit<Parameters<typeof defineQueue<T>>[0], 'name'> = {}): QueueDefinition<T> {
  queueCounter += 1;
  return defineQueue<T>({ name: `test.${label}-${queueCounter}`, ...options });
}

// Tests use queues of their own (the cron test a schema of its own), so they run concurrently.
describe('durable jobs', { concurrency: true }, () => {
  const prefix = uniquePrefix('jobs');
  const controlUrl = `${TEST_POSTGRES_URL}/${prefix}_control`;
  const shardUrl = `${TEST_POSTGRES_URL}/${prefix}_shard`;
  const instances: JobQueue[] = [];
  let control: MikroORM;
  let shard: MikroORM;

  /** A started queue instance on the shared control database; stopped after the file. */
  async function instance(
    name: string,
    queues: AnyQueueDefinition[],
    options: { settings?: Partial<JobSettings>; logger?: Logger; clock?: TestClock } = {},
  ): Promise<JobQueue> {
    const jobs = new JobQueue({
      url: controlUrl,
      name,
      logger: options.logger ?? logger,
      settings: { ...FAST, ...options.settings },
      entityManagers: () => [control.em, shard.em],
      ...(options.clock ? { clock: options.clock } : {}),
    });
    instances.push(jobs);
    await jobs.start(queues);
    return jobs;
  }

  before(async () => {
    await ensureDatabases([controlUrl, shardUrl]);
    control = await openOrm({ url: controlUrl, entities: [], migrations: [], poolMax: 2, logger });
    shard = await openOrm({ url: shardUrl, entities: [], migrations: [], poolMax: 2, logger });
    await control.em.fork().execute('create table job_effect (job_id uuid primary key, note text not null)');
  });

  after(async () => {
    for (const jobs of instances) await jobs.stop();
    await control.close(true);
    await shard.close(true);
    await dropDatabases([controlUrl, shardUrl]);
  });

  test('a job runs once across two instances competing for the same queue', async () => {
    const queue = testQueue<{ n: number }>('once', { payload: z.object({ n: z.number().int() }) });
    const runs = new Map<number, string[]>();
    const handler = (instanceName: string) => async (job: JobContext<{ n: number }>) => {
      runs.set(job.data.n, [...(runs.get(job.data.n) ?? []), instanceName]);
      return { by: instanceName };
    };
    const a = await instance('a', [queue]);
    const b = await instance('b', [queue]);
    await a.work(work(queue, handler('a'), { concurrency: 2 }));
    await b.work(work(queue, handler('b'), { concurrency: 2 }));

    const ids = await Promise.all(Array.from({ length: 30 }, (_, n) => (n % 2 === 0 ? a : b).send(queue, { n })));
    await waitUntil(async () => (await Promise.all(ids.map((id) => a.get(queue, id!)))).every((job) => job?.state === 'completed'), '30 completed jobs');

    assert.equal(runs.size, 30);
    for (const [n, by] of runs) assert.equal(by.length, 1, `job ${n} ran ${by.length} times (${by.join(',')})`);
    // Once all are completed nothing can claim them again; the stored outputs name the one instance that ran each.
    const outputs = await Promise.all(ids.map((id) => b.get(queue, id!)));
    for (const job of outputs) assert.deepEqual(job?.output, { by: runs.get(job!.data.n)![0] });
  });

  /**
   * A worker process takes the job and is killed with it (SIGKILL: no stop, no cleanup); a surviving instance that
   * starts working only afterwards completes it once the killed attempt has expired or its heartbeat lapsed.
   */
  async function crashAndRecover(t: TestContext, queue: QueueDefinition<{ n: number }>, fixtureArgs: string[]): Promise<void> {
    const survivor = await instance(`survivor-${queue.name}`, [queue]);
    const id = (await survivor.send(queue, { n: 1 }))!;

    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./test-fixtures/crash-worker.js', import.meta.url)), controlUrl, queue.name, ...fixtureArgs],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    t.after(() => child.kill('SIGKILL'));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitUntil(() => output.includes(`active ${id}`), 'the doomed process to hold the job');
    assert.equal((await survivor.get(queue, id))?.state, 'active');
    child.kill('SIGKILL');
    await once(child, 'exit');

    // The survivor starts working only now, so the first attempt was certainly the killed process's.
    const attempts: number[] = [];
    await survivor.work(
      work(queue, async (job) => {
        attempts.push(job.retryCount);
        await control.em.fork().execute('insert into job_effect (job_id, note) values (?, ?)', [job.id, 'after crash']);
      }),
    );
    const done = await waitUntil(async () => {
      const job = await survivor.get(queue, id);
      return job?.state === 'completed' ? job : undefined;
    }, 'the job to complete after the crash');
    assert.equal(done.retryCount, 1, 'the killed attempt counts as one failed attempt');
    assert.deepEqual(attempts, [1]);
    const effects = await control.em.fork().execute('select note from job_effect where job_id = ?', [id]);
    assert.deepEqual(effects, [{ note: 'after crash' }]);
  }

  test('the job of a process killed mid-job is retried after it expires, and completes elsewhere', async (t) => {
    await crashAndRecover(t, testQueue<{ n: number }>('crash', { expireInSeconds: 1, retry: { limit: 2 } }), ['1']);
  });

  test('a long job of a killed process is retried once its heartbeat lapses, long before it would expire', async (t) => {
    // 15 minutes to expire; the heartbeat (10 s, the least pg-boss allows) is what notices the crash.
    await crashAndRecover(t, testQueue<{ n: number }>('heartbeat', { expireInSeconds: 900, heartbeatSeconds: 10, retry: { limit: 2 } }), ['900', '10']);
  });

  test('a job sent in a control-database transaction exists only if it commits', async () => {
    const queue = testQueue<{ note: string }>('tx', { payload: z.object({ note: z.string() }) });
    const jobs = await instance('tx', [queue]);
    const ran: string[] = [];
    await jobs.work(work(queue, async (job) => void ran.push(job.data.note)));

    let rolledBackId: string | null = null;
    await assert.rejects(
      control.em.fork().transactional(async (em) => {
        rolledBackId = await jobs.send(queue, { note: 'rolled back' }, { em });
        await em.execute("insert into job_effect (job_id, note) values (?, 'rolled back')", [rolledBackId]);
        // Not visible outside the transaction before it ends.
        assert.equal(await jobs.get(queue, rolledBackId!), null);
        throw new Error('abort');
      }),
      /abort/,
    );
    assert.ok(rolledBackId);
    assert.equal(await jobs.get(queue, rolledBackId), null, 'the rolled-back job does not exist');

    const committedId = await control.em.fork().transactional(async (em) => {
      const id = await jobs.send(queue, { note: 'committed' }, { em });
      assert.equal(await jobs.get(queue, id!), null, 'uncommitted: invisible to others');
      return id!;
    });
    await waitUntil(async () => (await jobs.get(queue, committedId))?.state === 'completed', 'the committed job to run');
    assert.deepEqual(ran, ['committed']);
    const effects = await control.em.fork().execute("select count(*)::int as n from job_effect where note = 'rolled back'");
    assert.deepEqual(effects, [{ n: 0 }]);
  });

  test('a transactional send refuses an EntityManager without a transaction or on a shard', async () => {
    const queue = testQueue<{ note: string }>('tx-guard');
    const jobs = await instance('tx-guard', [queue]);
    await assert.rejects(jobs.send(queue, { note: 'x' }, { em: control.em.fork() }), /no open transaction/);
    await assert.rejects(
      shard.em.fork().transactional((em) => jobs.send(queue, { note: 'x' }, { em })),
      /jobs live in its control database .*outbox event/,
    );
    assert.deepEqual(await jobs.find(queue), []);
  });

  test('singleton keys and deterministic ids enqueue the same work once', async () => {
    const exclusive = testQueue<{ tenantId: string }>('exclusive', { policy: 'exclusive' });
    const standard = testQueue<{ tenantId: string; period: string }>('statement');
    const jobs = await instance('dedupe', [exclusive, standard]);

    const first = await jobs.send(exclusive, { tenantId: 't1' }, { singletonKey: 't1' });
    assert.ok(first);
    assert.equal(await jobs.send(exclusive, { tenantId: 't1' }, { singletonKey: 't1' }), null, 'same key while one waits: dropped');
    assert.ok(await jobs.send(exclusive, { tenantId: 't2' }, { singletonKey: 't2' }), 'another key is its own job');

    const id = deterministicJobId(standard, 't1', '2026-10');
    assert.equal(id, deterministicJobId(standard.name, 't1', '2026-10'));
    assert.notEqual(id, deterministicJobId(standard, 't1', '2026-11'));
    assert.equal(await jobs.send(standard, { tenantId: 't1', period: '2026-10' }, { id }), id);
    assert.equal(await jobs.send(standard, { tenantId: 't1', period: '2026-10' }, { id }), null, 'a second send with the same id does nothing');

    // A monthly pass run twice (two instances, or a resumed run) inserts each tenant-month once.
    const pass = ['t1', 't2', 't3'].map((tenantId) => ({
      data: { tenantId, period: '2026-10' },
      options: { id: deterministicJobId(standard, tenantId, '2026-10') },
    }));
    const inserted = await jobs.sendMany(standard, pass);
    assert.deepEqual(new Set(inserted), new Set([deterministicJobId(standard, 't2', '2026-10'), deterministicJobId(standard, 't3', '2026-10')]));
    assert.deepEqual(await jobs.sendMany(standard, pass), []);
    assert.equal((await jobs.find(standard)).length, 3);
    assert.equal((await jobs.find(exclusive, { singletonKey: 't1' })).length, 1);
    // Nothing works these queues here: every job is still waiting, until it is cancelled.
    assert.equal((await jobs.find(standard, { queued: true })).length, 3);
    await jobs.cancel(standard, deterministicJobId(standard, 't1', '2026-10'));
    assert.deepEqual((await jobs.find(standard, { queued: true })).map((job) => job.data.tenantId).sort(), ['t2', 't3']);
  });

  test('a payload that does not match the queue schema is refused before it is sent', async () => {
    const queue = testQueue<{ tenantId: string }>('schema', { payload: z.object({ tenantId: z.uuid() }) });
    const jobs = await instance('schema', [queue]);
    await assert.rejects(jobs.send(queue, { tenantId: 'not-a-uuid' }), /Invalid payload for queue test\.schema-\d+: tenantId/);
    assert.deepEqual(await jobs.find(queue), []);
    const undeclared = testQueue<{ n: number }>('undeclared');
    await assert.rejects(jobs.send(undeclared, { n: 1 }), /is not declared/);
  });

  test('a failing job is retried with backoff and then fails for good, logged and visible', async () => {
    const queue = testQueue<{ n: number }>('retry', { retry: { limit: 2, delaySeconds: 1, backoff: true, maxDelaySeconds: 2 } });
    const { logger: captured, lines } = capturingLogger();
    const jobs = await instance('retry', [queue], { logger: captured });
    const attempts: Array<{ retryCount: number; at: number }> = [];
    await jobs.work(
      work(queue, async (job) => {
        attempts.push({ retryCount: job.retryCount, at: performance.now() });
        throw new Error(`boom ${job.retryCount}`);
      }),
    );
    const id = (await jobs.send(queue, { n: 1 }))!;
    const failed = await waitUntil(async () => {
      const job = await jobs.get(queue, id);
      return job?.state === 'failed' ? job : undefined;
    }, 'the job to fail for good');

    assert.deepEqual(
      attempts.map((attempt) => attempt.retryCount),
      [0, 1, 2],
    );
    assert.equal(failed.retryCount, 2);
    assert.match(JSON.stringify(failed.output), /boom 2/);
    // Backoff: no retry ran before its delay (at least retryDelay = 1 s; the second at least 2 s, the cap).
    assert.ok(attempts[1]!.at - attempts[0]!.at >= 900, `first retry after ${attempts[1]!.at - attempts[0]!.at} ms`);
    assert.ok(attempts[2]!.at - attempts[1]!.at >= 1900, `second retry after ${attempts[2]!.at - attempts[1]!.at} ms`);

    const failures = lines.filter((line) => line['job'] === id);
    assert.deepEqual(
      failures.map((line) => [line['level'], line['msg']]),
      [
        ['warn', 'job attempt failed; it will be retried'],
        ['warn', 'job attempt failed; it will be retried'],
        ['error', 'job failed for good'],
      ],
    );
    assert.match(JSON.stringify(failures[2]!['error']), /boom 2/);
  });

  test('a batch worker runs its jobs together and settles each on its own outcome', async () => {
    const queue = testQueue<{ n: number }>('batch', { retry: { limit: 0 } });
    const { logger: captured, lines } = capturingLogger();
    const jobs = await instance('batch', [queue], { logger: captured });
    const ids = await jobs.sendMany(
      queue,
      Array.from({ length: 10 }, (_, n) => ({ data: { n } })),
    );
    let concurrent = 0;
    let peak = 0;
    await jobs.work(
      work(
        queue,
        async (job) => {
          concurrent += 1;
          peak = Math.max(peak, concurrent);
          await new Promise((resolve) => setImmediate(resolve));
          concurrent -= 1;
          if (job.data.n === 3) throw new Error('three is bad');
          return { doubled: job.data.n * 2 };
        },
        { batchSize: 5 },
      ),
    );
    const settled = await waitUntil(async () => {
      const all = await jobs.find(queue);
      return all.every((job) => job.state === 'completed' || job.state === 'failed') ? all : undefined;
    }, 'every job of the batches to settle');
    assert.equal(settled.length, ids.length);
    for (const job of settled) {
      if (job.data.n === 3) {
        assert.equal(job.state, 'failed');
        assert.match(JSON.stringify(job.output), /three is bad/);
      } else {
        assert.equal(job.state, 'completed');
        assert.deepEqual(job.output, { doubled: job.data.n * 2 });
      }
    }
    assert.ok(peak > 1, `jobs of a batch ran together (peak ${peak})`);
    const failures = lines.filter((line) => line['level'] === 'error' && line['msg'] === 'job failed for good');
    assert.equal(failures.length, 1);
  });

  test('a job that failed for good is copied to its dead-letter queue', async () => {
    const dead = testQueue<{ n: number }>('dead');
    // The dead-letter queue is not declared: it is created as a standard queue with the queue that names it.
    const queue = testQueue<{ n: number }>('with-dead-letter', { retry: { limit: 0 }, deadLetter: dead.name });
    const { logger: captured } = capturingLogger();
    const jobs = await instance('dead-letter', [queue], { logger: captured });
    await jobs.work(work(queue, async () => Promise.reject(new Error('poison'))));
    const id = (await jobs.send(queue, { n: 7 }))!;
    const [copy] = await waitUntil(async () => {
      const found = await jobs.find(dead);
      return found.length > 0 ? found : undefined;
    }, 'the dead letter');
    assert.deepEqual(copy!.data, { n: 7 });
    assert.equal((await jobs.get(queue, id))?.state, 'failed');
  });

  test('a schedule creates exactly one job per occurrence across two instances', async () => {
    // A schema of its own: the hand-driven clock replaces pg-boss's notion of "now" for the instances that use it.
    const queue = testQueue<{ kind: string }>('cron');
    const clock = new TestClock('2026-11-30T23:58:30Z');
    // Long intervals: every timer a tick passes fires, and only the schedule matters here.
    const settings = { schema: `pgboss_cron_${queueCounter}`, pollingIntervalSeconds: 30, superviseIntervalSeconds: 60, monitorIntervalSeconds: 60 };
    const a = await instance('cron-a', [queue], { settings, clock });
    const b = await instance('cron-b', [queue], { settings, clock });
    const every = schedule(queue, { cron: '* * * * *', tz: 'Europe/Berlin', data: { kind: 'tick' } });
    await a.schedule([every]);
    await b.schedule([every]);

    for (let minute = 1; minute <= 3; minute += 1) {
      await clock.tick(60_000);
      const jobs = await waitUntil(async () => {
        const found = await a.find(queue);
        return found.length >= minute ? found : undefined;
      }, `the job of occurrence ${minute}`);
      assert.equal(jobs.length, minute, `after ${minute} minute(s): ${jobs.length} jobs`);
      assert.ok(jobs.every((job) => job.data.kind === 'tick'));
    }
    // 20 s more (to 00:01:50) is no new occurrence, and no late duplicate of the last one appeared.
    await clock.tick(20_000);
    assert.equal((await a.find(queue)).length, 3);
  });

  test('a schedule removed from the declaration stops firing', async () => {
    const queue = testQueue<{ kind: string }>('unschedule');
    const jobs = await instance('unschedule', [queue]);
    await jobs.schedule([
      schedule(queue, { cron: '0 3 1 * *', data: { kind: 'monthly' } }),
      schedule(queue, { cron: '0 * * * *', key: 'hourly', data: { kind: 'hourly' } }),
    ]);
    await jobs.schedule([schedule(queue, { cron: '0 3 1 * *', data: { kind: 'monthly' } })]);
    const other = await instance('unschedule-2', [queue]);
    // The schedules live in the database: a second instance sees the same single schedule.
    await other.schedule([schedule(queue, { cron: '0 3 1 * *', data: { kind: 'monthly' } })]);
    const rows = await control.em.fork().execute(`select name, key, cron from pgboss.schedule where name = ?`, [queue.name]);
    assert.deepEqual(rows, [{ name: queue.name, key: '', cron: '0 3 1 * *' }]);
  });

  test('stop waits for a running job, and a job outlasting the bound is handed back and retried', async () => {
    const queue = testQueue<{ n: number }>('graceful', { retry: { limit: 1 } });
    const draining = await instance('draining', [queue]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const events: string[] = [];
    await draining.work(
      work(queue, async (job) => {
        events.push(`started ${job.data.n}`);
        await gate;
        // The databases are still open while a stopping instance finishes its job.
        await job.em.execute('insert into job_effect (job_id, note) values (?, ?)', [job.id, 'graceful']);
        events.push(`finished ${job.data.n}`);
      }),
    );
    const id = (await draining.send(queue, { n: 1 }))!;
    await waitUntil(() => events.includes('started 1'), 'the job to start');
    const stopped = draining.stop().then(() => events.push('stopped'));
    await waitUntil(() => draining.activity().some((worker) => worker.state === 'stopping' && worker.running === 1), 'the worker to drain');
    assert.ok(!events.includes('stopped'), 'stop returned while its job was running');
    release();
    await stopped;
    assert.deepEqual(events, ['started 1', 'finished 1', 'stopped']);
    const observer = await instance('observer', [queue]);
    assert.equal((await observer.get(queue, id))?.state, 'completed');

    // Past the bound (1 s here), stop gives the job back: its attempt fails and it is retried elsewhere.
    const impatient = await instance('impatient', [queue], { settings: { stopTimeoutSeconds: 1 } });
    const stuck = new Promise<void>(() => undefined);
    let held = '';
    await impatient.work(
      work(queue, async (job) => {
        held = job.id;
        await Promise.race([stuck, once(job.signal, 'abort')]);
        throw new Error('aborted by shutdown');
      }),
    );
    const longId = (await impatient.send(queue, { n: 2 }))!;
    await waitUntil(() => held === longId, 'the long job to start');
    await impatient.stop();
    const handedBack = await observer.get(queue, longId);
    assert.equal(handedBack?.state, 'retry');
    await observer.work(work(queue, async () => undefined));
    await waitUntil(async () => (await observer.get(queue, longId))?.state === 'completed', 'the handed-back job to complete');
  });

  test('queue depth per state is reported for metrics', async () => {
    const queue = testQueue<{ n: number }>('depth');
    const jobs = await instance('depth', [queue]);
    await jobs.sendMany(queue, [{ data: { n: 1 } }, { data: { n: 2 } }, { data: { n: 3 }, options: { startAfter: 3600 } }]);
    const depth = await waitUntil(
      async () => (await jobs.stats()).find((entry) => entry.queue === queue.name && entry.queued === 3),
      'the monitor to count the queue',
    );
    assert.deepEqual(depth, { queue: queue.name, queued: 3, deferred: 1, ready: 2, active: 0, failed: 0, total: 3 });
  });

  test('an owner without queues holds no connection until it declares one', async () => {
    const name = `lazy-${++queueCounter}`;
    const connections = async () => {
      const [row] = await control.em
        .fork()
        .execute<Array<{ n: number }>>('select count(*)::int as n from pg_stat_activity where application_name = ?', [`saldo-${name}-jobs`]);
      return row!.n;
    };
    const jobs = await instance(name, []);
    assert.equal(await connections(), 0);
    assert.deepEqual(jobs.activity(), []);
    const queue = testQueue<{ n: number }>('lazy');
    await jobs.declare([queue]);
    const id = await jobs.send(queue, { n: 1 });
    assert.equal((await jobs.get(queue, id!))?.state, 'created');
    assert.ok((await connections()) > 0);
  });

  test('a queue whose policy changed is refused at start, with the reason', async () => {
    const name = `test.policy-${++queueCounter}`;
    await instance('policy-1', [defineQueue({ name, policy: 'standard' })]);
    await assert.rejects(instance('policy-2', [defineQueue({ name, policy: 'exclusive' })]), /policy cannot change/);
  });
});
