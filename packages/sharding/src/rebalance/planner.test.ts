// The rebalance planner (pure): which tenants leave a shard past the threshold, for which shard, and what it will not do.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ShardLoad } from '../load.js';
import { planRebalance, type RebalanceInput } from './planner.js';

const capacity = { tenants: 10, rows: 1_000, bytes: 1e12, writesPerSecond: 1e6 };

function shard(shardId: number, tenants: number, rows: number, draining = false): ShardLoad {
  return {
    shardId,
    databaseName: `shard_${shardId}`,
    draining,
    tenants,
    rows,
    bytes: 0,
    writesPerSecond: 0,
    tables: [],
    capacity,
    load: Math.max(tenants / capacity.tenants, rows / capacity.rows),
  };
}

const input = (overrides: Partial<RebalanceInput>): RebalanceInput => ({
  shards: [],
  tenantRows: new Map(),
  moving: new Set(),
  activeMoves: 0,
  maxConcurrentMoves: 5,
  threshold: 0.8,
  ...overrides,
});

describe('planning a rebalance', () => {
  test('moves the smallest tenant that brings the shard under the threshold, never onto a draining shard', () => {
    const plan = planRebalance(
      input({
        shards: [shard(0, 4, 900), shard(1, 4, 500), shard(2, 0, 0, true)],
        tenantRows: new Map([
          [
            0,
            new Map([
              ['a', 50],
              ['b', 100],
              ['c', 300],
              ['d', 450],
            ]),
          ],
        ]),
      }),
    );
    assert.deepEqual(
      plan.moves.map((move) => [move.tenantId, move.sourceShard, move.targetShard]),
      [['b', 0, 1]],
    );
    assert.equal(plan.moves[0]!.sourceLoadAfter, 0.8);
    assert.equal(plan.moves[0]!.targetLoadAfter, 0.6);
    assert.match(plan.moves[0]!.reason, /shard 0 is at 90 % of its capacity \(rows 900 of 1,000\), over the 80 % threshold/);
    assert.deepEqual(plan.notes, []);
  });

  test('sheds tenants one after the other when no single move is enough, the largest first', () => {
    const rows: Array<[string, number]> = [['a', 100], ...['b', 'c', 'd', 'e', 'f', 'g'].map((id): [string, number] => [id, 150])];
    const plan = planRebalance(input({ shards: [shard(0, 7, 1_000), shard(1, 0, 0), shard(2, 0, 0)], tenantRows: new Map([[0, new Map(rows)]]) }));
    assert.deepEqual(
      plan.moves.map((move) => [move.tenantId, move.targetShard, move.sourceLoadAfter]),
      [
        ['b', 1, 0.85],
        ['a', 2, 0.75],
      ],
    );
    assert.ok(plan.moves.every((move) => move.targetLoadAfter <= 0.8));
  });

  test('leaves tenants already moving alone and never exceeds the concurrent-move limit', () => {
    const shards = [shard(0, 10, 0), shard(1, 0, 0)];
    const tenantRows = new Map([[0, new Map(Array.from({ length: 10 }, (_, index) => [`t${index}`, index] as [string, number]))]]);
    const plan = planRebalance(input({ shards, tenantRows, moving: new Set(['t0']), activeMoves: 1, maxConcurrentMoves: 2 }));
    assert.deepEqual(
      plan.moves.map((move) => move.tenantId),
      ['t1'],
    );
    assert.match(plan.notes.join(), /shard 0 stays at 90 %: 2 concurrent moves at most \(1 unfinished before this plan\)/);
    assert.deepEqual(planRebalance(input({ shards, tenantRows, activeMoves: 2, maxConcurrentMoves: 2 })).moves, []);
  });

  test('plans nothing that would push the target past the threshold, and says so', () => {
    const plan = planRebalance(
      input({
        shards: [shard(0, 2, 950), shard(1, 1, 700), shard(2, 0, 0, true)],
        tenantRows: new Map([
          [
            0,
            new Map([
              ['a', 475],
              ['b', 475],
            ]),
          ],
        ]),
      }),
    );
    assert.deepEqual(plan.moves, []);
    assert.match(plan.notes.join(), /no shard that takes tenants can take one of them without passing 80 %/);
  });

  test('plans nothing when every shard is at or under the threshold', () => {
    assert.deepEqual(planRebalance(input({ shards: [shard(0, 8, 800), shard(1, 1, 10)] })), { threshold: 0.8, moves: [], notes: [] });
  });
});
