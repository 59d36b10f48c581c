// A subgraph's sharded data on the machine's PostgreSQL: databases created and migrated on open, the shard list guarded
// against reordering, rows on the shard the directory names, drift between entities and migrations, readiness.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Migration } from '@mikro-orm/migrations';
import pg from 'pg';
import { ShardedDatabase, databaseName, dropDatabases, ensureDatabases, redactUrl, type ShardingConfig } from '@saldo/sharding';
import { TEST_POSTGRES_URL, testLogger, uniquePrefix, waitUntil } from '@saldo/testing';

const logger = testLogger();

@Entity({ tableName: 'note' })
class Note {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'text' })
  body!: string;
}

class Migration20261129000000Note extends Migration {
  override name = 'Migration20261129000000Note';
  override up(): void {
    this.addSql('create table "note" ("id" uuid not null primary key, "tenant_id" uuid not null, "body" text not null);');
  }
}

/** A migration that forgot a column its entity has. */
class Migration20261129000000NoteWithoutBody extends Migration {
  override name = 'Migration20261129000000NoteWithoutBody';
  override up(): void {
    this.addSql('create table "note" ("id" uuid not null primary key, "tenant_id" uuid not null);');
  }
}

const NOTES = { shard: { entities: [Note], migrations: [Migration20261129000000Note] } };

/** Opened databases and created database URLs, closed and dropped after the file. */
const opened: ShardedDatabase[] = [];
const created: string[] = [];

function configFor(label: string, shards: number): ShardingConfig {
  const prefix = uniquePrefix(label);
  const config = {
    controlUrl: `${TEST_POSTGRES_URL}/${prefix}_control`,
    shardUrls: Array.from({ length: shards }, (_, index) => `${TEST_POSTGRES_URL}/${prefix}_shard_${index}`),
    poolMax: 1,
    createDatabases: true,
  };
  created.push(config.controlUrl, ...config.shardUrls);
  return config;
}

async function open(config: ShardingConfig, schema = NOTES): Promise<ShardedDatabase> {
  const db = await ShardedDatabase.open(config, schema, logger);
  opened.push(db);
  return db;
}

