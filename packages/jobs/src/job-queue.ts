import { RequestContext } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  PgBoss,
  type Clock,
  type ConstructorOptions,
  type JobInsert,
  type JobWithMetadata,
  type QueueResult,
  type SendOptions as BossSendOptions,
} from 'pg-boss';
import type { Logger } from '@saldo/service';
import { defineQueue, parsePayload, type AnyQueueDefinition, type QueueDefinition } from './queue.js';
import { transactionDb } from './transaction.js';
import type { JobSchedule, JobWorker } from './worker.js';

/** How an instance runs its queue. Subgraphs read these from JOBS_* variables (packages/subgraph config). */
export interface JobSettings {
  /** PostgreSQL schema holding pg-boss's tables in the control database. */
  schema: string;
  /** Connections of pg-boss's own pool (polling, sends outside a transaction, maintenance). */
  poolMax: number;
  /** Run workers on this instance; false makes an instance that only sends (API-only replicas). */
  runWorkers: boolean;
  /** Seconds between an idle worker's polls (>= 0.5). */
  pollingIntervalSeconds: number;
  /** Seconds between checks for expired attempts and lapsed heartbeats: how soon a killed process's job is retried. */
  superviseIntervalSeconds: number;
  /** Seconds between refreshes of the queue depth counts that `stats()` reports. */
  monitorIntervalSeconds: number;
  /** How long `stop()` waits for running jobs before it gives them back to the queue (failed attempt, retried). */
  stopTimeoutSeconds: number;
  /** Hold one connection in LISTEN so `notify` queues wake their workers at once instead of at the next poll. */
  listenNotify: boolean;
}

export const DEFAULT_JOB_SETTINGS: Readonly<JobSettings> = Object.freeze({
  schema: 'pgboss',
  poolMax: 2,
  runWorkers: true,
  pollingIntervalSeconds: 2,
  superviseIntervalSeconds: 60,
  monitorIntervalSeconds: 60,
  stopTimeoutSeconds: 20,
  listenNotify: false,
});

export interface JobQueueOptions {
  /** postgres:// URL of the database the jobs live in: the subgraph's control database. */
  url: string;
  /** The owner's name (the subgraph's): names the instance in pg-boss's registry and its connections. */
  name: string;
  logger: Logger;
  settings?: Partial<JobSettings>;
  /**
   * The EntityManagers (not forks) each job's MikroORM request context forks, the control database's first: its fork
   * is the handler's `em`. The subgraph runtime passes its control database and every shard.
   */
  entityManagers?: () => readonly EntityManager[];
  /** Test seam: pg-boss's clock (its TestClock moves schedules, polls and expiry by hand). */
  clock?: Clock;
}

export interface SendOptions {
  /**
   * The job's id (a UUID). A send whose id exists already does nothing and returns null: with
   * {@link deterministicJobId} the same work is enqueued once however often it is sent.
   */
  id?: string;
  /** Deduplicates by the queue's policy (see {@link JobPolicy}); required by `key_strict_fifo` (the ordering key). */
  singletonKey?: string;
  /** Not before this time, or this many seconds from now. */
  startAfter?: Date | number;
  /** Higher runs first. Default 0. */
  priority?: number;
  /**
   * Send inside this EntityManager's open transaction on the control database: the job commits or rolls back with it.
   * Not for shard EntityManagers (refused): see docs/decisions/0020-job-queue.md.
   */
  em?: EntityManager;
}

export type JobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';

/** One job as stored: what operators and tests inspect. */
export interface JobStatus<T = unknown> {
  id: string;
  queue: string;
  state: JobState;
  data: T;
  singletonKey: string | null;
  retryCount: number;
  retryLimit: number;
  /** The handler's result when completed; the (serialized) error of the last failed attempt otherwise. */
  output: unknown;
  createdOn: Date;
  startAfter: Date;
  startedOn: Date | null;
  completedOn: Date | null;
}

/** A queue's depth by state, as of pg-boss's last monitor pass (every `monitorIntervalSeconds`). */
export interface QueueDepth {
  queue: string;
  /** Waiting, of which `deferred` wait for their start time and `ready` could run now. */
  queued: number;
  deferred: number;
  ready: number;
  active: number;
  /** Failed for good and still retained. */
  failed: number;
  /** Every stored job, finished ones included. */
  total: number;
}

