// A shard move's job in a worker process killed (SIGKILL) in the middle of a phase - while copying, inside the fence
// holding the tenant's fence lock, and after the switch before cleanup - while the tenant keeps writing: a restarted
// worker picks the job up again (its heartbeat lapsed) and the move ends CLEANED with every acknowledged write exactly
// once on the new shard, no write failed, the ledger adding up and the old shard clean.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { OutboxRelay } from '@saldo/events';
import { JobQueue } from '@saldo/jobs';
import { ShardMover, ShardedDatabase, dropDatabases, type MoveState, type ShardingConfig } from '@saldo/sharding';
import { SHARD_MOVE_QUEUE, scheduleShardMove } from '@saldo/subgraph';
import { TEST_POSTGRES_URL, testLogger, uniquePrefix } from './harness.js';
import { ledgerLikeSchema, seedTenant, tenantRows, write } from './test-fixtures/ledger-like.js';
import { waitUntil } from './wait.js';
import { startShardRelay } from './test-fixtures/shard-relay.js';

const prefix = uniquePrefix('movecrash');
const urls = { control: `${TEST_POSTGRES_URL}/${prefix}_control`, shards: [0, 1].map((index) => `${TEST_POSTGRES_URL}/${prefix}_shard_${index}`) };
const logger = testLogger();
const config: ShardingConfig = { controlUrl: urls.control, shardUrls: urls.shards, poolMax: 6, createDatabases: true };

/** Starts a worker process; resolves once it works the move queue. `lines` collects what it prints. */
async function startWorker(t: TestContext, stopAt: MoveState | ''): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./test-fixtures/move-worker.js', import.meta.url)), urls.control, urls.shards.join(','), stopAt],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  await waitUntil(() => lines.includes('ready') || child.exitCode !== null, 'the worker process to start', { timeoutMs: 30_000 });
  assert.equal(child.exitCode, null, 'the worker process started');
  return { child, lines };
}

describe('a shard move whose worker process is killed', () => {
  let db: ShardedDatabase;
  let jobs: JobQueue;
  let relay: OutboxRelay;

  before(async () => {
    db = await ShardedDatabase.open(config, ledgerLikeSchema, logger);
    // This instance sends jobs and relays the outbox (the fence waits for it); it runs no move worker.
    jobs = new JobQueue({ url: urls.control, name: 'move-crash-test', logger, settings: { runWorkers: false, poolMax: 2, superviseIntervalSeconds: 1 } });
    await jobs.start([SHARD_MOVE_QUEUE]);
    relay = startShardRelay(db, logger);
  });

  after(async () => {
    await relay?.stop();
    await jobs?.stop();
    await db?.close();
    await dropDatabases([urls.control, ...urls.shards]);
  });

  for (const phase of ['COPYING', 'VERIFYING', 'SWITCHED'] as const) {
    test(`killed in ${phase}${phase === 'VERIFYING' ? ' (inside the fence)' : ''}: a restarted worker resumes it to a clean move`, async (t) => {
      const tenantId = await seedTenant(db, 150);
      const source = (await db.directory.lookupOne(tenantId))!;
      let writing = true;
      const acknowledged: number[] = [];
      const errors: unknown[] = [];
      // Two writers at up to 50 writes/s each through the directory, throughout the move and the crash.
      const writers = Array.from({ length: 2 }, async (_, writer) => {
        while (writing) {
          const begun = Date.now();
          try {
            acknowledged.push(await write(db, tenantId, -1, `w${writer}`));
          } catch (error) {
            errors.push(error);
          }
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, 20 - (Date.now() - begun))));
        }
      });

      // The writers stop however the test ends (a failed assertion must not leave them running).
      t.after(async () => {
        writing = false;
        await Promise.all(writers);
      });

      const doomed = await startWorker(t, phase);
      const mover = new ShardMover(db, logger);
      const move = await mover.start(tenantId, 1 - source);
      await scheduleShardMove(jobs)(move.id);
      await waitUntil(() => doomed.lines.includes(`at ${phase}`), `the worker to reach ${phase}`, { timeoutMs: 60_000 });
      const atCrash = acknowledged.length;
      doomed.child.kill('SIGKILL');
      await once(doomed.child, 'exit');
      // Writes go on between the crash and the restart (inside the fence they waited; the lock died with the process).
      await waitUntil(() => acknowledged.length >= atCrash + 10, 'writes after the crash');

      await startWorker(t, '');
      let last: string | undefined;
      const done = await waitUntil(
        async () => {
          const current = await mover.get(move.id);
          last = `${current?.state} (copied ${current?.copiedRows}, applied ${current?.appliedChanges}, error ${current?.error})`;
          return current?.state === 'CLEANED' || current?.state === 'FAILED' ? current : undefined;
        },
        'the restarted worker to finish the move',
        { timeoutMs: 180_000, intervalMs: 100 },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; the move was last ${last}`);
      });
      const atEnd = acknowledged.length;
      await waitUntil(() => acknowledged.length >= atEnd + 10, 'writes after the move');
      writing = false;
      await Promise.all(writers);

      assert.equal(done.state, 'CLEANED', done.error ?? '');
      assert.deepEqual(errors, [], 'no write failed');
      assert.equal(await db.directory.lookupOne(tenantId), 1 - source);
      const target = db.em(1 - source);
      const [account] = await target.execute<{ balance: string; version: number }[]>('select balance::text, version from account where tenant_id = ?', [
        tenantId,
      ]);
      const entries = await target.execute<{ account_version: number; amount: string }[]>(
        'select account_version, amount::text from entry where tenant_id = ? order by account_version',
        [tenantId],
      );
      // Every acknowledged write exactly once: versions 1..n without gap or duplicate, and the balance is their sum.
      assert.equal(new Set(acknowledged).size, acknowledged.length, 'no version acknowledged twice');
      assert.equal(account!.version, 150 + acknowledged.length);
      assert.deepEqual(
        entries.map((entry) => entry.account_version),
        Array.from({ length: account!.version }, (_, index) => index + 1),
      );
      assert.equal(
        BigInt(account!.balance),
        entries.reduce((sum, entry) => sum + BigInt(entry.amount), 0n),
      );
      assert.deepEqual(await tenantRows(db, source, tenantId), { account: 0, entry: 0, item: 0, profile: 0, outbox_event: 0 }, 'the old shard is clean');
    });
  }
});
