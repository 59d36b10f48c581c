// A subgraph instance's shard-move worker in a process of its own, which shard-move-crash.test.ts kills with SIGKILL
// (no stop, no cleanup: a crash). Arguments: control database URL, comma-separated shard URLs, and the phase to stop
// in ('' runs moves to their end). Prints `ready` once it works the queue and `at <phase>` when a move reaches that
// phase, where it then hangs (inside the fence for FENCED and VERIFYING, holding the tenant's fence lock).
import { JobQueue } from '@saldo/jobs';
import { createLogger } from '@saldo/service';
import { ShardAdministration, ShardedDatabase } from '@saldo/sharding';
import { SHARD_MOVE_QUEUE, scheduleShardMove, shardMoveWorker } from '@saldo/subgraph';
import { ledgerLikeSchema } from './ledger-like.js';

const [controlUrl, shardUrls, stopAt] = process.argv.slice(2);
if (!controlUrl || !shardUrls) throw new Error('usage: move-worker <control url> <shard urls> [phase]');

const logger = createLogger({ service: 'move-worker', level: 'error', write: (line) => process.stderr.write(`${line}\n`) });
const db = await ShardedDatabase.open({ controlUrl, shardUrls: shardUrls.split(','), poolMax: 4, createDatabases: false }, ledgerLikeSchema, logger);
const jobs = new JobQueue({ url: controlUrl, name: 'move-worker', logger, settings: { pollingIntervalSeconds: 0.5, superviseIntervalSeconds: 1, poolMax: 2 } });
await jobs.start([SHARD_MOVE_QUEUE]);
const administration = new ShardAdministration('ledger-like', db, logger, {
  schedule: scheduleShardMove(jobs),
  mover: {
    graceMs: 0,
    // The kill comes as a phase begins, so the number of batches is not what is tested; batches of 50 made the restarted
    // move apply the two writers' ~400 changes/s in 50-change rounds, which on a loaded machine took a minute and more.
    batchSize: 500,
    onPhase: async (_move, phase) => {
      if (phase !== stopAt) return;
      process.stdout.write(`at ${phase}\n`);
      await new Promise(() => undefined);
    },
  },
});
await jobs.work(shardMoveWorker(() => administration, jobs));
process.stdout.write('ready\n');
