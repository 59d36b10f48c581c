import { v5 as uuidv5 } from 'uuid';

/** Fixed namespace of Saldo's deterministic job ids (a random UUID chosen once; never change it). */
const JOB_ID_NAMESPACE = '5b0c7f0e-8f3a-4d52-9a51-6f1f3b2c8d47';

/**
 * The same job id for the same queue and parts, every time (a name-based UUID, RFC 9562 version 5). Sending a job
 * whose id already exists is a no-op (`send` returns null), so a retried producer, a redelivered event or a second
 * instance running the same monthly pass enqueues the work once:
 *
 * ```ts
 * await jobs.send(statementQueue, { tenantId, period }, { id: deterministicJobId(statementQueue, tenantId, period) });
 * ```
 *
 * The id protects while the job row exists: finished jobs are deleted after the queue's `deleteAfterSeconds`
 * (default 7 days). Handlers stay idempotent on their own (a unique key on what they produce), because a job runs at
 * least once: a crash after the work committed but before the job was marked complete runs it again.
 */
export function deterministicJobId(queue: { name: string } | string, ...parts: ReadonlyArray<string | number | bigint>): string {
  if (parts.length === 0) throw new Error('deterministicJobId needs at least one part besides the queue');
  const name = typeof queue === 'string' ? queue : queue.name;
  // JSON keeps the parts apart: ("a:b", "c") and ("a", "b:c") give different ids.
  return uuidv5(JSON.stringify([name, ...parts.map(String)]), JOB_ID_NAMESPACE);
}
