// A tenant moved between shards in every subgraph while it works, end to end through the gateway: usage at 200 events/s
// (half of it through a second gateway and a second billing instance over the same databases, whose directory cache
// learns of the switch by NOTIFY), tenant and branding updates, and a live balance subscription, with each move started
// and watched by an operator through the GraphQL API. Mover-level invariants (two ShardedDatabase instances, the
// stale-epoch refusal, every phase's crash) are covered in packages/testing; one write caught inside each fence in
// shard-move-writes.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventBus } from '@saldo/events';
import type { GatewayService } from '@saldo/gateway';
import type { Identity } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { createSubgraphService, type SubgraphService } from '@saldo/subgraph';
import { billingSubgraph, type BillingConfig, type BillingServices } from '@saldo/subgraph-billing';
import { TEST_ADMIN, graphql, testLogger, waitUntil, type GraphQLResponse } from '@saldo/testing';
import { wsTestClient, type Collector, type WsTestClient } from './subscription-clients.js';
import { createMovableTenant } from './movable-tenant.js';
import { startTestStack, type TestStack } from './test-stack.js';

/** The load: 200 usage events/s, sent by SENDERS clients at REQUESTS_PER_SECOND each, EVENTS_PER_REQUEST a call. */
const SENDERS = 4;
const REQUESTS_PER_SECOND = 10;
const EVENTS_PER_REQUEST = 5;
/** Usage acknowledged before the moves start and after they end (half a second of the load). */
const EVENTS_PER_MOVE = 100;
/** Tenant and branding updates per second (one client, alternating). */
const UPDATES_PER_SECOND = 10;
const TOP_UP_MINOR = 100_000_000n;

const LIVE_BALANCE = /* GraphQL */ `
  subscription LiveBalance($tenantId: ID!) {
    balanceChanged(tenantId: $tenantId) {
      balance {
        version
        available {
          amountMinor
        }
      }
      previousBalance {
        amountMinor
      }
      tenant {
        name
      }
    }
  }
`;
interface LiveBalance {
  balanceChanged: {
    balance: { version: number; available: { amountMinor: number } };
    previousBalance: { amountMinor: number } | null;
    tenant: { name: string };
  };
}

const RECORD_USAGE = /* GraphQL */ `
  mutation Record($input: RecordUsageInput!) {
    recordUsage(input: $input) {
      accepted
      duplicates
      balance {
        version
      }
    }
  }
`;

/** Each subgraph as the stack names it, with the prefix of its operator fields (startXShardMove, xShardMoves). */
const SUBGRAPHS = [
  { key: 'billing', start: 'startBillingShardMove', list: 'billingShardMoves' },
  { key: 'tenants', start: 'startTenantsShardMove', list: 'tenantsShardMoves' },
  { key: 'whiteLabel', start: 'startWhiteLabelShardMove', list: 'whiteLabelShardMoves' },
  { key: 'usageForecast', start: 'startUsageForecastShardMove', list: 'usageForecastShardMoves' },
] as const;

interface Move {
  id: string;
  state: string;
  sourceShard: number;
  targetShard: number;
  fenceMs: number | null;
  error: string | null;
}
const MOVE_FIELDS = 'id state sourceShard targetShard fenceMs error';

/** A client-visible failure: GraphQL errors in a response, or a request that did not complete. */
type ClientError = { operation: string; error: unknown };

/**
 * Runs `send` every `periodMs` (the n-th call is due at start + n * period) until stopped: a rate, not a sleep between
 * steps. A call that takes longer than the period (a write waiting for a fence) delays the next one rather than
 * bunching them up afterwards.
 */
