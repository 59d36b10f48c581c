import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import type { SubgraphDefinition } from '@saldo/subgraph';
import { errorCodes, postOn, seededRandom, startTestSubgraph, type GraphQLResponse, type TestSubgraph } from '@saldo/testing';
import { loadBillingConfig, type BillingConfig } from './config.js';
import { billingSubgraph, buildBillingSchema, createBillingServices, type BillingServices } from './definition.js';
import { LedgerEntryType } from './ledger/index.js';
import { parseUnitPrice } from './shared/unit-price.js';
import { usageCost } from './usage/index.js';

const NOW = new Date('2026-03-15T12:00:00.000Z');
const clock = { now: () => NOW };
const definition: SubgraphDefinition<BillingServices, BillingConfig> = {
  ...billingSubgraph,
  createServices: (runtime) => createBillingServices(runtime, clock),
};
const PRICES: Record<string, string> = { inbound_minute: '1.25', outbound_minute: '2.5', sms: '0.5' };

let subgraph: TestSubgraph<BillingServices>;
let services: BillingServices;
let db: ShardedDatabase;

const RECORD_USAGE = /* GraphQL */ `
  mutation Record($input: RecordUsageInput!) {
    recordUsage(input: $input) {
      results {
        id
        status
        entryId
        cost {
          amountMinor
          currency
        }
      }
      accepted
      duplicates
      balance {
        available {
          amountMinor
          currency
        }
        currency
        version
        updatedAt
      }
    }
  }
`;

const TENANT_BILLING = /* GraphQL */ `
  query Billing($representations: [_Any!]!, $first: Int, $after: String, $type: LedgerEntryType, $from: DateTimeISO, $to: DateTimeISO) {
    _entities(representations: $representations) {
      ... on Tenant {
        id
        balance {
          available {
            amountMinor
            currency
          }
          version
        }
        overdraftPolicy {
          mode
          limit {
            amountMinor
            currency
          }
        }
        transactions(first: $first, after: $after, type: $type, from: $from, to: $to) {
          edges {
            cursor
            node {
              id
              type
              version
              amount {
                amountMinor
                currency
              }
              balanceAfter {
                amountMinor
              }
              product
              quantity
              unitPriceMinor
              rateId
              occurredAt
              externalRef
              postedAt
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    }
  }
`;

function gql(query: string, variables: Record<string, unknown> = {}, identity?: Identity): Promise<GraphQLResponse<any>> {
  return subgraph.query(query, variables, identity);
}

async function newTenant(currency: string, topUpMinor: bigint, partnerId: string | null = null): Promise<string> {
  const tenantId = randomUUID();
  if (partnerId) await db.directory.place(tenantId, partnerId);
  await services.accounts.open(tenantId, currency);
  if (topUpMinor > 0n) {
    await services.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: topUpMinor, idempotencyKey: `test:${randomUUID()}` }] });
  }
  return tenantId;
}

function occurred(minutesAgo: number): string {
  return new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();
}