/** The pg-boss options every queue gets unless its definition says otherwise (pg-boss's own defaults). */
const QUEUE_DEFAULTS = {
  retryLimit: 2,
  retryDelay: 0,
  retryBackoff: false,
  expireInSeconds: 900,
  retentionSeconds: 14 * 24 * 3600,
  deleteAfterSeconds: 7 * 24 * 3600,
  notify: false,
} as const;

/**
 * One subgraph's durable job queue: pg-boss in the subgraph's control database. Jobs are rows, so they survive
 * restarts; a job is claimed with `FOR UPDATE SKIP LOCKED`, so one instance runs it however many poll; an attempt
 * whose process died is retried once it expires (or its heartbeat lapses).
 *
 * Lifecycle: `start(queues)` declares the queues, starting pg-boss with the first (it installs or migrates its schema;
 * an owner without queues starts nothing), so sends work from then on;
 * `work(...)` and `schedule(...)` start workers and recurring jobs; `stop()` stops fetching, waits for running jobs
 * (bounded by `stopTimeoutSeconds`) and closes its pool.
 */
export class JobQueue {
  readonly settings: Readonly<JobSettings>;
  private readonly boss: PgBoss;
  private readonly logger: Logger;
  private readonly database: string;
  private readonly declared = new Map<string, AnyQueueDefinition>();
  /** pg-boss started (with the first declared queue); stopped for good once `stop()` ran. */
  private running = false;
  private stopped = false;
  private starting: Promise<void> | undefined;

