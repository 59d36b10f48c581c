import type { z } from 'zod';

/**
 * How a queue admits and runs jobs that share a `singletonKey` (pg-boss queue policies):
 *
 * - `standard`: no restriction; a singletonKey alone does not deduplicate (use a deterministic job id).
 * - `short`: at most one job per key waiting to run (a second send while one waits is dropped).
 * - `singleton`: at most one job per key running; any number waiting.
 * - `stately`: at most one per key waiting and one running (the usual choice for "recompute X").
 * - `exclusive`: at most one per key waiting or running (a send while one waits or runs is dropped).
 * - `key_strict_fifo`: jobs of one key run one at a time in send order; every job needs a singletonKey. A job of a
 *   key that failed for good holds back that key's later jobs until it is retried or deleted.
 */
export type JobPolicy = 'standard' | 'short' | 'singleton' | 'stately' | 'exclusive' | 'key_strict_fifo';

/** Retries after a failed attempt (a thrown error, an expired attempt, a lost heartbeat). */
export interface RetryPolicy {
  /** Attempts after the first; 0 fails on the first error. Default 2. */
  limit?: number;
  /** Seconds before a retry (the base of the backoff when `backoff` is on). Default 0 (1 with backoff). */
  delaySeconds?: number;
  /** Exponential backoff with jitter: about `delaySeconds * 2^retry`. Default false. */
  backoff?: boolean;
  /** Upper bound of one backoff delay, seconds. Default: none. */
  maxDelaySeconds?: number;
}

export interface QueueOptions<T extends object> {
  /** `<subgraph>.<what>` by convention, e.g. `billing.monthly-statement`; letters, digits, `.`, `-`, `_`. */
  name: string;
  /**
   * The payload's schema: producers' data is parsed with it before a send and workers get the parsed value. Payloads
   * are stored as JSON, so use JSON types (ISO strings for dates, strings for bigint amounts). Without a schema the
   * payload is typed by the type parameter only.
   */
  payload?: z.ZodType<T>;
  /** Default `standard`. Fixed once the queue exists (pg-boss cannot change a queue's policy). */
  policy?: JobPolicy;
  retry?: RetryPolicy;
  /** How long one attempt may run before it counts as failed (and is retried). Default 900 (15 minutes). */
  expireInSeconds?: number;
  /**
   * A running job proves it is alive every `heartbeatSeconds / 2` (automatically, while its handler runs); when the
   * database hears nothing for `heartbeatSeconds` the attempt counts as failed, long before `expireInSeconds`. For long
   * jobs (training, shard moves), so a killed process's job is retried quickly. At least 10. Default: off.
   */
  heartbeatSeconds?: number;
  /** A queue that receives a copy of every job that failed for good (declared automatically as a standard queue). */
  deadLetter?: string;
  /** How long a job may wait to run before it is dropped. Default 14 days. */
  retentionSeconds?: number;
  /** How long finished jobs are kept (for inspection and for id-based deduplication). Default 7 days. */
  deleteAfterSeconds?: number;
  /** Wake idle workers at once through LISTEN/NOTIFY when a job is sent (needs JOBS_LISTEN_NOTIFY). Default false. */
  notify?: boolean;
}

/** A named, typed queue shared by its producers and its worker. Create with {@link defineQueue}. */
export interface QueueDefinition<T extends object = object> extends Readonly<QueueOptions<T>> {
  readonly policy: JobPolicy;
  /** Type-level only: the payload type (never set at run time). */
  readonly __payload?: T;
}

/** Any queue definition, whatever its payload type (lists of queues). */
export type AnyQueueDefinition = QueueDefinition<object>;

/** The payload type of a queue definition. */
export type PayloadOf<Q> = Q extends QueueDefinition<infer T> ? T : never;

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Declares a queue. The payload type comes from the zod schema (`payload`) or the type parameter:
 *
 * ```ts
 * export const statementQueue = defineQueue({
 *   name: 'billing.monthly-statement',
 *   payload: z.object({ tenantId: z.uuid(), period: z.string().regex(/^\d{4}-\d{2}$/) }),
 *   policy: 'stately',
 *   retry: { limit: 5, delaySeconds: 30, backoff: true, maxDelaySeconds: 3600 },
 * });
 * ```
 */
export function defineQueue<T extends object>(options: QueueOptions<T>): QueueDefinition<T> {
  const problems = queueProblems(options);
  if (problems.length > 0) throw new Error(`Invalid queue definition "${options.name}": ${problems.join('; ')}`);
  return Object.freeze({ ...options, policy: options.policy ?? 'standard' });
}

function queueProblems(options: QueueOptions<object>): string[] {
  const problems: string[] = [];
  if (!QUEUE_NAME.test(options.name)) problems.push('name: letters, digits, ".", "-", "_" (at most 100), starting with a letter or digit');
  const { retry } = options;
  if (retry?.limit !== undefined && !(Number.isInteger(retry.limit) && retry.limit >= 0)) problems.push('retry.limit: a whole number >= 0');
  if (retry?.delaySeconds !== undefined && !(retry.delaySeconds >= 0)) problems.push('retry.delaySeconds: >= 0');
  if (retry?.maxDelaySeconds !== undefined && !(retry.maxDelaySeconds >= 1)) problems.push('retry.maxDelaySeconds: >= 1');
  if (options.expireInSeconds !== undefined && !(options.expireInSeconds >= 1)) problems.push('expireInSeconds: >= 1');
  if (options.heartbeatSeconds !== undefined && !(options.heartbeatSeconds >= 10)) problems.push('heartbeatSeconds: >= 10');
  if (options.deadLetter !== undefined && (options.deadLetter === options.name || !QUEUE_NAME.test(options.deadLetter)))
    problems.push('deadLetter: another valid queue name');
  if (options.retentionSeconds !== undefined && !(options.retentionSeconds >= 1)) problems.push('retentionSeconds: >= 1');
  if (options.deleteAfterSeconds !== undefined && !(options.deleteAfterSeconds >= 0)) problems.push('deleteAfterSeconds: >= 0');
  return problems;
}

/** The payload a producer's data becomes: parsed by the queue's schema, or as given. */
export function parsePayload<T extends object>(queue: QueueDefinition<T>, data: T): T {
  if (!queue.payload) return data;
  const parsed = queue.payload.safeParse(data);
  if (parsed.success) return parsed.data;
  throw new Error(
    `Invalid payload for queue ${queue.name}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`,
  );
}
