import type { EntityManager } from '@mikro-orm/postgresql';
import { fromKysely, type Db } from 'pg-boss';

/**
 * pg-boss statements inside the caller's MikroORM transaction: a job sent this way is inserted on the transaction's
 * connection, so it exists exactly when the transaction commits (a rollback takes it away, and no worker sees it
 * before the commit).
 *
 * MikroORM 7 runs SQL through Kysely; inside `em.transactional(...)` (or `em.begin()`), `em.getKysely()` is the
 * Kysely transaction, and pg-boss's own Kysely adapter passes its `$1` statements to it unchanged.
 *
 * Refuses, rather than silently sending outside it: an EntityManager with no open transaction, and one on another
 * database than the jobs' (a shard's: shards are separate databases, so no transaction spans a shard and the
 * control database; see docs/decisions/0020-job-queue.md for what to do instead).
 */
export function transactionDb(em: EntityManager, jobsDatabase: string, queue: string): Db {
  if (!em.isInTransaction()) {
    throw new Error(`send to ${queue} with { em }: the EntityManager has no open transaction (call it inside em.transactional(...))`);
  }
  const database = em.config.get('dbName');
  if (database !== jobsDatabase) {
    throw new Error(
      `send to ${queue} with { em }: the EntityManager is on database "${database}", but this subgraph's jobs live in its control database "${jobsDatabase}". ` +
        'A shard write cannot enqueue in its own transaction: publish an outbox event from it, or send after it committed with a deterministic job id.',
    );
  }
  return fromKysely(em.getKysely());
}
