// A worker process that job-queue.test.ts kills in the middle of a job (SIGKILL: no stop, no cleanup, as in a crash).
// Arguments: control database URL, queue name, the queue's expireInSeconds and optionally its heartbeatSeconds. It
// prints `active <job id>` once it holds a job, and never finishes it.
import { JobQueue, defineQueue, work } from '@saldo/jobs';
import { createLogger } from '@saldo/service';

const [url, queueName, expireInSeconds, heartbeatSeconds] = process.argv.slice(2);
if (!url || !queueName || !expireInSeconds) throw new Error('usage: crash-worker <control url> <queue> <expireInSeconds> [heartbeatSeconds]');

const queue = defineQueue<{ n: number }>({
  name: queueName,
  expireInSeconds: Number(expireInSeconds),
  ...(heartbeatSeconds ? { heartbeatSeconds: Number(heartbeatSeconds) } : {}),
  retry: { limit: 2 },
});
const jobs = new JobQueue({
  url,
  name: 'crash-fixture',
  logger: createLogger({ service: 'crash-fixture', level: 'error', write: (line) => process.stderr.write(`${line}\n`) }),
  settings: { pollingIntervalSeconds: 0.5, poolMax: 2 },
});
await jobs.start([queue]);
await jobs.work(
  work(queue, async (job) => {
    process.stdout.write(`active ${job.id}\n`);
    // Holds the job until the process is killed.
    await new Promise(() => undefined);
  }),
);
process.stdout.write('ready\n');
