import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '@saldo/service';
import type { QueueDefinition } from './queue.js';

/** What a handler gets for one job. */
export interface JobContext<T> {
  readonly id: string;
  readonly queue: string;
  /** The payload, parsed by the queue's schema. */
  readonly data: T;
  /** 0 on the first attempt, n on the n-th retry. */
  readonly retryCount: number;
  /** Retries allowed after the first attempt: this attempt is the last when retryCount === retryLimit. */
  readonly retryLimit: number;
  /**
   * Aborted when this attempt no longer owns the job: it expired, its heartbeat lapsed, it was cancelled, or the
   * process is stopping and the grace period ran out. Long handlers check it between steps (or pass it on).
   */
  readonly signal: AbortSignal;
  /**
   * A fresh EntityManager fork of the control database for this job alone, the job's MikroORM request context (like an
   * HTTP request's): the identity map is never shared between jobs. Shards are reached as anywhere else
   * (`runtime.db.em(shardId)`, `emForTenant`), inside the same request context.
   */
  readonly em: EntityManager;
  /** The queue's logger, with the job's id and attempt on every line it writes. */
  readonly logger: Logger;
}

/**
 * Runs one job. Resolving completes the job (an object result is kept as its output); throwing fails this attempt,
 * which is retried by the queue's retry policy and otherwise fails for good (logged as an error, visible with
 * `jobs.get`). A job runs at least once: make handlers idempotent (a crash after their commit runs them again).
 */
export type JobHandler<T> = (job: JobContext<T>) => Promise<object | void>;

export interface WorkerOptions {
  /** Pollers of this queue in this process, each running its jobs. Default 1. */
  concurrency?: number;
  /**
   * Jobs one poller claims per fetch and runs at once (so up to `concurrency * batchSize` run together). Default 1.
   * Larger batches drain bursts of short jobs (deliveries) with far fewer round trips; each job still succeeds or fails
   * on its own, but is marked complete only when its whole batch is done, and a crash retries the whole batch. Keep 1
   * for long jobs.
   */
  batchSize?: number;
  /** Seconds between polls for new jobs while idle; default JOBS_POLLING_INTERVAL_SECONDS. */
  pollingIntervalSeconds?: number;
}

/** A handler bound to its queue; subgraphs list these in `jobs.workers`. */
export interface JobWorker<T extends object = object> {
  readonly queue: QueueDefinition<T>;
  // Method syntax: a worker of a specific payload type is still a JobWorker (lists of workers of several queues).
  handler(job: JobContext<T>): Promise<object | void>;
  readonly options: WorkerOptions;
}

/** Binds a handler to its queue (the payload type flows from the queue to the handler). */
export function work<T extends object>(queue: QueueDefinition<T>, handler: JobHandler<T>, options: WorkerOptions = {}): JobWorker<T> {
  return { queue, handler, options };
}

/** A recurring job: pg-boss creates one job per occurrence, once across all instances. */
export interface JobSchedule<T extends object = object> {
  readonly queue: QueueDefinition<T>;
  /** A cron expression (`0 3 1 * *`: 03:00 on the 1st of every month), minute resolution. */
  readonly cron: string;
  /** IANA time zone the expression is read in. Default UTC. */
  readonly tz?: string;
  /** Distinguishes several schedules of one queue. Default: the queue's only schedule. */
  readonly key?: string;
  /** The payload of every job it creates. */
  readonly data: T;
  /**
   * Occurrences that fell due while no instance ran (all down over the 1st of the month): `once` (default) sends one
   * job for the latest of them when an instance is back, `skip` sends none.
   */
  readonly missed?: 'once' | 'skip';
}

/** Declares a recurring job of `queue` (the payload type flows from the queue). */
export function schedule<T extends object>(queue: QueueDefinition<T>, options: Omit<JobSchedule<T>, 'queue'>): JobSchedule<T> {
  return { queue, ...options };
}