function paced(periodMs: number, send: (sequence: number) => Promise<void>): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    let due = Date.now();
    for (let sequence = 0; running; sequence += 1) {
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (!running) break;
      await send(sequence);
      due = Math.max(due + periodMs, Date.now() - periodMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** The tenant's rows on one shard, per table (tables with a tenant column; the mover's own bookkeeping excluded). */
async function tenantRows(db: ShardedDatabase, shardId: number, tenantId: string): Promise<Record<string, number>> {
  const em = db.em(shardId);
  const columns = await em.execute<{ table_name: string; column_name: string }[]>(
    "select table_name, column_name from information_schema.columns where table_schema = current_schema() and table_name not like 'shard_move%'",
  );
  const counts: Record<string, number> = {};
  for (const { table_name: table, column_name: column } of columns) {
    if (column !== (db.tenantColumns[table] ?? 'tenant_id')) continue;
    const [row] = await em.execute<{ count: string }[]>(`select count(*)::text as count from "${table}" where "${column}"::text = ?`, [tenantId]);
    counts[table] = Number(row!.count);
  }
  return counts;
}

describe('a tenant moved in every subgraph while it works (200 usage events/s, updates, a live balance)', () => {
  let stack: TestStack;
  let billing2: SubgraphService<BillingServices, BillingConfig>;
  let gateway2: GatewayService;
  let ws: WsTestClient;
  let tenantId: string;

  before(async () => {
    // No grace period and quick job polls: the test waits for CLEANED, and a stale cache meets an already cleaned source.
    const moveEnv = { SHARD_MOVE_GRACE_SECONDS: '0', JOBS_POLLING_INTERVAL_SECONDS: '0.5' };
    // One platform admin drives all of it (about 50 writes/s and the operator's polls): far beyond the per-identity
    // allowance a client gets by default, which is not what this test is about.
    const rateLimit = { perMinute: 600_000, burst: 10_000 };
    stack = await startTestStack('movelive', { billingEnv: moveEnv, tenantsEnv: moveEnv, whiteLabelEnv: moveEnv, usageForecastEnv: moveEnv, rateLimit });
    // A second billing instance over the same databases with its own directory cache, behind a second gateway. It
    // publishes its outbox to the stack's bus but consumes nothing (the first instance does), like a replica whose
    // consumer group shares the work.
    const publishOnly: EventBus = {
      publish: (events) => stack.bus.publish(events),
      subscribe: () => () => undefined,
      subscribeBatch: () => () => undefined,
      close: async () => undefined,
    };
    billing2 = createSubgraphService(billingSubgraph, stack.billing.runtime.config, { bus: publishOnly, logger: testLogger() });
    await billing2.start();
    gateway2 = await stack.startGateway({
      SUBGRAPH_URL_BILLING: `${billing2.url}/graphql`,
      RATE_LIMIT_PER_MINUTE: String(rateLimit.perMinute),
      RATE_LIMIT_BURST: String(rateLimit.burst),
    });

    await stack.billing.services.rates.publish({
      product: 'inbound_minute',
      currency: 'EUR',
      unitPriceMinor: '1',
      validFrom: new Date(Date.now() - 86_400_000),
    });
    tenantId = await createMovableTenant(stack, {
      name: 'Live tenant',
      topUp: { amountMinor: TOP_UP_MINOR, idempotencyKey: 'seed:live-tenant' },
      displayName: 'Brand start',
    });
  });

  after(async () => {
    await ws?.dispose();
    await gateway2?.stop();
    await billing2?.runtime.relay.stop();
    await billing2?.stop();
    await stack?.destroy();
  });

  it('loses, doubles or refuses nothing, and the subscription sees every posting in order', async () => {
    const member: Identity = { role: 'tenant-member', subject: 'live', tenantId };
    ws = wsTestClient(stack.graphqlUrl, { authorization: `Bearer ${await stack.issueToken(member)}` });
    const live: Collector<LiveBalance> = ws.subscribe<LiveBalance>(LIVE_BALANCE, { tenantId }).collector;
    await live.count(1);
    assert.equal(live.last?.balanceChanged.balance.version, 1, 'the snapshot: the top-up');

    const errors: ClientError[] = [];
    const check = (operation: string, response: GraphQLResponse<unknown>) => {
      if (response.errors) errors.push({ operation, error: response.errors });
      return response.errors === undefined;
    };
    const admin = await stack.authHeaders(TEST_ADMIN);
    const gatewayUrls = [stack.graphqlUrl, `${gateway2.url}/graphql`];

    // Usage: every acknowledged event id, and the balance version each posting returned.
    const sentIds: string[] = [];
    const postingVersions: number[] = [];
    let acknowledged = 0;
    const senders = Array.from({ length: SENDERS }, (_, sender) =>
      paced(1000 / REQUESTS_PER_SECOND, async (sequence) => {
        const ids = Array.from({ length: EVENTS_PER_REQUEST }, (_, index) => `live-${sender}-${sequence}-${index}`);
        sentIds.push(...ids);
        try {
          const response = await graphql<{ recordUsage: { accepted: number; duplicates: number; balance: { version: number } } }>(
            gatewayUrls[sender % 2]!,
            RECORD_USAGE,
            { input: { tenantId, events: ids.map((id) => ({ id, product: 'inbound_minute', quantity: 1, occurredAt: new Date().toISOString() })) } },
            admin,
          );
          if (!check('recordUsage', response)) return;
          const { accepted, duplicates, balance } = response.data!.recordUsage;
          if (accepted !== EVENTS_PER_REQUEST || duplicates !== 0) errors.push({ operation: 'recordUsage', error: { accepted, duplicates } });
          postingVersions.push(balance.version);
          acknowledged += accepted;
        } catch (error) {
          errors.push({ operation: 'recordUsage', error });
        }
      }),
    );

    // Tenant and branding updates, alternating; the last acknowledged value of each must be what reads return.
    let lastName = 'Live tenant';
    let lastBrand = 'Brand start';
    const updates = paced(1000 / UPDATES_PER_SECOND, async (sequence) => {
      try {
        if (sequence % 2 === 0) {
          const name = `Live tenant ${sequence}`;
          const response = await stack.gql(`mutation($id: ID!, $name: String!) { updateTenant(id: $id, input: { name: $name }) { name } }`, {
            id: tenantId,
            name,
          });
          if (check('updateTenant', response)) lastName = name;
        } else {
          const brand = `Brand ${sequence}`;
          const response = await stack.gql(
            `mutation($id: ID!, $brand: String!) { setTenantBranding(tenantId: $id, input: { displayName: $brand }) { displayName } }`,
            { id: tenantId, brand },
          );
          if (check('setTenantBranding', response)) lastBrand = brand;
        }
      } catch (error) {
        errors.push({ operation: 'update', error });
      }
    });

    let moves: Array<{ subgraph: (typeof SUBGRAPHS)[number]['key']; move: Move }>;
    try {
      await waitUntil(() => acknowledged >= EVENTS_PER_MOVE, 'usage acknowledged before the moves', { timeoutMs: 30_000 });
      // The second billing instance routes by its cached placement, as a busy replica does.
      const billingSource = (await stack.billing.runtime.db.directory.lookupOne(tenantId))!;
      assert.equal(await billing2.runtime.db.directory.lookupOne(tenantId), billingSource);
      // All four moves at once, as an operator (or each subgraph's automatic rebalance) may start them. Their fences
      // overlap: a fence's outbox drain delivers events to the other subgraphs' consumers, whose writes of the tenant
      // wait for their own fences (the in-process bus delivers inside publish).
      moves = await Promise.all(
        SUBGRAPHS.map(async (subgraph) => {
          const db = stack[subgraph.key].runtime.db;
          const source = (await db.directory.lookupOne(tenantId))!;
          const started = await stack.gql<Record<string, Move>>(
            `mutation($tenant: ID!, $target: Int!) { ${subgraph.start}(tenantId: $tenant, targetShard: $target) { ${MOVE_FIELDS} } }`,
            { tenant: tenantId, target: 1 - source },
          );
          assert.equal(started.errors, undefined, JSON.stringify(started.errors));
          const moveId = started.data![subgraph.start]!.id;
          const done = await waitUntil(
            async () => {
              const result = await stack.gql<Record<string, Move[]>>(`{ ${subgraph.list} { ${MOVE_FIELDS} } }`);
              assert.equal(result.errors, undefined, JSON.stringify(result.errors));
              const move = result.data![subgraph.list]!.find((candidate) => candidate.id === moveId)!;
              return move.state === 'CLEANED' || move.state === 'FAILED' ? move : undefined;
            },
            `the ${subgraph.key} move to finish`,
            { timeoutMs: 90_000, intervalMs: 100 },
          );
          assert.equal(done.state, 'CLEANED', `${subgraph.key}: ${done.error}`);
          assert.deepEqual([done.sourceShard, done.targetShard], [source, 1 - source]);
          // The instance that ran the move routes to the new shard at once.
          assert.equal(await db.directory.lookupOne(tenantId), done.targetShard);
          return { subgraph: subgraph.key, move: done };
        }),
      );
      // The second billing instance's cache is told by NOTIFY; until then a write it sends to the old shard is refused
      // there (stale epoch) and retried on the new one.
      await waitUntil(
        async () => (await billing2.runtime.db.directory.lookupOne(tenantId)) === 1 - billingSource,
        'the second billing instance to route to the new shard',
      );
      // Load goes on after the last switch too.
      const loadAfter = acknowledged;
      await waitUntil(() => acknowledged >= loadAfter + EVENTS_PER_MOVE, 'usage acknowledged after the moves', { timeoutMs: 30_000 });
    } finally {
      await Promise.all([...senders, updates].map((loop) => loop.stop()));
    }

    assert.deepEqual(errors, [], 'no client-visible error');
    assert.equal(acknowledged, sentIds.length, 'every usage event acknowledged');

    // Billing: every event id charged exactly once, all on the new shard; balance = sum of entries, versions without gaps.
    const billingDb = stack.billing.runtime.db;
    const billingMove = moves.find((entry) => entry.subgraph === 'billing')!.move;
    const charged = new Map<string, number>();
    for (const shardId of billingDb.shardIds) {
      const rows = await billingDb
        .em(shardId)
        .execute<{ external_ref: string }[]>("select external_ref from ledger_entry where tenant_id = ? and type = 'USAGE'", [tenantId]);
      if (shardId !== billingMove.targetShard) assert.equal(rows.length, 0, `no usage entry left on shard ${shardId}`);
      for (const row of rows) charged.set(row.external_ref, (charged.get(row.external_ref) ?? 0) + 1);
    }
    assert.deepEqual([...charged.keys()].sort(), [...sentIds].sort(), 'every event id charged, and nothing else');
    assert.deepEqual(
      [...charged.entries()].filter(([, count]) => count !== 1),
      [],
      'no event id charged twice',
    );
    const ledger = await stack.billing.services.ledger.verify(tenantId);
    assert.ok(
      ledger.consistent,
      JSON.stringify(ledger, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
    );
    const finalVersion = 1 + sentIds.length;
    assert.equal(ledger.cachedVersion, finalVersion);
    assert.equal(ledger.ledgerSumMinor, TOP_UP_MINOR - BigInt(sentIds.length));
    const balance = await stack.gql<{ balance: { version: number; available: { amountMinor: number } } }>(
      `query($id: ID!) { balance(tenantId: $id) { version available { amountMinor } } }`,
      { id: tenantId },
    );
    assert.equal(balance.errors, undefined, JSON.stringify(balance.errors));
    assert.deepEqual(balance.data!.balance, { version: finalVersion, available: { amountMinor: Number(ledger.ledgerSumMinor) } }, 'balance = sum of entries');
    // One posting per acknowledged request, each EVENTS_PER_REQUEST versions after the one before: none lost or doubled.
    const postings = [...postingVersions].sort((a, b) => a - b);
    assert.deepEqual(
      postings,
      Array.from({ length: postings.length }, (_, index) => 1 + (index + 1) * EVENTS_PER_REQUEST),
    );

    // The subscription: every posting's balance, in strictly increasing versions, each following on from the one before.
    await live.until(
      (collector) => collector.last?.balanceChanged.balance.version === finalVersion,
      `the subscription to reach version ${finalVersion}`,
      30_000,
    );
    assert.deepEqual(
      live.results.filter((result) => result.errors),
      [],
      'no error on the subscription',
    );
    assert.equal(live.completed, false, 'the subscription stayed open');
    const seen = live.data.map((update) => update.balanceChanged);
    assert.deepEqual(
      seen.map((update) => update.balance.version),
      [1, ...postings],
      'every posting, in order',
    );
    for (const [index, update] of seen.entries()) {
      if (index === 0) continue;
      assert.equal(update.previousBalance?.amountMinor, seen[index - 1]!.balance.available.amountMinor, `version ${update.balance.version} follows on`);
    }
    assert.equal(seen.at(-1)!.balance.available.amountMinor, Number(ledger.ledgerSumMinor));

    // Tenants and white-label: the last acknowledged updates are what a client reads.
    const read = await stack.gql<{ tenant: { name: string; branding: { displayName: string } } }>(
      `query($id: ID!) { tenant(id: $id) { name branding { displayName } } }`,
      {
        id: tenantId,
      },
    );
    assert.equal(read.errors, undefined, JSON.stringify(read.errors));
    assert.deepEqual(read.data!.tenant, { name: lastName, branding: { displayName: lastBrand } });

    // Usage-forecast counted every event once (its consumer's records moved with its aggregates).
    await stack.flushEvents();
    await billing2.runtime.relay.flush();
    await stack.flushEvents();
    const usageDb = stack.usageForecast.runtime.db;
    const counted = async (shardId: number) =>
      Number(
        (
          await usageDb
            .em(shardId)
            .execute<{ total: string }[]>('select coalesce(sum(quantity), 0)::text as total from daily_usage where tenant_id = ?', [tenantId])
        )[0]!.total,
      );
    const usageMove = moves.find((entry) => entry.subgraph === 'usageForecast')!.move;
    assert.equal(await counted(usageMove.targetShard), sentIds.length, 'every usage event counted once, on the new shard');

    // In every subgraph the tenant's rows live on the new shard only: the source was cleaned.
    for (const { subgraph, move } of moves) {
      const db = stack[subgraph].runtime.db;
      const left = Object.entries(await tenantRows(db, move.sourceShard, tenantId)).filter(([, count]) => count > 0);
      assert.deepEqual(left, [], `${subgraph}: nothing of the tenant left on shard ${move.sourceShard}`);
      const moved = await tenantRows(db, move.targetShard, tenantId);
      assert.ok(
        Object.values(moved).some((count) => count > 0),
        `${subgraph}: the tenant's rows on shard ${move.targetShard}`,
      );
    }
    const targetRows = await tenantRows(billingDb, billingMove.targetShard, tenantId);
    assert.equal(targetRows['ledger_entry'], finalVersion, 'billing: every ledger entry once on the new shard');
    assert.equal(targetRows['account'], 1);
  });
});
