import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '@saldo/service';
import type { Constructor, EventSubscriber } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import pg from 'pg';
import { databaseName } from './provision.js';
import { tracePostgres } from './pg-tracing.js';

// Every statement of this process gets a span when tracing is on (pg-tracing.ts).
tracePostgres();

export interface OrmOptions {
  url: string;
  // Entity classes: MikroORM takes constructors of any shape.
  entities: Function[];
  migrations: Constructor<Migration>[];
  poolMax: number;
  logger: Logger;
  /** Called once per SQL statement sent; used to count database round trips. */
  onQuery?: () => void;
  /** Called once per transaction control statement (BEGIN, COMMIT, ROLLBACK), which onQuery does not see. */
  onTransactionStatement?: () => void;
  /** Distinguishes a second ORM of the same database (its own pool), whose transactions must stay its own. */
  contextSuffix?: string;
}

/**
 * One MikroORM instance per physical database. Entities and migrations are passed explicitly
 * (no folder discovery), so compiled output and tests behave identically.
 */
export async function openOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: options.url,
    // MikroORM tracks the current transaction in async-local storage by context name. Several ORMs share one
    // process (shards, subgraphs in the embedded stack), so each needs its own name or a transaction on one
    // database would be picked up by queries meant for another.
    contextName: `db:${databaseName(options.url)}${options.contextSuffix ?? ''}`,
    entities: options.entities,
    metadataProvider: ReflectMetadataProvider,
    extensions: [Migrator],
    pool: { min: 0, max: options.poolMax },
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    ensureDatabase: false,
    debug: false,
    onQuery: (sql) => {
      options.onQuery?.();
      return sql;
    },
    subscribers: options.onTransactionStatement ? [transactionCounter(options.onTransactionStatement)] : [],
    migrations: {
      migrationsList: options.migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
      tableName: 'mikro_orm_migrations',
    },
  });
}

/** Applies pending migrations; returns the names applied. */
/** Key of the session advisory lock that serializes migrations of one database across processes. */
const MIGRATION_LOCK = 'saldo.migrations';

/**
 * Applies pending migrations. Two instances sharing databases may start together (white-label's API and its worker):
 * a session advisory lock, held on a connection of its own, lets one migrate while the other waits and then finds
 * nothing left to do.
 */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const lock = new pg.Client({ connectionString: orm.config.get('clientUrl') });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    const applied = await orm.migrator.up();
    return applied.map((migration) => migration.name);
  } finally {
    await lock.end();
  }
}

/** Counts BEGIN, COMMIT and ROLLBACK (each one round trip) through MikroORM's transaction events. */
function transactionCounter(count: () => void): EventSubscriber {
  return { afterTransactionStart: count, afterTransactionCommit: count, afterTransactionRollback: count };
}
