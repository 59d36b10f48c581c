import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SHARD_REBALANCE_QUEUE } from '@saldo/subgraph';
import { waitUntil } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

const PLAN_FIELDS = `subgraph dryRun threshold maxConcurrentMoves activeMoves notes
  moves { tenantId sourceShard targetShard rows sourceLoad sourceLoadAfter targetLoad targetLoadAfter reason refusal move { id state } }`;
type Plan = {
  subgraph: string;
  dryRun: boolean;
  threshold: number;
  maxConcurrentMoves: number;
  activeMoves: number;
  notes: string[];
  moves: Array<{
    tenantId: string;
    sourceShard: number;
    targetShard: number;
    rows: number;
    sourceLoad: number;
    sourceLoadAfter: number;
    targetLoad: number;
    targetLoadAfter: number;
    reason: string;
    refusal: string | null;
    move: { id: string; state: string } | null;
  }>;
};
type Move = { id: string; tenantId: string; state: string; error: string | null };
type ErrorsOf = { errors?: Array<{ extensions?: Record<string, unknown> }> };

describe('operators rebalance shards through the gateway; shards past the threshold shed tenants by themselves', () => {
  let stack: TestStack;
  const tenantIds: string[] = [];

  before(async () => {
    // White-label: three shards, the third draining (the emptiest, and never a target); four tenants per shard are
    // its capacity, so three tenants are 75 % and pass the 60 % threshold. The automatic plan runs when the test sends
    // its job (the schedule is set far apart so no occurrence interferes).
    stack = await startTestStack('rebalance', {
      shardsPerSubgraph: 3,
      whiteLabelEnv: {
        SHARD_DRAINING: '2',
        SHARD_CAPACITY_TENANTS: '4',
        SHARD_REBALANCE_THRESHOLD: '0.6',
        SHARD_REBALANCE_MAX_CONCURRENT_MOVES: '1',
        SHARD_REBALANCE_CRON: '0 0 1 1 *',
        SHARD_MOVE_GRACE_SECONDS: '0',
        JOBS_POLLING_INTERVAL_SECONDS: '0.5',
      },
    });
    for (let index = 0; index < 4; index += 1) {
      const tenant = await stack.tenants.services.tenants.create({ name: `Rebalanced ${index}`, currency: 'EUR', country: 'DE' });
      tenantIds.push(tenant.id);
    }
    await stack.flushEvents();
    for (const id of tenantIds) {
      const branded = await stack.gql(`mutation($id: ID!) { setTenantBranding(tenantId: $id, input: { displayName: "Brand" }) { displayName } }`, { id });
      assert.equal(branded.errors, undefined, JSON.stringify(branded.errors));
    }
  });

  after(async () => {
    await stack?.destroy();
  });

  const tenantsPerShard = async () => {
    const result = await stack.gql<{ whiteLabelShards: { shards: Array<{ id: number; tenants: number }> } }>('{ whiteLabelShards { shards { id tenants } } }');
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return result.data!.whiteLabelShards.shards.map((shard) => shard.tenants);
  };
  const moves = async () => {
    const result = await stack.gql<{ whiteLabelShardMoves: Move[] }>('{ whiteLabelShardMoves { id tenantId state error } }');
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return result.data!.whiteLabelShardMoves;
  };
  const finished = (moveId: string) =>
    waitUntil(
      async () => {
        const move = (await moves()).find((candidate) => candidate.id === moveId);
        return move && (move.state === 'CLEANED' || move.state === 'FAILED') ? move : undefined;
      },
      'the move to finish',
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  const rebalance = (variables: { dryRun: boolean; threshold?: number; maxMoves?: number }, identity?: Parameters<TestStack['gql']>[2]) =>
    stack.gql<{ rebalanceWhiteLabelShards: Plan }>(
      `mutation($dryRun: Boolean!, $threshold: Float, $maxMoves: Int) {
         rebalanceWhiteLabelShards(dryRun: $dryRun, threshold: $threshold, maxMoves: $maxMoves) { ${PLAN_FIELDS} } }`,
      variables,
      identity,
    );
  /** Three tenants on one shard, one on the other (an operator's move), the draining shard empty. */
  const unbalance = async (): Promise<number> => {
    const counts = await tenantsPerShard();
    if (counts[0] === 3 || counts[1] === 3) return counts[0] === 3 ? 0 : 1;
    assert.deepEqual(counts, [2, 2, 0]);
    const placements = await stack.whiteLabel.runtime.db.directory.lookup(tenantIds);
    const moving = tenantIds.find((id) => placements.get(id) === 1)!;
    const started = await stack.gql<{ startWhiteLabelShardMove: Move }>(
      `mutation($tenant: ID!) { startWhiteLabelShardMove(tenantId: $tenant, targetShard: 0) { id } }`,
      { tenant: moving },
    );
    assert.equal(started.errors, undefined, JSON.stringify(started.errors));
    assert.equal((await finished(started.data!.startWhiteLabelShardMove.id)).state, 'CLEANED');
    assert.deepEqual(await tenantsPerShard(), [3, 1, 0]);
    return 0;
  };

  it('a dry run shows which tenant would move from which shard to which and why, and starts nothing', async () => {
    const full = await unbalance();
    const before = await moves();
    const result = await rebalance({ dryRun: true });
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const plan = result.data!.rebalanceWhiteLabelShards;
    assert.deepEqual([plan.subgraph, plan.dryRun, plan.threshold, plan.maxConcurrentMoves, plan.activeMoves], ['white-label', true, 0.6, 1, 0]);
    assert.equal(plan.moves.length, 1);
    const [planned] = plan.moves;
    assert.deepEqual(
      [planned!.sourceShard, planned!.targetShard, planned!.sourceLoad, planned!.sourceLoadAfter, planned!.targetLoadAfter],
      [full, 1 - full, 0.75, 0.5, 0.5],
    );
    assert.ok(tenantIds.includes(planned!.tenantId));
    assert.equal((await stack.whiteLabel.runtime.db.directory.lookupOne(planned!.tenantId)) ?? -1, full);
    assert.match(planned!.reason, new RegExp(`shard ${full} is at 75 % of its capacity \\(tenants 3 of 4\\), over the 60 % threshold`));
    assert.equal(planned!.move, null);
    assert.deepEqual(plan.notes, []);
    assert.deepEqual(await moves(), before, 'a dry run records no move');
    assert.deepEqual(await tenantsPerShard(), full === 0 ? [3, 1, 0] : [1, 3, 0]);

    // At the configured 80 % nothing is over: nothing to plan.
    const calm = await rebalance({ dryRun: true, threshold: 0.8 });
    assert.deepEqual([calm.data!.rebalanceWhiteLabelShards.moves, calm.data!.rebalanceWhiteLabelShards.notes], [[], []]);
    // Below what any target can take: nothing planned, and the plan says why (the empty draining shard is no target).
    const tight = await rebalance({ dryRun: true, threshold: 0.4 });
    assert.deepEqual(tight.data!.rebalanceWhiteLabelShards.moves, []);
    assert.match(tight.data!.rebalanceWhiteLabelShards.notes.join(), /no shard that takes tenants can take one of them without passing 40 %/);
  });

  it('refuses bad input with stable codes and changes nothing; only platform operators may rebalance', async () => {
    const before = await moves();
    const code = (result: ErrorsOf) => [result.errors?.[0]?.extensions?.['code'], result.errors?.[0]?.extensions?.['field']];
    assert.deepEqual(code(await rebalance({ dryRun: false, threshold: 0 })), ['BAD_USER_INPUT', 'threshold']);
    assert.deepEqual(code(await rebalance({ dryRun: false, threshold: 1.5 })), ['BAD_USER_INPUT', 'threshold']);
    assert.deepEqual(code(await rebalance({ dryRun: false, maxMoves: 0 })), ['BAD_USER_INPUT', 'maxMoves']);
    assert.deepEqual(code(await rebalance({ dryRun: false, maxMoves: 101 })), ['BAD_USER_INPUT', 'maxMoves']);
    const tenantAdmin = { role: 'tenant-admin', subject: 'x', tenantId: tenantIds[0]! } as Parameters<TestStack['gql']>[2];
    assert.equal(code(await rebalance({ dryRun: false }, tenantAdmin))[0], 'FORBIDDEN');
    assert.equal(code(await rebalance({ dryRun: true }, tenantAdmin))[0], 'FORBIDDEN');
    assert.deepEqual(await moves(), before, 'no move recorded by a refusal');
  });

  it('executes the plan as durable jobs: the tenant moves, the shards even out, its branding stays', async () => {
    const full = await unbalance();
    const result = await rebalance({ dryRun: false });
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const plan = result.data!.rebalanceWhiteLabelShards;
    assert.equal(plan.dryRun, false);
    assert.equal(plan.moves.length, 1);
    const [planned] = plan.moves;
    assert.equal(planned!.refusal, null);
    assert.equal(planned!.move!.state, 'PENDING');
    const done = await finished(planned!.move!.id);
    assert.equal(done.state, 'CLEANED', done.error ?? '');
    assert.equal(await stack.whiteLabel.runtime.db.directory.lookupOne(planned!.tenantId), 1 - full);
    assert.deepEqual(await tenantsPerShard(), [2, 2, 0]);
    const read = await stack.gql<{ tenant: { branding: { displayName: string } } }>(`query($id: ID!) { tenant(id: $id) { branding { displayName } } }`, {
      id: planned!.tenantId,
    });
    assert.equal(read.errors, undefined, JSON.stringify(read.errors));
    assert.equal(read.data!.tenant.branding.displayName, 'Brand');
    // Balanced now: a second rebalance plans nothing.
    assert.deepEqual((await rebalance({ dryRun: false })).data!.rebalanceWhiteLabelShards.moves, []);
  });

  it('the periodic rebalance job moves a tenant off a shard past the threshold by itself', async () => {
    const full = await unbalance();
    const before = new Set((await moves()).map((move) => move.id));
    // One occurrence of the schedule (its cron is set far apart for the test).
    await stack.whiteLabel.runtime.jobs.send(SHARD_REBALANCE_QUEUE, {});
    const started = await waitUntil(async () => (await moves()).find((move) => !before.has(move.id)), 'the job to start a move', {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const done = await finished(started.id);
    assert.equal(done.state, 'CLEANED', done.error ?? '');
    assert.equal(await stack.whiteLabel.runtime.db.directory.lookupOne(done.tenantId), 1 - full);
    assert.deepEqual(await tenantsPerShard(), [2, 2, 0]);
    assert.equal((await moves()).filter((move) => !before.has(move.id)).length, 1, 'one move: the shard was under the threshold after it');
  });
});