  constructor(private readonly options: JobQueueOptions) {
    this.settings = Object.freeze({ ...DEFAULT_JOB_SETTINGS, ...options.settings });
    this.logger = options.logger.child(`${options.name}.jobs`);
    this.database = decodeURIComponent(new URL(options.url).pathname.replace(/^\//, ''));
    const bossOptions: ConstructorOptions = {
      connectionString: options.url,
      schema: this.settings.schema,
      max: this.settings.poolMax,
      application_name: `saldo-${options.name}-jobs`,
      instanceName: options.name,
      superviseIntervalSeconds: this.settings.superviseIntervalSeconds,
      monitorIntervalSeconds: this.settings.monitorIntervalSeconds,
      useListenNotify: this.settings.listenNotify,
      ...(options.clock ? { clock: options.clock } : {}),
    };
    this.boss = new PgBoss(bossOptions);
    // pg-boss reports background failures (a poll, maintenance, a lost connection) as events: never dropped.
    this.boss.on('error', (error) => this.logger.error('job queue error', { error }));
    this.boss.on('warning', (warning) => this.logger.warn(warning.message, { ...warning.data }));
  }

  /**
   * Declares `queues`. pg-boss starts with the first queue: it installs or migrates its schema (idempotent, safe with
   * several instances starting at once) and runs its maintenance; an owner without queues costs no connection.
   */
  async start(queues: readonly AnyQueueDefinition[] = []): Promise<void> {
    try {
      await this.declare(queues);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private ensureRunning(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error(`${this.options.name}'s job queue is stopped`));
    this.starting ??= (async () => {
      const started = performance.now();
      await this.boss.start();
      this.running = true;
      this.logger.debug('job queue started', { schema: this.settings.schema, ms: Math.round(performance.now() - started) });
    })();
    return this.starting;
  }

  /**
   * Creates the queues that do not exist and brings existing ones in line with their definitions (retry, expiry,
   * retention; new jobs only). A queue's policy cannot change: a definition that changes it is refused (rename the queue).
   */
  async declare(queues: readonly AnyQueueDefinition[]): Promise<void> {
    if (queues.length === 0) return;
    await this.ensureRunning();
    // Dead-letter queues first (pg-boss requires them to exist); one that is not declared is a standard queue.
    const deadLetters = new Set(queues.flatMap((queue) => (queue.deadLetter ? [queue.deadLetter] : [])));
    for (const name of deadLetters) await this.declareOne(queues.find((queue) => queue.name === name) ?? defineQueue({ name }));
    for (const queue of queues) if (!deadLetters.has(queue.name)) await this.declareOne(queue);
  }

  private async declareOne(queue: AnyQueueDefinition): Promise<void> {
    const known = this.declared.get(queue.name);
    if (known && known !== queue && !sameDefinition(known, queue)) {
      throw new Error(`Queue ${queue.name} is declared twice with different definitions`);
    }
    const wanted = bossQueueOptions(queue);
    const existing = await this.boss.getQueue(queue.name);
    if (!existing) {
      await this.boss.createQueue(queue.name, { policy: queue.policy, ...wanted });
    } else {
      if (existing.policy !== queue.policy) {
        throw new Error(
          `Queue ${queue.name} exists with policy "${existing.policy}" but is defined with "${queue.policy}"; a queue's policy cannot change (use a new queue name)`,
        );
      }
      const changed = changedOptions(existing, wanted);
      if (Object.keys(changed).length > 0) {
        await this.boss.updateQueue(queue.name, changed);
        this.logger.info('queue settings updated', { queue: queue.name, settings: Object.keys(changed).join(',') });
      }
    }
    this.declared.set(queue.name, queue);
  }

  /**
   * Enqueues one job; returns its id, or null when the queue dropped it as a duplicate (an existing id, or a
   * singletonKey the queue's policy admits once). The payload is checked by the queue's schema first.
   */
  async send<T extends object>(queue: QueueDefinition<T>, data: T, options: SendOptions = {}): Promise<string | null> {
    this.assertDeclared(queue);
    const payload = parsePayload(queue, data);
    const sendOptions: BossSendOptions = jobOptions(options);
    if (options.em) sendOptions.db = transactionDb(options.em, this.database, queue.name);
    return this.boss.send(queue.name, payload, sendOptions);
  }

  /**
   * Enqueues many jobs in one statement (a monthly pass over every tenant); duplicates (existing ids, singleton keys)
   * are skipped. Returns the ids of the jobs inserted. `em` sends them inside that transaction, as for `send`.
   */
  async sendMany<T extends object>(
    queue: QueueDefinition<T>,
    jobs: ReadonlyArray<{ data: T; options?: Omit<SendOptions, 'em'> }>,
    options: { em?: EntityManager } = {},
  ): Promise<string[]> {
    this.assertDeclared(queue);
    if (jobs.length === 0) return [];
    const inserts: JobInsert[] = jobs.map((job) => ({ data: parsePayload(queue, job.data), ...jobOptions(job.options ?? {}) }));
    const db = options.em ? transactionDb(options.em, this.database, queue.name) : undefined;
    return (await this.boss.insert(queue.name, inserts, { returnId: true, ...(db ? { db } : {}) })) ?? [];
  }

  /** Starts the worker (one poller per `concurrency`). Does nothing on an instance with `runWorkers` off. */
  async work<T extends object>(worker: JobWorker<T>): Promise<void> {
    const { queue, options } = worker;
    this.assertDeclared(queue);
    if (!this.settings.runWorkers) return;
    const logger = this.logger.child(`${this.options.name}.jobs.${queue.name}`);
    const batchSize = options.batchSize ?? 1;
    const polling = {
      includeMetadata: true,
      localConcurrency: options.concurrency ?? 1,
      pollingIntervalSeconds: options.pollingIntervalSeconds ?? this.settings.pollingIntervalSeconds,
    } as const;
    // Known once work() resolved; a job may finish before that (pg-boss starts polling inside work()).
    const started: { workId?: string } = {};
    // A worker that found jobs fetches again at once instead of sleeping a polling interval: a backlog drains at the
    // handlers' pace, and an empty fetch returns the worker to polling.
    const fetchAgain = () => {
      if (started.workId) this.wake(started.workId);
    };
    if (batchSize === 1) {
      started.workId = await this.boss.work(queue.name, { ...polling, batchSize: 1 }, async (jobs: JobWithMetadata<T>[]) => {
        try {
          return jobs[0] ? await this.runJob(worker, jobs[0], logger) : undefined;
        } finally {
          fetchAgain();
        }
      });
      return;
    }
    // Batches: one fetch claims up to batchSize jobs, they run concurrently, and each settles on its own outcome
    // (one statement per outcome) once the batch is done; full batches are followed by the next fetch at once.
    started.workId = await this.boss.work(
      queue.name,
      { ...polling, batchSize, perJobResults: true, burstWhenBatchFull: true },
      async (jobs: JobWithMetadata<T>[]) => {
        try {
          return await Promise.all(
            jobs.map((job) =>
              this.runJob(worker, job, logger).then(
                (output) => ({ id: job.id, status: 'completed' as const, output: output ?? undefined }),
                (error: unknown) => ({ id: job.id, status: 'failed' as const, output: errorOutput(error) }),
              ),
            ),
          );
        } finally {
          fetchAgain();
        }
      },
    );
  }

  /** One job through its handler: payload parsed, in its own request context; a failure is logged, then thrown on. */
  private async runJob<T extends object>(worker: JobWorker<T>, job: JobWithMetadata<T>, logger: Logger): Promise<object | void> {
    const { queue } = worker;
    const jobLogger = withFields(logger, { job: job.id, attempt: job.retryCount + 1 });
    try {
      const data = parsePayload(queue, job.data);
      return await this.inRequestContext((em) =>
        worker.handler({
          id: job.id,
          queue: queue.name,
          data,
          retryCount: job.retryCount,
          retryLimit: job.retryLimit,
          signal: job.signal,
          em,
          logger: jobLogger,
        }),
      );
    } catch (error) {
      // pg-boss records it on the job and retries or fails it; logged here so no failure is silent.
      if (job.retryCount >= job.retryLimit) {
        jobLogger.error('job failed for good', { queue: queue.name, retries: job.retryCount, error });
      } else {
        jobLogger.warn('job attempt failed; it will be retried', { queue: queue.name, retryLimit: job.retryLimit, error });
      }
      throw error;
    }
  }

  /**
   * Tells the busy pollers of one `work` call (the caller's among them) to fetch again as soon as their jobs are done
   * (pg-boss's notifyWorker: skip the next polling delay). Idle pollers sleep on: waking them after every job would
   * make each completion cost an empty fetch per idle poller.
   */
  private wake(workId: string): void {
    for (const worker of this.boss.getWipData()) {
      if (worker.workId === workId && worker.count > 0) this.boss.notifyWorker(worker.id);
    }
  }

  /**
   * Makes the recurring jobs of the declared queues exactly `schedules`: creates or updates each, and removes the
   * schedules of those queues that are no longer declared (a schedule deleted from the code stops firing).
   * Occurrences are created once across all instances; occurrences missed while no instance ran are sent once (or
   * skipped: `missed`).
   */
  async schedule(schedules: readonly JobSchedule[]): Promise<void> {
    if (!this.running) {
      if (schedules.length > 0) throw new Error(`Schedules of ${this.options.name} name queues that are not declared`);
      return;
    }
    for (const entry of schedules) {
      this.assertDeclared(entry.queue);
      await this.boss.schedule(entry.queue.name, entry.cron, parsePayload(entry.queue, entry.data), {
        tz: entry.tz ?? 'UTC',
        missed: entry.missed ?? 'once',
        ...(entry.key ? { key: entry.key } : {}),
      });
    }
    const wanted = new Set(schedules.map((entry) => `${entry.queue.name}\u0000${entry.key ?? ''}`));
    for (const name of this.declared.keys()) {
      for (const existing of await this.boss.getSchedules(name)) {
        if (wanted.has(`${existing.name}\u0000${existing.key}`)) continue;
        await this.boss.unschedule(existing.name, existing.key);
        this.logger.info('schedule removed', { queue: existing.name, key: existing.key || undefined });
      }
    }
  }

  /** One job by id, or null when it does not exist (never sent, or deleted after `deleteAfterSeconds`). */
  async get<T extends object>(queue: QueueDefinition<T>, id: string): Promise<JobStatus<T> | null> {
    if (!this.running) return null;
    const [job] = await this.boss.findJobs<T>(queue.name, { id });
    return job ? jobStatus(job) : null;
  }

  /**
   * Jobs of a queue by singletonKey and/or payload subset (JSON containment), oldest first; `queued` keeps only those
   * not yet started (waiting or waiting to retry).
   */
  async find<T extends object>(
    queue: QueueDefinition<T>,
    filter: { singletonKey?: string; data?: Partial<T>; queued?: boolean; limit?: number } = {},
  ): Promise<JobStatus<T>[]> {
    if (!this.running) return [];
    const jobs = await this.boss.findJobs<T>(queue.name, {
      ...(filter.singletonKey !== undefined ? { key: filter.singletonKey } : {}),
      ...(filter.data !== undefined ? { data: filter.data } : {}),
      ...(filter.queued ? { queued: true } : {}),
      ...(filter.limit !== undefined ? { limit: filter.limit } : {}),
    });
    return jobs.map(jobStatus);
  }

  /** Cancels waiting or running jobs (a running handler sees its `signal` aborted). */
  async cancel(queue: AnyQueueDefinition, id: string | string[]): Promise<void> {
    await this.boss.cancel(queue.name, id);
  }

  /** This instance's workers now: per queue, whether it polls (`active`), drains for a stop (`stopping`), and its jobs in hand. */
  activity(): Array<{ queue: string; state: 'created' | 'active' | 'stopping' | 'stopped'; running: number }> {
    // Also while stopping: draining workers report `stopping` and their jobs in hand.
    if (!this.starting) return [];
    return this.boss.getWipData().map((worker) => ({ queue: worker.name, state: worker.state, running: worker.count }));
  }

  /** Depth per declared queue and state, for metrics (refreshed every `monitorIntervalSeconds`). */
  async stats(): Promise<QueueDepth[]> {
    if (this.declared.size === 0) return [];
    const queues = await this.boss.getQueues([...this.declared.keys()]);
    return queues.map((queue) => ({
      queue: queue.name,
      queued: queue.queuedCount,
      deferred: queue.deferredCount,
      ready: queue.readyCount,
      active: queue.activeCount,
      failed: queue.failedCount,
      total: queue.totalCount,
    }));
  }

  /**
   * Stops fetching, waits up to `stopTimeoutSeconds` for running jobs, then gives the rest back (their attempt fails
   * and is retried by its policy) and closes the pool. Safe to call twice.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting?.catch(() => undefined);
    if (!this.running) return;
    this.running = false;
    const graceMs = this.settings.stopTimeoutSeconds * 1000;
    // Bounded beyond the grace period: when the server vanished first (Ctrl-C reaches the embedded PostgreSQL too),
    // closing the pool can wait forever for connections that will never answer, and shutdown must not hang.
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<'abandoned'>((resolve) => {
      timer = setTimeout(() => resolve('abandoned'), graceMs + 5000);
      timer.unref();
    });
    const stopped = this.boss.stop({ graceful: true, timeout: graceMs, close: true }).then(() => 'stopped' as const);
    const outcome = await Promise.race([stopped, abandoned]);
    clearTimeout(timer);
    if (outcome === 'abandoned') this.logger.warn('job queue did not stop in time; abandoning its connections', { graceMs });
  }

  private assertDeclared(queue: AnyQueueDefinition): void {
    if (!this.declared.has(queue.name)) {
      throw new Error(`Queue ${queue.name} is not declared on ${this.options.name}'s job queue (list it in the subgraph's jobs.queues)`);
    }
  }

  private async inRequestContext<R>(run: (em: EntityManager) => Promise<R>): Promise<R> {
    const managers = this.options.entityManagers?.() ?? [];
    const [control] = managers;
    if (!control) {
      return run(missingEntityManager(this.options.name));
    }
    return RequestContext.create([...managers], () => run(RequestContext.getEntityManager(control.name) as EntityManager));
  }
}

/** The job-level options pg-boss takes from ours. */
function jobOptions(options: Omit<SendOptions, 'em'>): BossSendOptions {
  const out: BossSendOptions = {};
  if (options.id !== undefined) out.id = options.id;
  if (options.singletonKey !== undefined) out.singletonKey = options.singletonKey;
  if (options.startAfter !== undefined) out.startAfter = options.startAfter;
  if (options.priority !== undefined) out.priority = options.priority;
  return out;
}

type BossQueueOptions = {
  retryLimit: number;
  retryDelay: number;
  retryBackoff: boolean;
  retryDelayMax?: number;
  expireInSeconds: number;
  retentionSeconds: number;
  deleteAfterSeconds: number;
  heartbeatSeconds?: number;
  deadLetter?: string;
  notify: boolean;
};

function bossQueueOptions(queue: AnyQueueDefinition): BossQueueOptions {
  const options: BossQueueOptions = {
    retryLimit: queue.retry?.limit ?? QUEUE_DEFAULTS.retryLimit,
    retryDelay: queue.retry?.delaySeconds ?? (queue.retry?.backoff ? 1 : QUEUE_DEFAULTS.retryDelay),
    retryBackoff: queue.retry?.backoff ?? QUEUE_DEFAULTS.retryBackoff,
    expireInSeconds: queue.expireInSeconds ?? QUEUE_DEFAULTS.expireInSeconds,
    retentionSeconds: queue.retentionSeconds ?? QUEUE_DEFAULTS.retentionSeconds,
    deleteAfterSeconds: queue.deleteAfterSeconds ?? QUEUE_DEFAULTS.deleteAfterSeconds,
    notify: queue.notify ?? QUEUE_DEFAULTS.notify,
  };
  if (queue.retry?.maxDelaySeconds !== undefined) options.retryDelayMax = queue.retry.maxDelaySeconds;
  if (queue.heartbeatSeconds !== undefined) options.heartbeatSeconds = queue.heartbeatSeconds;
  if (queue.deadLetter !== undefined) options.deadLetter = queue.deadLetter;
  return options;
}

/** The settings that differ between a stored queue and its definition; null clears a setting the definition dropped. */
function changedOptions(existing: QueueResult, wanted: BossQueueOptions): Record<string, unknown> {
  const changed: Record<string, unknown> = {};
  const stored = existing as unknown as Record<string, unknown>;
  for (const key of ['retryLimit', 'retryDelay', 'retryBackoff', 'expireInSeconds', 'retentionSeconds', 'deleteAfterSeconds', 'notify'] as const) {
    if (stored[key] !== wanted[key]) changed[key] = wanted[key];
  }
  for (const key of ['retryDelayMax', 'heartbeatSeconds', 'deadLetter'] as const) {
    const want = wanted[key] ?? null;
    if ((stored[key] ?? null) !== want) changed[key] = want;
  }
  return changed;
}

function sameDefinition(a: AnyQueueDefinition, b: AnyQueueDefinition): boolean {
  return a.policy === b.policy && JSON.stringify(bossQueueOptions(a)) === JSON.stringify(bossQueueOptions(b));
}

function jobStatus<T>(job: JobWithMetadata<T>): JobStatus<T> {
  return {
    id: job.id,
    queue: job.name,
    state: job.state,
    data: job.data,
    singletonKey: job.singletonKey,
    retryCount: job.retryCount,
    retryLimit: job.retryLimit,
    output: job.output ?? null,
    createdOn: job.createdOn,
    startAfter: job.startAfter,
    startedOn: job.startedOn ?? null,
    completedOn: job.completedOn ?? null,
  };
}

/** A failed attempt's output in a batch (pg-boss stores what a thrown error would have given). */
function errorOutput(error: unknown): object {
  return error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { message: String(error) };
}

/** A logger that adds `fields` to every line (the job's id and attempt). */
function withFields(logger: Logger, fields: Record<string, unknown>): Logger {
  return {
    debug: (message, extra) => logger.debug(message, { ...fields, ...extra }),
    info: (message, extra) => logger.info(message, { ...fields, ...extra }),
    warn: (message, extra) => logger.warn(message, { ...fields, ...extra }),
    error: (message, extra) => logger.error(message, { ...fields, ...extra }),
    child: (service) => withFields(logger.child(service), fields),
  };
}

/** Stands in for `em` when the queue was built without EntityManagers: using it says why it is missing. */
function missingEntityManager(owner: string): EntityManager {
  return new Proxy({} as EntityManager, {
    get() {
      throw new Error(`${owner}'s job queue has no EntityManagers (JobQueueOptions.entityManagers); handlers cannot use job.em`);
    },
  });
}
