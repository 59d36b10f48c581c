// Client writes that a shard move's fence catches: they wait, are refused on the old shard once the tenant switched
// (never applied there) and run again on the new one, through every subgraph's own write paths; the client sees no
// error. Each write is started inside the fence (the mover's VERIFYING step) and the move goes on only once the write
// waits for the fence lock, so the refusal and the retry happen every time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Topic, type EventEnvelope } from '@saldo/events';
import { ShardMover, type ShardedDatabase } from '@saldo/sharding';
import { testLogger, waitUntil, type GraphQLResponse } from '@saldo/testing';
import { createMovableTenant } from './movable-tenant.js';
import { startTestStack, type TestStack } from './test-stack.js';

/** Sessions of this shard's database waiting for an advisory lock (the fence). */
async function waitingForFence(db: ShardedDatabase, shardId: number): Promise<number> {
  const [row] = await db
    .em(shardId)
    .execute<{ count: string }[]>(
      "select count(*)::text as count from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())",
    );
  return Number(row!.count);
}

/**
 * Moves the tenant's rows of one subgraph to its other shard, starting `write` inside the fence; returns the write's
 * answer and the shards. The source keeps its rows (grace period) so the test can look at them.
 */
async function moveWithWriteInFence(
  service: { runtime: { db: ShardedDatabase; relay: { flush(): Promise<unknown> } } },
  tenantId: string,
  write: () => Promise<GraphQLResponse<Record<string, unknown>>>,
): Promise<{ response: GraphQLResponse<Record<string, unknown>>; source: number; target: number; fenceMs: number | null }> {
  const { db, relay } = service.runtime;
  const source = (await db.directory.lookupOne(tenantId))!;
  let pending: Promise<GraphQLResponse<Record<string, unknown>>> | undefined;
  const mover = new ShardMover(db, testLogger(), {
    graceMs: 600_000,
    drainOutbox: async () => {
      await relay.flush();
    },
    onPhase: async (_move, phase) => {
      if (phase !== 'VERIFYING') return;
      pending = write();
      await waitUntil(async () => (await waitingForFence(db, source)) > 0, 'the write to wait for the fence');
    },
  });
  const started = await mover.start(tenantId, 1 - source);
  const { move } = await mover.run(started.id);
  assert.equal(move.state, 'SWITCHED', move.error ?? '');
  assert.equal(await db.directory.lookupOne(tenantId), 1 - source);
  return { response: await pending!, source, target: 1 - source, fenceMs: move.fenceMs };
}