/** Rows of `sql` read straight from one database, not through the ORM. */
async function direct<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Sessions connected to the databases of `config` (other than this query's). */
async function sessions(config: ShardingConfig): Promise<number> {
  const names = [config.controlUrl, ...config.shardUrls].map(databaseName);
  const [row] = await direct<{ n: number }>(
    `${TEST_POSTGRES_URL}/postgres`,
    `select count(*)::int as n from pg_stat_activity where datname in (${names.map((name) => `'${name}'`).join(',')})`,
  );
  return row?.n ?? 0;
}

describe('sharded database', () => {
  after(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await dropDatabases(created);
  });

  it('creates and migrates every database on first open, and opens again without migrating twice', async () => {
    const config = configFor('open', 2);
    const db = await open(config);
    for (const url of config.shardUrls) {
      assert.deepEqual(await direct(url, 'select name from mikro_orm_migrations order by id'), [{ name: 'Migration20261129000000Note' }]);
    }
    const control = await direct<{ id: number; database_name: string }>(config.controlUrl, 'select id, database_name from shard order by id');
    assert.deepEqual(
      control,
      config.shardUrls.map((url, id) => ({ id, database_name: databaseName(url) })),
    );
    assert.deepEqual(await db.schemaDrift(), []);
    await db.close();
    const again = await open(config);
    assert.deepEqual(again.shardIds, [0, 1]);
    assert.equal((await direct(config.shardUrls[0]!, 'select name from mikro_orm_migrations')).length, 1);
  });

  it('refuses a shard list that was reordered or lost a shard, holding no connection after, and accepts an appended shard', async () => {
    const config = configFor('order', 2);
    await (await ShardedDatabase.open(config, NOTES, logger)).close();
    const [a, b] = config.shardUrls as [string, string];
    await assert.rejects(
      ShardedDatabase.open({ ...config, shardUrls: [b, a] }, NOTES, logger),
      /Shard 0 is .*_shard_0 in the directory but .*_shard_1 in the configuration/,
    );
    await assert.rejects(
      ShardedDatabase.open({ ...config, shardUrls: [a] }, NOTES, logger),
      /Shard 1 \(.*_shard_1\) holds tenants but is missing from the configuration/,
    );
    await waitUntil(async () => (await sessions(config)) === 0, 'a refused open to close what it opened', { timeoutMs: 5_000, intervalMs: 200 });

    const c = `${config.controlUrl.replace(/_control$/, '')}_shard_2`;
    created.push(c);
    const grown = await open({ ...config, shardUrls: [a, b, c] });
    assert.deepEqual([...(await grown.directory.load()).keys()], [0, 1, 2]);
    assert.deepEqual(await direct(c, 'select name from mikro_orm_migrations'), [{ name: 'Migration20261129000000Note' }], 'the new shard is migrated');
  });

  it("keeps a tenant's rows on the shard its directory names", async () => {
    const config = configFor('rows', 2);
    const db = await open(config);
    const tenants = Array.from({ length: 4 }, () => randomUUID());
    for (const tenantId of tenants) {
      const { shardId, em } = await db.placeTenant(tenantId);
      em.create(Note, { id: randomUUID(), tenantId, body: `note of ${tenantId}` });
      await em.flush();
      assert.equal((await db.emForTenant(tenantId))?.shardId, shardId);
    }
    assert.equal(await db.emForTenant(randomUUID()), undefined, 'a tenant this subgraph never saw has no shard');

    const groups = await db.groupByShard([...tenants, randomUUID()]);
    assert.deepEqual([...groups.values()].flat().sort(), [...tenants].sort(), 'every placed tenant in exactly one group');
    for (const [shardId, group] of groups) {
      const rows = await direct<{ tenant_id: string }>(config.shardUrls[shardId]!, 'select tenant_id from note order by tenant_id');
      assert.deepEqual(
        rows.map((row) => row.tenant_id),
        [...group].sort(),
        `shard ${shardId} holds exactly its tenants' rows`,
      );
    }
    // Consumers that learn of tenants from events place the new ones and find the known ones, in one call.
    const newcomer = randomUUID();
    const placed = await db.placeMany([tenants[0]!, newcomer, newcomer]);
    assert.equal(placed.size, 2);
    assert.equal(placed.get(tenants[0]!), (await db.emForTenant(tenants[0]!))?.shardId);
    assert.equal(placed.get(newcomer), (await db.emForTenant(newcomer))?.shardId);
  });

  it('shows drift between a migration and its entity', async () => {
    const db = await open(configFor('drift', 1), { shard: { entities: [Note], migrations: [Migration20261129000000NoteWithoutBody] } });
    const drift = await db.schemaDrift();
    assert.equal(drift.length, 1);
    assert.match(drift[0]!, /alter table "note" add (column )?"body" text not null/);
  });

  it('is ready while every database answers, and not once one is gone', async () => {
    const config = configFor('ping', 2);
    const db = await open(config);
    await db.ping();
    await dropDatabases([config.shardUrls[1]!]);
    await assert.rejects(db.ping());
  });
});

describe('database provisioning', () => {
  it('creates missing databases once, whoever else creates them at the same time', async () => {
    const prefix = uniquePrefix('provision');
    const urls = [`${TEST_POSTGRES_URL}/${prefix}_a`, `${TEST_POSTGRES_URL}/${prefix}_b`];
    try {
      const [first, second] = await Promise.all([ensureDatabases(urls), ensureDatabases(urls)]);
      assert.deepEqual([...first!, ...second!].sort(), urls.map(databaseName).sort(), 'each database created by exactly one caller');
      assert.deepEqual(await ensureDatabases(urls), [], 'nothing left to create');
    } finally {
      await dropDatabases(urls);
    }
    const [row] = await direct<{ n: number }>(`${TEST_POSTGRES_URL}/postgres`, `select count(*)::int as n from pg_database where datname like '${prefix}%'`);
    assert.equal(row?.n, 0, 'dropped');
  });

  it('accepts only plain lower-case database names and never shows a password', () => {
    assert.equal(databaseName('postgres://u@db:5432/saldo_billing_0'), 'saldo_billing_0');
    for (const name of ['Billing', 'a-b', 'x";drop', '0abc', '']) {
      assert.throws(() => databaseName(`postgres://u@db:5432/${encodeURIComponent(name)}`), /Unsupported database name/);
    }
    assert.equal(redactUrl('postgres://saldo:s3cret@db:5432/control'), 'postgres://saldo:***@db:5432/control');
  });
});
