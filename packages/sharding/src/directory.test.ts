// The shard directory (tenant -> shard, and the tenant's partner) in a control database on the machine's PostgreSQL:
// least-loaded and idempotent placement, serialized across replicas, partners learnt once, closed shards skipped.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ShardedDatabase, dropDatabases, type ShardingConfig } from '@saldo/sharding';
import { TEST_POSTGRES_URL, testLogger, uniquePrefix } from '@saldo/testing';

const logger = testLogger();
const EMPTY_SCHEMA = { shard: { entities: [], migrations: [] } };

/** Tenants per shard, as plain numbers in shard order. */
async function loads(db: ShardedDatabase): Promise<number[]> {
  return [...(await db.directory.load()).entries()].sort(([a], [b]) => a - b).map(([, tenants]) => tenants);
}

describe('shard directory', () => {
  const prefix = uniquePrefix('directory');
  const config: ShardingConfig = {
    controlUrl: `${TEST_POSTGRES_URL}/${prefix}_control`,
    shardUrls: [0, 1, 2].map((index) => `${TEST_POSTGRES_URL}/${prefix}_shard_${index}`),
    poolMax: 1,
    createDatabases: true,
  };
  /** Two replicas of one subgraph: the same databases, separate pools and caches. */
  let first: ShardedDatabase;
  let second: ShardedDatabase;

  before(async () => {
    first = await ShardedDatabase.open(config, EMPTY_SCHEMA, logger);
    second = await ShardedDatabase.open(config, EMPTY_SCHEMA, logger);
  });

  after(async () => {
    await second?.close();
    await first?.close();
    await dropDatabases([config.controlUrl, ...config.shardUrls]);
  });

  it('places each new tenant on the least-loaded shard, and a placed tenant where it is', async () => {
    const start = await loads(first);
    assert.deepEqual(start, [0, 0, 0]);
    const tenants = Array.from({ length: 6 }, () => randomUUID());
    const shards: number[] = [];
    for (const tenant of tenants) shards.push(await first.directory.place(tenant));
    assert.deepEqual(shards, [0, 1, 2, 0, 1, 2], 'ties go to the lowest shard id');
    assert.deepEqual(await loads(first), [2, 2, 2]);

    // Again, from either replica: the same shard, no second placement.
    for (const [index, tenant] of tenants.entries()) {
      assert.equal(await first.directory.place(tenant), shards[index]);
      assert.equal(await second.directory.place(tenant), shards[index]);
    }
    assert.deepEqual(await loads(second), [2, 2, 2]);
    const found = await second.directory.lookup([...tenants, randomUUID()]);
    assert.deepEqual([...found.entries()].sort(), tenants.map((tenant, index) => [tenant, shards[index]]).sort(), 'unplaced tenants are absent');
    assert.equal(await second.directory.lookupOne(randomUUID()), undefined);
  });

  it('keeps placements balanced when two replicas place many tenants at once', async () => {
    const before = await loads(first);
    const tenants = Array.from({ length: 30 }, () => randomUUID());
    const placed = await Promise.all(tenants.map((tenant, index) => (index % 2 === 0 ? first : second).directory.place(tenant)));
    const after = await loads(first);
    const added = after.map((count, shard) => count - (before[shard] ?? 0));
    assert.deepEqual(added, [10, 10, 10], 'placements are serialized: no two picked the same "least-loaded" shard');
    // Both replicas agree on every tenant's shard (each tenant has exactly one placement).
    const fromFirst = await first.directory.lookup(tenants);
    const fromSecond = await second.directory.lookup(tenants);
    assert.deepEqual(
      tenants.map((tenant) => fromFirst.get(tenant)),
      placed,
    );
    assert.deepEqual(
      tenants.map((tenant) => fromSecond.get(tenant)),
      placed,
    );
  });

  it("records a tenant's partner once known, whichever replica learns it, and never changes it", async () => {
    const tenant = randomUUID();
    const partner = randomUUID();
    const shard = await first.directory.place(tenant);
    assert.deepEqual(await first.directory.partnersOf([tenant]), new Map([[tenant, null]]), 'no partner known yet');
    // The other replica learns the partner (the tenant's creation event reached it first).
    assert.equal(await second.directory.place(tenant, partner), shard);
    assert.deepEqual(await first.directory.partnersOf([tenant]), new Map([[tenant, partner]]), '"no partner yet" was not remembered');
    // A known partner stays: a tenant does not move between partners.
    assert.equal(await second.directory.place(tenant, randomUUID()), shard);
    assert.deepEqual(await second.directory.partnersOf([tenant, randomUUID()]), new Map([[tenant, partner]]));
    const placedWithPartner = randomUUID();
    await first.directory.place(placedWithPartner, partner);
    assert.deepEqual(await second.directory.partnersOf([placedWithPartner]), new Map([[placedWithPartner, partner]]));
  });

  it('places no new tenant on a shard closed to new tenants, and says so when none accepts', async () => {
    const control = first.globalEm();
    const placedBefore = randomUUID();
    await first.directory.place(placedBefore);
    await control.execute('update shard set accepts_new_tenants = false where id in (0, 1)');
    try {
      const shards = await Promise.all(Array.from({ length: 4 }, () => second.directory.place(randomUUID())));
      assert.deepEqual(shards, [2, 2, 2, 2]);
      assert.equal((await first.directory.lookup([placedBefore])).size, 1, 'placed tenants stay where they are');
      await control.execute('update shard set accepts_new_tenants = false');
      await assert.rejects(first.directory.place(randomUUID()), /No shard accepts new tenants/);
    } finally {
      await control.execute('update shard set accepts_new_tenants = true');
    }
  });
});