describe('writes caught by a shard move wait and land on the new shard, never as an error', () => {
  let stack: TestStack;
  let tenantId: string;
  const usageEvents: EventEnvelope[] = [];

  before(async () => {
    stack = await startTestStack('movewrites');
    stack.bus.subscribe(Topic.UsageEvents, 'e2e.movewrites.usage', async (event) => {
      usageEvents.push(event);
    });
    const rate = await stack.gql(`mutation($input: PublishRateInput!) { publishRate(input: $input) { id } }`, {
      input: { product: 'inbound_minute', currency: 'EUR', unitPriceMinor: '2', validFrom: new Date(Date.now() - 86_400_000).toISOString() },
    });
    assert.equal(rate.errors, undefined, JSON.stringify(rate.errors));
    tenantId = await createMovableTenant(stack, {
      name: 'Fenced',
      topUp: { amountMinor: 100_000n, idempotencyKey: 'stripe:evt_fenced', externalRef: 'pi_fenced' },
      displayName: 'Before',
    });
  });

  after(async () => {
    await stack?.destroy();
  });

  it('billing: recordUsage caught by the fence is charged once, on the new shard, and the ledger stays consistent', async () => {
    const { response, source, target } = await moveWithWriteInFence(stack.billing, tenantId, () =>
      stack.gql(`mutation($input: RecordUsageInput!) { recordUsage(input: $input) { accepted duplicates balance { version } } }`, {
        input: { tenantId, events: [{ id: 'fenced-call-1', product: 'inbound_minute', quantity: 5, occurredAt: new Date().toISOString() }] },
      }),
    );
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    assert.deepEqual(response.data!['recordUsage'], { accepted: 1, duplicates: 0, balance: { version: 2 } });
    const db = stack.billing.runtime.db;
    const count = async (shardId: number) =>
      Number(
        (
          await db
            .em(shardId)
            .execute<{ count: string }[]>("select count(*)::text as count from ledger_entry where tenant_id = ? and type = 'USAGE'", [tenantId])
        )[0]!.count,
      );
    assert.equal(await count(target), 1, 'charged on the new shard');
    assert.equal(await count(source), 0, 'never applied on the old shard');
    const check = await stack.billing.services.ledger.verify(tenantId);
    assert.ok(
      check.consistent,
      JSON.stringify(check, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
    );
    assert.equal(check.ledgerSumMinor, 100_000n - 10n);
  });

  it('tenants: updateTenant caught by the fence is applied on the new shard', async () => {
    const { response, source, target } = await moveWithWriteInFence(stack.tenants, tenantId, () =>
      stack.gql(`mutation($id: ID!) { updateTenant(id: $id, input: { name: "Renamed in the fence" }) { name } }`, { id: tenantId }),
    );
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    assert.deepEqual(response.data!['updateTenant'], { name: 'Renamed in the fence' });
    const db = stack.tenants.runtime.db;
    const name = async (shardId: number) => (await db.em(shardId).execute<{ name: string }[]>('select name from tenant where id = ?', [tenantId]))[0]?.name;
    assert.equal(await name(target), 'Renamed in the fence');
    assert.equal(await name(source), 'Fenced', 'never applied on the old shard');
  });

  it('white-label: setTenantBranding caught by the fence is applied on the new shard', async () => {
    const { response, source, target } = await moveWithWriteInFence(stack.whiteLabel, tenantId, () =>
      stack.gql(`mutation($id: ID!) { setTenantBranding(tenantId: $id, input: { displayName: "In the fence" }) { displayName } }`, { id: tenantId }),
    );
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    assert.deepEqual(response.data!['setTenantBranding'], { displayName: 'In the fence' });
    const db = stack.whiteLabel.runtime.db;
    const displayName = async (shardId: number) =>
      (await db.em(shardId).execute<{ display_name: string }[]>('select display_name from tenant_branding where tenant_id = ?', [tenantId]))[0]?.display_name;
    assert.equal(await displayName(target), 'In the fence');
    assert.equal(await displayName(source), 'Before', 'never applied on the old shard');
    const read = await stack.gql<{ tenant: { name: string; branding: { displayName: string } } }>(
      `query($id: ID!) { tenant(id: $id) { name branding { displayName } } }`,
      {
        id: tenantId,
      },
    );
    assert.equal(read.errors, undefined, JSON.stringify(read.errors));
    assert.deepEqual(read.data!.tenant, { name: 'Renamed in the fence', branding: { displayName: 'In the fence' } });
  });

  it('usage-forecast: usage aggregated while its tenant moves is counted once, on the new shard', async () => {
    const db = stack.usageForecast.runtime.db;
    const quantity = async (shardId: number) =>
      Number(
        (
          await db.em(shardId).execute<{ total: string }[]>('select coalesce(sum(quantity), 0)::text as total from daily_usage where tenant_id = ?', [tenantId])
        )[0]!.total,
      );
    await stack.flushEvents();
    const before = await quantity((await db.directory.lookupOne(tenantId))!);
    const { response, source, target } = await moveWithWriteInFence(stack.usageForecast, tenantId, async () => {
      // billing charges it at once; the usage event reaches usage-forecast's consumer, which waits for the fence.
      const recorded = await stack.gql(`mutation($input: RecordUsageInput!) { recordUsage(input: $input) { accepted } }`, {
        input: { tenantId, events: [{ id: 'fenced-call-2', product: 'inbound_minute', quantity: 7, occurredAt: new Date().toISOString() }] },
      });
      void stack.flushEvents();
      return recorded;
    });
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    await stack.flushEvents();
    assert.equal(await quantity(target), before + 7, 'counted on the new shard');
    assert.equal(await quantity(source), before, 'never applied on the old shard');

    // The consumer's records of what it applied moved with the aggregates: events consumed before the move, delivered
    // again now, are skipped on the new shard (exactly once across the move).
    const consumedBefore = usageEvents.filter((event) => JSON.stringify(event.payload).includes('fenced-call-1'));
    assert.equal(consumedBefore.length, 1);
    await stack.bus.publish(consumedBefore);
    await stack.flushEvents();
    assert.equal(await quantity(target), before + 7, 'a redelivery after the move is not counted again');
  });
});
