// Shard load and capacity (@saldo/sharding) against the machine's PostgreSQL: tenants from the directory, rows and
// bytes per table and the write rate from PostgreSQL's statistics, load as the highest ratio, draining as configuration.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Migration } from '@mikro-orm/migrations';
import { ShardedDatabase, dropDatabases, type ShardedSchema, type ShardingConfig } from '@saldo/sharding';
import { TEST_POSTGRES_URL, testLogger, uniquePrefix, waitUntil } from '@saldo/testing';

class ItemTable extends Migration {
  override name = 'Migration20260101000000Item';
  override up(): void {
    this.addSql('create table "item" ("id" uuid primary key, "tenant_id" uuid not null, "payload" text not null);');
  }
}

const schema: ShardedSchema = { shard: { entities: [], migrations: [ItemTable] } };
const prefix = uniquePrefix('shardload');
const urls = { control: `${TEST_POSTGRES_URL}/${prefix}_control`, shards: [0, 1].map((index) => `${TEST_POSTGRES_URL}/${prefix}_shard_${index}`) };
const logger = testLogger();

function config(overrides: Partial<ShardingConfig> = {}): ShardingConfig {
  return { controlUrl: urls.control, shardUrls: urls.shards, poolMax: 2, createDatabases: true, ...overrides };
}

describe('shard load and capacity', () => {
  after(async () => {
    await dropDatabases([urls.control, ...urls.shards]);
  });

  test('a draining shard takes no new tenants until the configuration stops draining it', async () => {
    const db = await ShardedDatabase.open(config({ drainingShards: [1] }), schema, logger);
    try {
      const placed = await Promise.all(Array.from({ length: 4 }, () => db.directory.place(randomUUID())));
      assert.deepEqual(placed, [0, 0, 0, 0]);
      const report = await db.loadReport();
      assert.deepEqual(
        report.map((shard) => [shard.shardId, shard.draining, shard.tenants]),
        [
          [0, false, 4],
          [1, true, 0],
        ],
      );
    } finally {
      await db.close();
    }
    const reopened = await ShardedDatabase.open(config(), schema, logger);
    try {
      assert.equal(await reopened.directory.place(randomUUID()), 1, 'the least-loaded shard takes placements again');
      assert.deepEqual(
        (await reopened.loadReport()).map((shard) => shard.draining),
        [false, false],
      );
    } finally {
      await reopened.close();
    }
  });

  test('refuses to drain a shard that is not configured', async () => {
    await assert.rejects(ShardedDatabase.open(config({ drainingShards: [2] }), schema, logger), /Draining shard 2 is not configured/);
  });

  test('reports rows and bytes per table, the write rate, and load as the highest ratio to the capacity', async () => {
    const capacity = { tenants: 10, rows: 400, bytes: 1024 ** 3, writesPerSecond: 1_000_000 };
    const db = await ShardedDatabase.open(config({ capacity }), schema, logger);
    try {
      const tenant = randomUUID();
      const shardId = await db.directory.place(tenant);
      const before = await db.loadReport();
      const insert = async (count: number) => {
        const values = Array.from({ length: count }, () => `('${randomUUID()}', '${tenant}', 'x')`).join(',');
        await db.em(shardId).execute(`insert into item (id, tenant_id, payload) values ${values}`);
      };
      await insert(300);
      // PostgreSQL publishes table statistics shortly after a transaction (not synchronously): wait for them.
      const report = await waitUntil(async () => {
        const current = await db.loadReport();
        const item = current[shardId]!.tables.find((table) => table.name === 'item');
        return item && item.rows === 300 && current[shardId]!.writesPerSecond > 0 ? current : undefined;
      }, 'the inserted rows and writes in the shard statistics');
      const shard = report[shardId]!;
      const item = shard.tables.find((table) => table.name === 'item')!;
      assert.ok(item.bytes > 0);
      assert.ok(!shard.tables.some((table) => table.name === 'mikro_orm_migrations'), 'bookkeeping tables are not load');
      assert.equal(
        shard.rows,
        shard.tables.reduce((sum, table) => sum + table.rows, 0),
      );
      assert.equal(
        shard.bytes,
        shard.tables.reduce((sum, table) => sum + table.bytes, 0),
      );
      assert.ok(shard.rows >= 300);
      assert.deepEqual(shard.capacity, capacity);
      // 300+ rows of 400 is the scarcest resource here (tenants 2/10, bytes and writes far below).
      const expected = Math.max(shard.tenants / 10, shard.rows / 400, shard.bytes / 1024 ** 3, shard.writesPerSecond / 1_000_000);
      assert.equal(shard.load, expected);
      assert.equal(shard.load, shard.rows / 400);
      assert.ok(shard.load > before[shardId]!.load);
      const other = report[1 - shardId]!;
      assert.equal(other.tables.find((table) => table.name === 'item')?.rows, 0);
    } finally {
      await db.close();
    }
  });
});
