// The outbox retention pass (@saldo/subgraph's pruneOutboxes) while a tenant moves between shards, against the machine's
// PostgreSQL: the moving tenant's events stay on both shards until its move is over (the mover compares them, and the
// outbox's deletions are not captured), other tenants' go as usual, the move verifies and loses no event, and the next
// pass after the move takes the tenant's old events on its new shard. Here beside the other move tests (the ledger-like
// schema, a relay), since @saldo/subgraph depends on @saldo/sharding.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Migration20261123000100Outbox, Migration20261130010000OutboxPublishedAt, type OutboxRelay } from '@saldo/events';
import { ShardMover, ShardedDatabase, dropDatabases, type MoveState, type ShardedSchema } from '@saldo/sharding';
import { pruneOutboxes, type OutboxRetentionResult } from '@saldo/subgraph';
import { TEST_POSTGRES_URL, testLogger, uniquePrefix } from './harness.js';
import { ledgerLikeSchema, seedTenant, tenantRows } from './test-fixtures/ledger-like.js';
import { startShardRelay } from './test-fixtures/shard-relay.js';

const prefix = uniquePrefix('retentionmove');
const urls = { control: `${TEST_POSTGRES_URL}/${prefix}_control`, shards: [0, 1].map((index) => `${TEST_POSTGRES_URL}/${prefix}_shard_${index}`) };
const logger = testLogger();
/** The ledger-like shards with the retention's index, and an outbox in the control database as every subgraph has. */
const schema: ShardedSchema = {
  ...ledgerLikeSchema,
  shard: { ...ledgerLikeSchema.shard, migrations: [...ledgerLikeSchema.shard.migrations, Migration20261130010000OutboxPublishedAt] },
  global: { entities: [], migrations: [Migration20261123000100Outbox, Migration20261130010000OutboxPublishedAt] },
};
const settings = { hours: 168, batchSize: 7 };
/** Far enough ahead that every event published so far is past the retention. */
const later = () => new Date(Date.now() + 200 * 3_600_000);

describe('outbox retention during a shard move', () => {
  let db: ShardedDatabase;
  let relay: OutboxRelay;

  before(async () => {
    db = await ShardedDatabase.open({ controlUrl: urls.control, shardUrls: urls.shards, poolMax: 4, createDatabases: true }, schema, logger);
    relay = startShardRelay(db, logger);
  });

  after(async () => {
    await relay?.stop();
    await db?.close();
    await dropDatabases([urls.control, ...urls.shards]);
  });

  test('a pass while the tenant moves spares its events on both shards; the move verifies; the next pass takes them on the new shard', async () => {
    // Placement fills the least loaded shard: the moving tenant, a tenant on the other shard, one beside the moving one.
    const moving = await seedTenant(db, 30);
    const elsewhere = await seedTenant(db, 10);
    const beside = await seedTenant(db, 12);
    const source = (await db.directory.lookupOne(moving))!;
    const target = 1 - source;
    assert.equal(await db.directory.lookupOne(elsewhere), target);
    assert.equal(await db.directory.lookupOne(beside), source);
    await relay.flush();

    const passes: Partial<Record<MoveState, OutboxRetentionResult>> = {};
    const during: Partial<Record<MoveState, { source: number; target: number }>> = {};
    const mover = new ShardMover(db, logger, {
      graceMs: 0,
      batchSize: 50,
      drainOutbox: () => relay.flush(),
      // A pass as the copy begins (the tenant marked on both shards, nothing copied yet) and once everything is copied.
      onPhase: async (_move, phase) => {
        if ((phase !== 'COPYING' && phase !== 'CATCHING_UP') || passes[phase]) return;
        passes[phase] = await pruneOutboxes(db, settings, { now: later(), logger });
        during[phase] = { source: (await tenantRows(db, source, moving))['outbox_event']!, target: (await tenantRows(db, target, moving))['outbox_event']! };
      },
    });
    const { move } = await mover.run((await mover.start(moving, target)).id);
    assert.equal(move.state, 'CLEANED', move.error ?? '');

    // The first pass took the other tenants' events on both shards and none of the moving tenant's, on either shard.
    assert.deepEqual(passes['COPYING'], { control: 0, [`shard-${source}`]: 12, [`shard-${target}`]: 10 });
    assert.deepEqual(passes['CATCHING_UP'], { control: 0, [`shard-${source}`]: 0, [`shard-${target}`]: 0 });
    assert.deepEqual(during['COPYING'], { source: 30, target: 0 });
    assert.deepEqual(during['CATCHING_UP'], { source: 30, target: 30 }, 'the copied events stayed on the target, the originals on the source');
    assert.equal((await tenantRows(db, target, moving))['outbox_event'], 30, 'every event arrived');

    // The tenant is on its new shard and marked on neither: its old events go like any other's.
    const afterMove = await pruneOutboxes(db, settings, { now: later(), logger });
    assert.deepEqual(afterMove, { control: 0, [`shard-${source}`]: 0, [`shard-${target}`]: 30 });
    assert.deepEqual(await tenantRows(db, target, moving), { account: 1, entry: 30, item: 7, profile: 1, outbox_event: 0 });
  });
});