describe('billing GraphQL', () => {
  before(async () => {
    subgraph = await startTestSubgraph(definition, loadBillingConfig, {
      label: 'billinggql',
      // Relays and the auto-top-up scan would poll between statements the N+1 test counts; commits still poke them.
      env: { DATABASE_POOL_MAX: '10', OUTBOX_POLL_INTERVAL_MS: '3600000', AUTO_TOPUP_POLL_INTERVAL_MS: '3600000' },
    });
    services = subgraph.service.services;
    db = subgraph.service.runtime.db;
    for (const [product, price] of Object.entries(PRICES)) {
      const result = await gql(`mutation($input: PublishRateInput!) { publishRate(input: $input) { id product currency unitPriceMinor validFrom validTo } }`, {
        input: { product, currency: 'EUR', unitPriceMinor: price, validFrom: '2026-01-01T00:00:00Z' },
      });
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      assert.deepEqual(
        { ...result.data?.publishRate, id: undefined },
        { id: undefined, product, currency: 'EUR', unitPriceMinor: price, validFrom: '2026-01-01T00:00:00.000Z', validTo: null },
      );
    }
  });

  after(async () => {
    await subgraph?.destroy();
  });

  it('prints the ledger schema: recordUsage, setOverdraftPolicy, publishRate, rates and the Tenant fields', async () => {
    const { sdl } = await buildBillingSchema();
    assert.match(sdl, /recordUsage\(input: RecordUsageInput!\): RecordUsagePayload!/);
    assert.match(sdl, /setOverdraftPolicy\(input: SetOverdraftPolicyInput!\): OverdraftPolicy!/);
    assert.match(sdl, /publishRate\(input: PublishRateInput!\): Rate!/);
    assert.match(sdl, /rates\(\s+currency: String!/);
    assert.match(
      sdl,
      /transactions\([\s\S]*first: Int[\s\S]*after: String[\s\S]*type: LedgerEntryType[\s\S]*from: DateTimeISO[\s\S]*to: DateTimeISO\s+\): LedgerEntryConnection!/,
    );
    assert.match(sdl, /input UsageEventInput \{[\s\S]*id: ID![\s\S]*product: String![\s\S]*quantity: Int![\s\S]*occurredAt: DateTimeISO!/);
  });

  it('charges 1,000 usage events with 20 % duplicates sent concurrently over 10 connections exactly once each', async () => {
    const topUp = 10_000_000n;
    const tenantId = await newTenant('EUR', topUp);
    const random = seededRandom(4);
    const products = Object.keys(PRICES);
    const unique = Array.from({ length: 800 }, (_, index) => ({
      id: `call-${index}`,
      product: products[index % products.length]!,
      quantity: 1 + Math.floor(random() * 30),
      occurredAt: occurred(1 + Math.floor(random() * 600)),
    }));
    const sends = [...unique, ...Array.from({ length: 200 }, () => unique[Math.floor(random() * unique.length)]!)];
    for (let index = sends.length - 1; index > 0; index -= 1) {
      const swap = Math.floor(random() * (index + 1));
      [sends[index], sends[swap]] = [sends[swap]!, sends[index]!];
    }
    const batches = Array.from({ length: 40 }, (_, index) => sends.slice(index * 25, index * 25 + 25));
    const headers = await subgraph.identityHeaders();
    const agents = Array.from({ length: 10 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const ports = new Set<number>();
    try {
      const responses = await Promise.all(
        agents.map(async (agent, connection) => {
          const mine: GraphQLResponse<any>[] = [];
          for (let index = connection; index < batches.length; index += agents.length) {
            const body = JSON.stringify({ query: RECORD_USAGE, variables: { input: { tenantId, events: batches[index] } } });
            mine.push(await postOn(agent, subgraph.graphqlUrl, body, headers, ports));
          }
          return mine;
        }),
      );
      const all = responses.flat();
      for (const response of all) assert.equal(response.errors, undefined, JSON.stringify(response.errors));
      assert.equal(ports.size, 10, 'ten distinct connections');
      const payloads = all.map((response) => response.data!.recordUsage);
      assert.equal(
        payloads.reduce((sum, payload) => sum + payload.accepted, 0),
        800,
      );
      assert.equal(
        payloads.reduce((sum, payload) => sum + payload.duplicates, 0),
        200,
      );
      const acceptedIds = payloads.flatMap((payload) => payload.results.filter((r: any) => r.status === 'ACCEPTED').map((r: any) => r.id));
      assert.equal(new Set(acceptedIds).size, 800, 'every event accepted exactly once');
    } finally {
      for (const agent of agents) agent.destroy();
    }

    const expectedCost = unique.reduce((sum, event) => sum + usageCost(BigInt(event.quantity), parseUnitPrice(PRICES[event.product]!)), 0n);
    const check = await services.ledger.verify(tenantId);
    assert.equal(check.cachedBalanceMinor, topUp - expectedCost);
    assert.equal(check.entries, 801);
    assert.ok(check.consistent);
    const shard = db.em((await db.directory.lookupOne(tenantId))!);
    const [counts] = await shard.execute<{ entries: number; distinct_events: number }[]>(
      `select count(*)::int as entries, count(distinct external_ref)::int as distinct_events from ledger_entry where tenant_id = ? and type = 'USAGE'`,
      [tenantId],
    );
    assert.deepEqual(counts, { entries: 800, distinct_events: 800 });

    const balance = await gql(`query($id: ID!) { balance(tenantId: $id) { available { amountMinor currency } version } }`, { id: tenantId });
    assert.deepEqual(balance.data?.balance, { available: { amountMinor: Number(topUp - expectedCost), currency: 'EUR' }, version: 801 });
  });

  it("pages a tenant's transactions newest first with filters, and rejects bad cursors and page sizes", async () => {
    const tenantId = await newTenant('EUR', 5_000n);
    const events = Array.from({ length: 7 }, (_, index) => ({
      id: `e${index}`,
      product: index % 2 ? 'sms' : 'inbound_minute',
      quantity: index + 1,
      occurredAt: occurred(10 - index),
    }));
    const recorded = await gql(RECORD_USAGE, { input: { tenantId, events } });
    assert.equal(recorded.errors, undefined, JSON.stringify(recorded.errors));
    assert.deepEqual(
      recorded.data?.recordUsage.results.map((r: any) => [r.id, r.status, r.cost.amountMinor]),
      [
        ['e0', 'ACCEPTED', 1],
        ['e1', 'ACCEPTED', 1],
        ['e2', 'ACCEPTED', 4],
        ['e3', 'ACCEPTED', 2],
        ['e4', 'ACCEPTED', 6],
        ['e5', 'ACCEPTED', 3],
        ['e6', 'ACCEPTED', 9],
      ],
    );
    assert.deepEqual(recorded.data?.recordUsage.balance.available, { amountMinor: 5_000 - 26, currency: 'EUR' });
    const representations = [{ __typename: 'Tenant', id: tenantId, currency: 'EUR' }];

    const seen: string[] = [];
    let afterCursor: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const result = await gql(TENANT_BILLING, { representations, first: 3, after: afterCursor });
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      const connection = result.data!._entities[0].transactions;
      seen.push(...connection.edges.map((edge: any) => `${edge.node.version}:${edge.node.type}:${edge.node.externalRef ?? ''}`));
      if (!connection.pageInfo.hasNextPage) break;
      afterCursor = connection.pageInfo.endCursor;
    }
    assert.deepEqual(seen, ['8:USAGE:e6', '7:USAGE:e5', '6:USAGE:e4', '5:USAGE:e3', '4:USAGE:e2', '3:USAGE:e1', '2:USAGE:e0', '1:TOP_UP:']);

    const first = await gql(TENANT_BILLING, { representations, first: 1 });
    const node = first.data!._entities[0].transactions.edges[0].node;
    assert.deepEqual(
      { ...node, id: typeof node.id, rateId: typeof node.rateId, postedAt: typeof node.postedAt },
      {
        id: 'string',
        type: 'USAGE',
        version: 8,
        amount: { amountMinor: -9, currency: 'EUR' },
        balanceAfter: { amountMinor: 4_974 },
        product: 'inbound_minute',
        quantity: 7,
        unitPriceMinor: '1.25',
        rateId: 'string',
        occurredAt: occurred(4),
        externalRef: 'e6',
        postedAt: 'string',
      },
    );
    assert.deepEqual(first.data!._entities[0].overdraftPolicy, { mode: 'BLOCK', limit: { amountMinor: 0, currency: 'EUR' } });

    const topUps = await gql(TENANT_BILLING, { representations, type: 'TOP_UP' });
    assert.deepEqual(
      topUps.data!._entities[0].transactions.edges.map((edge: any) => edge.node.version),
      [1],
    );
    const none = await gql(TENANT_BILLING, { representations, from: '2030-01-01T00:00:00Z' });
    assert.deepEqual(none.data!._entities[0].transactions, { edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    const window = await gql(TENANT_BILLING, { representations, from: '2000-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z', type: 'USAGE', first: 2 });
    assert.deepEqual(
      window.data!._entities[0].transactions.edges.map((edge: any) => edge.node.version),
      [8, 7],
    );

    for (const [variables, code] of [
      [{ after: 'not-a-cursor' }, 'INVALID_CURSOR'],
      [{ after: Buffer.from(JSON.stringify({ v: 1, k: '0' })).toString('base64url') }, 'INVALID_CURSOR'],
      [{ first: 0 }, 'BAD_USER_INPUT'],
      [{ first: 101 }, 'BAD_USER_INPUT'],
    ] as const) {
      assert.deepEqual(errorCodes(await gql(TENANT_BILLING, { representations, ...variables })), [code], JSON.stringify(variables));
    }
  });

  it('resolves balance, overdraft policy and transactions of 20 tenants with a bounded number of queries, each its own', async () => {
    const tenantIds: string[] = [];
    for (let index = 0; index < 20; index += 1) {
      const tenantId = await newTenant('EUR', BigInt(1_000 + index));
      await services.usage.recordUsage(tenantId, [{ id: `only-${index}`, product: 'sms', quantity: 2 * (index + 1), occurredAt: occurred(1) }]);
      tenantIds.push(tenantId);
    }
    const shardOf = await db.directory.lookup(tenantIds);
    assert.equal(new Set(shardOf.values()).size, 2, 'tenants on both shards');
    // The relay stays out of the counted window: a pass a commit scheduled could still run after a flush.
    const { relay } = subgraph.service.runtime;
    await relay.flush();
    await relay.stop();

    const before = subgraph.service.metrics().databaseQueries;
    const result = await gql(TENANT_BILLING, { representations: tenantIds.map((id) => ({ __typename: 'Tenant', id, currency: 'EUR' })), first: 5 });
    const queries = subgraph.service.metrics().databaseQueries - before;
    relay.start();
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const entities = result.data!._entities;
    entities.forEach((entity: any, index: number) => {
      assert.equal(entity.id, tenantIds[index]);
      assert.deepEqual(entity.balance, { available: { amountMinor: 1_000 + index - (index + 1), currency: 'EUR' }, version: 2 });
      assert.deepEqual(
        entity.transactions.edges.map((edge: any) => edge.node.externalRef),
        [`only-${index}`, null],
      );
    });
    // Accounts: one query per shard; transactions: one per shard; the directory is cached. Never one per tenant.
    assert.ok(queries <= 2 * db.shardIds.length + 1, `${queries} queries for 20 tenants`);
  });

  it('shows a tenant without an account a zero balance in its currency and the default policy', async () => {
    const result = await gql(TENANT_BILLING, { representations: [{ __typename: 'Tenant', id: randomUUID(), currency: 'CHF' }] });
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const entity = result.data!._entities[0];
    assert.deepEqual(entity.balance, { available: { amountMinor: 0, currency: 'CHF' }, version: 0 });
    assert.deepEqual(entity.overdraftPolicy, { mode: 'BLOCK', limit: { amountMinor: 0, currency: 'CHF' } });
    assert.deepEqual(entity.transactions.edges, []);
  });

  it('answers the rate card of a currency, whole or at an instant', async () => {
    const all = await gql(`query { rates(currency: "EUR") { product unitPriceMinor validFrom validTo } }`);
    assert.deepEqual(
      all.data?.rates.map((rate: any) => [rate.product, rate.unitPriceMinor]),
      [
        ['inbound_minute', '1.25'],
        ['outbound_minute', '2.5'],
        ['sms', '0.5'],
      ],
    );
    const before = await gql(`query { rates(currency: "EUR", validAt: "2025-12-31T23:59:59Z") { id } }`);
    assert.deepEqual(before.data?.rates, []);
    assert.deepEqual(errorCodes(await gql(`query { rates(currency: "EURO") { id } }`)), ['INVALID_CURRENCY']);
  });

  it('returns stable codes for bad usage through GraphQL and writes nothing', async () => {
    const tenantId = await newTenant('EUR', 100n);
    const event = { id: 'ok', product: 'sms', quantity: 1, occurredAt: occurred(1) };
    const cases: Array<[string, unknown, string]> = [
      ['1,001 events', Array.from({ length: 1001 }, (_, index) => ({ ...event, id: `b${index}` })), 'BATCH_TOO_LARGE'],
      ['zero quantity', [{ ...event, quantity: 0 }], 'INVALID_QUANTITY'],
      ['negative quantity', [{ ...event, quantity: -1 }], 'INVALID_QUANTITY'],
      ['unknown product', [{ ...event, product: 'telepathy' }], 'UNKNOWN_PRODUCT'],
      ['malformed id', [{ ...event, id: 'a b' }], 'INVALID_ID'],
      ['future', [{ ...event, occurredAt: '2027-01-01T00:00:00Z' }], 'OCCURRED_AT_IN_FUTURE'],
      ['no rate then', [{ ...event, occurredAt: '2025-06-01T00:00:00Z' }], 'RATE_NOT_FOUND'],
      ['too expensive', [{ ...event, product: 'outbound_minute', quantity: 41 }], 'INSUFFICIENT_BALANCE'],
    ];
    const before = await services.ledger.verify(tenantId);
    for (const [label, events, code] of cases) {
      const result = await gql(RECORD_USAGE, { input: { tenantId, events } });
      assert.deepEqual(errorCodes(result), [code], `${label}: ${JSON.stringify(result.errors)}`);
      assert.equal(result.data, null, label);
    }
    assert.deepEqual(errorCodes(await gql(RECORD_USAGE, { input: { tenantId: 'tenant-1', events: [event] } })), ['INVALID_ID']);
    assert.deepEqual(await services.ledger.verify(tenantId), before);
  });

  describe('scope', () => {
    it('lets a tenant read its own billing but not record usage, extend credit, publish rates or see other tenants', async () => {
      const tenantId = await newTenant('EUR', 100n);
      const otherId = await newTenant('EUR', 100n);
      const member: Identity = { role: 'tenant-member', subject: 'member', tenantId };
      const admin: Identity = { role: 'tenant-admin', subject: 'admin', tenantId };
      const own = await gql(TENANT_BILLING, { representations: [{ __typename: 'Tenant', id: tenantId, currency: 'EUR' }] }, member);
      assert.equal(own.errors, undefined, JSON.stringify(own.errors));
      assert.equal(own.data!._entities[0].balance.available.amountMinor, 100);
      // Another tenant reads exactly like a missing one; its balance is not a write target either.
      const other = await gql(TENANT_BILLING, { representations: [{ __typename: 'Tenant', id: otherId, currency: 'EUR' }] }, member);
      assert.equal(other.errors, undefined, JSON.stringify(other.errors));
      assert.deepEqual(other.data!._entities, [null]);
      const balance = await gql(`query($id: ID!) { balance(tenantId: $id) { version } }`, { id: otherId }, member);
      assert.deepEqual(balance.data, { balance: null });

      const usage = { input: { tenantId, events: [{ id: 'm1', product: 'sms', quantity: 1, occurredAt: occurred(1) }] } };
      assert.deepEqual(errorCodes(await gql(RECORD_USAGE, usage, member)), ['FORBIDDEN']);
      assert.equal((await gql(RECORD_USAGE, usage, admin)).errors, undefined);

      const SET = `mutation($input: SetOverdraftPolicyInput!) { setOverdraftPolicy(input: $input) { mode limit { amountMinor currency } } }`;
      const extend = { input: { tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 500, currency: 'EUR' } } };
      assert.deepEqual(errorCodes(await gql(SET, extend, member)), ['FORBIDDEN']);
      assert.deepEqual(errorCodes(await gql(SET, extend, admin)), ['FORBIDDEN']);
      const granted = await gql(SET, extend);
      assert.deepEqual(granted.data?.setOverdraftPolicy, { mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 500, currency: 'EUR' } });
      const tightened = await gql(SET, { input: { tenantId, mode: 'BLOCK' } }, admin);
      assert.deepEqual(tightened.data?.setOverdraftPolicy, { mode: 'BLOCK', limit: { amountMinor: 0, currency: 'EUR' } });

      const PUBLISH = `mutation { publishRate(input: { product: "fax", currency: "EUR", unitPriceMinor: "1" }) { id } }`;
      assert.deepEqual(errorCodes(await gql(PUBLISH, {}, admin)), ['FORBIDDEN']);
      const card = await gql(`query { rates(currency: "EUR") { product } }`, {}, member);
      assert.equal(card.errors, undefined);
    });

    it('lets a partner extend credit to its own tenants only', async () => {
      const partnerId = randomUUID();
      const own = await newTenant('EUR', 0n, partnerId);
      const foreign = await newTenant('EUR', 0n, randomUUID());
      const partner: Identity = { role: 'partner', subject: 'partner', partnerId };
      const SET = `mutation($input: SetOverdraftPolicyInput!) { setOverdraftPolicy(input: $input) { mode } }`;
      const extend = (tenantId: string) => ({ input: { tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 1_000, currency: 'EUR' } } });
      assert.deepEqual((await gql(SET, extend(own), partner)).data?.setOverdraftPolicy, { mode: 'ALLOW_OVERDRAFT' });
      assert.deepEqual(errorCodes(await gql(SET, extend(foreign), partner)), ['FORBIDDEN']);
      const usage = await gql(
        RECORD_USAGE,
        { input: { tenantId: own, events: [{ id: 'p1', product: 'outbound_minute', quantity: 10, occurredAt: occurred(1) }] } },
        partner,
      );
      assert.deepEqual(usage.data?.recordUsage.balance.available, { amountMinor: -25, currency: 'EUR' });
    });
  });
});
