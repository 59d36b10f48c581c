import { JobQueue, defineQueue, work } from '@saldo/jobs';
import { createLogger } from '@saldo/service';
import { dropDatabases, ensureDatabases } from '@saldo/sharding';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';
import { percentile } from './stats.js';

/** The durable job queue's own costs: what pg-boss adds to a subgraph's start, enqueue rates, and draining a burst. */
const STARTS = 5;
const SINGLE_SENDS = 1_000;
const BULK_JOBS = 10_000;
const BULK_BATCH = 1_000;
/** Notifications' bar (issue 14): > 99 % delivered within 5 s; the queue's share of that budget is measured here. */
const DELIVERY_BUDGET_MS = 5_000;

const logger = createLogger({ service: 'bench', level: 'warn' });
const round = (value: number) => Math.round(value * 10) / 10;

export async function jobs(config: BenchConfig): Promise<void> {
  const url = `${config.BENCH_POSTGRES_URL}/bench_jobs_${process.pid}`;
  const burst = config.BENCH_JOBS_BURST;
  const concurrency = config.BENCH_JOBS_CONCURRENCY;
  const batch = config.BENCH_JOBS_BATCH;
  const queue = defineQueue<{ sentAt: number }>({ name: 'bench.job' });
  const rows: ResultRow[] = [];
  const open = (poolMax = 3) => new JobQueue({ url, name: 'bench', logger, settings: { pollingIntervalSeconds: 0.5, poolMax, stopTimeoutSeconds: 5 } });

  try {
    // 1. Start: installing pg-boss's schema on a fresh database (every test's subgraph), then with it in place.
    const fresh: number[] = [];
    const existing: number[] = [];
    for (let attempt = 0; attempt < STARTS; attempt += 1) {
      await dropDatabases([url]);
      await ensureDatabases([url]);
      for (const into of [fresh, existing]) {
        const jobQueue = open();
        const started = performance.now();
        await jobQueue.start([queue]);
        into.push(performance.now() - started);
        await jobQueue.stop();
      }
    }
    for (const [scenario, samples] of [
      ['start on a fresh database (schema install)', fresh],
      ['start with the schema in place', existing],
    ] as const) {
      const sorted = [...samples].sort((a, b) => a - b);
      rows.push({ scenario, target: 'small next to a subgraph start', met: true, median_ms: round(percentile(sorted, 0.5)), max_ms: round(sorted.at(-1)!) });
    }

    const jobQueue = open(concurrency + 2);
    await jobQueue.start([queue]);

    // 2. Enqueue: one job per round trip, and many per statement.
    const sendLatencies: number[] = [];
    const singleStarted = performance.now();
    for (let index = 0; index < SINGLE_SENDS; index += 1) {
      const sent = performance.now();
      await jobQueue.send(queue, { sentAt: 0 });
      sendLatencies.push(performance.now() - sent);
    }
    const singleSeconds = (performance.now() - singleStarted) / 1000;
    sendLatencies.sort((a, b) => a - b);
    rows.push({
      scenario: `send, one at a time (${SINGLE_SENDS})`,
      target: '—',
      met: true,
      jobs_per_s: Math.round(SINGLE_SENDS / singleSeconds),
      p50_ms: round(percentile(sendLatencies, 0.5)),
      p99_ms: round(percentile(sendLatencies, 0.99)),
    });
    const bulkStarted = performance.now();
    for (let offset = 0; offset < BULK_JOBS; offset += BULK_BATCH) {
      await jobQueue.sendMany(
        queue,
        Array.from({ length: BULK_BATCH }, () => ({ data: { sentAt: 0 } })),
      );
    }
    rows.push({
      scenario: `sendMany, ${BULK_BATCH} per statement (${BULK_JOBS})`,
      target: '10,000 tenant-months in seconds',
      met: true,
      jobs_per_s: Math.round(BULK_JOBS / ((performance.now() - bulkStarted) / 1000)),
    });

    // 3. A burst sent at once and drained by one instance's workers: time from send to handler start.
    const shapes = [
      { label: `${concurrency} pollers x 1`, concurrency, batchSize: 1 },
      { label: `${Math.max(1, Math.round(concurrency / 4))} pollers x ${batch}`, concurrency: Math.max(1, Math.round(concurrency / 4)), batchSize: batch },
    ];
    for (const [index, shape] of shapes.entries()) {
      const drainQueue = defineQueue<{ sentAt: number }>({ name: `bench.burst-${index}` });
      await jobQueue.declare([drainQueue]);
      const waits: number[] = [];
      let finish!: () => void;
      const drained = new Promise<void>((resolve) => (finish = resolve));
      await jobQueue.work(
        work(
          drainQueue,
          async (job) => {
            waits.push(performance.now() - job.data.sentAt);
            if (waits.length === burst) finish();
          },
          { concurrency: shape.concurrency, batchSize: shape.batchSize },
        ),
      );
      const burstStarted = performance.now();
      for (let offset = 0; offset < burst; offset += BULK_BATCH) {
        const sentAt = performance.now();
        await jobQueue.sendMany(
          drainQueue,
          Array.from({ length: Math.min(BULK_BATCH, burst - offset) }, () => ({ data: { sentAt } })),
        );
      }
      await drained;
      const drainSeconds = (performance.now() - burstStarted) / 1000;
      waits.sort((a, b) => a - b);
      const withinBudget = waits.filter((wait) => wait <= DELIVERY_BUDGET_MS).length / waits.length;
      rows.push({
        scenario: `burst of ${burst}, ${shape.label}, no-op handler`,
        target: '> 99 % started within 5 s',
        met: withinBudget > 0.99,
        jobs_per_s: Math.round(burst / drainSeconds),
        p50_ms: round(percentile(waits, 0.5)),
        p99_ms: round(percentile(waits, 0.99)),
        within_5s_pct: round(withinBudget * 100),
      });
    }
    await jobQueue.stop();
  } finally {
    await dropDatabases([url]);
  }
  await report('jobs', rows, { burst, concurrency, batch, pollingIntervalSeconds: 0.5, starts: STARTS, singleSends: SINGLE_SENDS, bulkJobs: BULK_JOBS });
}
