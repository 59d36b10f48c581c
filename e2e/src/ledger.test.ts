import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BalanceChanged, Topic, TransactionPosted, UsageRecorded, decode, type EventEnvelope } from '@saldo/events';
import { LedgerEntryType, parseUnitPrice, usageCost } from '@saldo/subgraph-billing';
import { errorCodes, postOn, seededRandom, type GraphQLResponse } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

const PRICES: Record<string, string> = { inbound_minute: '1.25', outbound_minute: '2.5', sms: '0.5' };

const RECORD_USAGE = /* GraphQL */ `
  mutation Record($input: RecordUsageInput!) {
    recordUsage(input: $input) {
      results {
        id
        status
      }
      accepted
      duplicates
      balance {
        available {
          amountMinor
          currency
        }
        version
      }
    }
  }
`;

const TENANT = /* GraphQL */ `
  query Tenant($id: ID!) {
    tenant(id: $id) {
      name
      currency
      balance {
        available {
          amountMinor
          currency
        }
        currency
        version
        updatedAt
      }
      overdraftPolicy {
        mode
        limit {
          amountMinor
          currency
        }
      }
      transactions(first: 3) {
        edges {
          node {
            type
            version
            amount {
              amountMinor
              currency
            }
            balanceAfter {
              amountMinor
              currency
            }
            product
            quantity
            externalRef
          }
        }
        pageInfo {
          hasNextPage
        }
      }
      topUps: transactions(type: TOP_UP) {
        edges {
          node {
            amount {
              amountMinor
              currency
            }
          }
        }
      }
    }
  }
`;

describe('prepaid ledger through the gateway', () => {
  let stack: TestStack;
  const published: EventEnvelope[] = [];

  before(async () => {
    stack = await startTestStack('ledger');
    for (const topic of [Topic.UsageEvents, Topic.TransactionEvents, Topic.BalanceEvents]) {
      stack.bus.subscribe(topic, `e2e.ledger.${topic}`, async (event) => {
        published.push(event);
      });
    }
    const validFrom = new Date(Date.now() - 86_400_000).toISOString();
    for (const [product, unitPriceMinor] of Object.entries(PRICES)) {
      const result = await stack.gql(`mutation($input: PublishRateInput!) { publishRate(input: $input) { id } }`, {
        input: { product, currency: 'EUR', unitPriceMinor, validFrom },
      });
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    }
  });

  after(async () => {
    await stack?.destroy();
  });

  it('charges 1,000 usage events with 20 % duplicates over 10 connections once each, and publishes the changes in order', async () => {
    const created = await stack.gql(`mutation { createTenant(input: { name: "Praxis Dr. Weber", currency: "EUR", country: "DE" }) { id } }`);
    const tenantId = created.data?.createTenant.id as string;
    await stack.flushEvents(); // billing opens the account from tenant.created
    const topUp = 5_000_000n;
    await stack.billing.services.ledger.post({
      tenantId,
      currency: 'EUR',
      entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: topUp, idempotencyKey: 'stripe:evt_e2e_1', externalRef: 'pi_e2e_1' }],
    });

    const random = seededRandom(2026);
    const products = Object.keys(PRICES);
    const now = Date.now();
    const unique = Array.from({ length: 800 }, (_, index) => ({
      id: `call-${index}`,
      product: products[index % products.length]!,
      quantity: 1 + Math.floor(random() * 20),
      occurredAt: new Date(now - (1 + Math.floor(random() * 3_600)) * 1000).toISOString(),
    }));
    const sends = [...unique, ...Array.from({ length: 200 }, () => unique[Math.floor(random() * unique.length)]!)];
    for (let index = sends.length - 1; index > 0; index -= 1) {
      const swap = Math.floor(random() * (index + 1));
      [sends[index], sends[swap]] = [sends[swap]!, sends[index]!];
    }
    const batches = Array.from({ length: 20 }, (_, index) => sends.slice(index * 50, index * 50 + 50));
    const headers = await stack.authHeaders();
    const agents = Array.from({ length: 10 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const ports = new Set<number>();
    let responses: GraphQLResponse<any>[];
    try {
      responses = (
        await Promise.all(
          agents.map(async (agent, connection) => {
            const mine: GraphQLResponse<any>[] = [];
            for (let index = connection; index < batches.length; index += agents.length) {
              const body = JSON.stringify({ query: RECORD_USAGE, variables: { input: { tenantId, events: batches[index] } } });
              mine.push(await postOn(agent, stack.graphqlUrl, body, headers, ports));
            }
            return mine;
          }),
        )
      ).flat();
    } finally {
      for (const agent of agents) agent.destroy();
    }
    for (const response of responses) assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    assert.equal(ports.size, 10, 'ten client connections');
    assert.equal(
      responses.reduce((sum, response) => sum + response.data.recordUsage.accepted, 0),
      800,
    );
    assert.equal(
      responses.reduce((sum, response) => sum + response.data.recordUsage.duplicates, 0),
      200,
    );

    const cost = unique.reduce((sum, event) => sum + usageCost(BigInt(event.quantity), parseUnitPrice(PRICES[event.product]!)), 0n);
    const check = await stack.billing.services.ledger.verify(tenantId);
    assert.equal(check.cachedBalanceMinor, topUp - cost);
    assert.equal(check.entries, 801);
    assert.ok(check.consistent);

    const tenant = await stack.gql(TENANT, { id: tenantId });
    assert.equal(tenant.errors, undefined, JSON.stringify(tenant.errors));
    const view = tenant.data?.tenant;
    assert.equal(view.name, 'Praxis Dr. Weber');
    assert.deepEqual(view.balance.available, { amountMinor: Number(topUp - cost), currency: 'EUR' });
    assert.equal(view.balance.version, 801);
    assert.ok(view.balance.updatedAt);
    assert.deepEqual(view.overdraftPolicy, { mode: 'BLOCK', limit: { amountMinor: 0, currency: 'EUR' } });
    assert.equal(view.transactions.edges.length, 3);
    assert.equal(view.transactions.pageInfo.hasNextPage, true);
    assert.deepEqual(
      view.transactions.edges.map((edge: any) => edge.node.version),
      [801, 800, 799],
    );
    assert.equal(view.transactions.edges[0].node.type, 'USAGE');
    assert.equal(view.transactions.edges[0].node.balanceAfter.amountMinor, Number(topUp - cost));
    assert.deepEqual(view.topUps.edges, [{ node: { amount: { amountMinor: Number(topUp), currency: 'EUR' } } }]);

    // Every committed change reaches the bus, once, keyed by the tenant, in account-version order.
    await stack.flushEvents();
    const mine = published.filter((event) => event.key === tenantId);
    const balances = mine.map((event) => decode(BalanceChanged, event)).filter((payload) => payload !== undefined);
    assert.deepEqual(
      balances.map((payload) => payload.version),
      [...balances.map((payload) => payload.version)].sort((a, b) => a - b),
    );
    assert.equal(balances.at(-1)?.version, 801);
    assert.equal(balances.at(-1)?.balanceMinor, (topUp - cost).toString());
    const postedEntries = mine.flatMap((event) => decode(TransactionPosted, event)?.entries ?? []);
    assert.deepEqual(
      postedEntries.map((entry) => entry.accountVersion),
      Array.from({ length: 801 }, (_, index) => index + 1),
    );
    const recorded = mine.flatMap((event) => decode(UsageRecorded, event)?.events ?? []);
    assert.equal(recorded.length, 800);
    assert.equal(new Set(recorded.map((event) => event.eventId)).size, 800);
    assert.equal(new Set(mine.map((event) => event.id)).size, mine.length, 'no event delivered twice');
  });

  it('refuses usage beyond the balance and bad input through the gateway with stable codes, changing nothing', async () => {
    const created = await stack.gql(`mutation { createTenant(input: { name: "Thames Dental", currency: "GBP", country: "GB" }) { id } }`);
    const tenantId = created.data?.createTenant.id as string;
    await stack.flushEvents();
    const event = { id: 'gbp-1', product: 'sms', quantity: 1, occurredAt: new Date().toISOString() };
    // No GBP rates were published in this stack.
    assert.deepEqual(errorCodes(await stack.gql(RECORD_USAGE, { input: { tenantId, events: [event] } })), ['RATE_NOT_FOUND']);
    await stack.gql(`mutation { publishRate(input: { product: "sms", currency: "GBP", unitPriceMinor: "0.4", validFrom: "2020-01-01T00:00:00Z" }) { id } }`);
    assert.deepEqual(errorCodes(await stack.gql(RECORD_USAGE, { input: { tenantId, events: [{ ...event, quantity: 2 }] } })), ['INSUFFICIENT_BALANCE']);
    assert.deepEqual(errorCodes(await stack.gql(RECORD_USAGE, { input: { tenantId, events: [{ ...event, quantity: 0 }] } })), ['INVALID_QUANTITY']);
    const free = await stack.gql(RECORD_USAGE, { input: { tenantId, events: [event] } });
    assert.deepEqual(free.data?.recordUsage.balance, { available: { amountMinor: 0, currency: 'GBP' }, version: 1 }, '0.4p rounds to nothing');
    const policy = await stack.gql(`mutation($input: SetOverdraftPolicyInput!) { setOverdraftPolicy(input: $input) { mode limit { amountMinor currency } } }`, {
      input: { tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 1, currency: 'GBP' } },
    });
    assert.deepEqual(policy.data?.setOverdraftPolicy, { mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 1, currency: 'GBP' } });
    const overdrawn = await stack.gql(RECORD_USAGE, { input: { tenantId, events: [{ ...event, id: 'gbp-2', quantity: 2 }] } });
    assert.deepEqual(overdrawn.data?.recordUsage.balance.available, { amountMinor: -1, currency: 'GBP' });
    assert.ok((await stack.billing.services.ledger.verify(tenantId)).consistent);
  });

  it('refuses the usage of a suspended tenant with TENANT_SUSPENDED, writing nothing, and charges it again after reactivation', async () => {
    const created = await stack.gql(`mutation { createTenant(input: { name: "Kanzlei Suspendiert", currency: "EUR", country: "DE" }) { id } }`);
    const tenantId = created.data?.createTenant.id as string;
    await stack.flushEvents();
    await stack.billing.services.ledger.post({
      tenantId,
      currency: 'EUR',
      entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 10_000n, idempotencyKey: 'stripe:evt_e2e_suspended', externalRef: 'pi_e2e_suspended' }],
    });
    const call = (id: string) => ({ id, product: 'inbound_minute', quantity: 2, occurredAt: new Date(Date.now() - 60_000).toISOString() });
    const record = (events: unknown[]) => stack.gql(RECORD_USAGE, { input: { tenantId, events } });
    const balance = async () => (await stack.gql(TENANT, { id: tenantId })).data?.tenant.balance;
    const usageEventsOf = () => published.filter((event) => event.key === tenantId && decode(UsageRecorded, event)).length;

    const before = await record([call('s-1')]);
    assert.equal(before.errors, undefined, JSON.stringify(before.errors));
    assert.equal(before.data?.recordUsage.accepted, 1);

    const suspended = await stack.gql(`mutation($id: ID!) { suspendTenant(id: $id, reason: "unpaid invoices") { status } }`, { id: tenantId });
    assert.deepEqual(suspended.data?.suspendTenant, { status: 'SUSPENDED' });
    await stack.flushEvents(); // billing hears tenant.updated
    const balanceBefore = await balance();
    const entriesBefore = (await stack.billing.services.ledger.verify(tenantId)).entries;
    const usageEventsBefore = usageEventsOf();

    for (const events of [[call('s-2')], [call('s-3'), call('s-4')], [call('s-1')] /* a replay of a charged event too */]) {
      const refused = await record(events);
      assert.deepEqual(errorCodes(refused), ['TENANT_SUSPENDED'], JSON.stringify(refused.errors));
      assert.equal(refused.data, null);
      assert.ok(refused.errors?.[0]?.message);
    }
    await stack.flushEvents();
    assert.deepEqual(await balance(), balanceBefore, 'balance and version unchanged');
    assert.equal((await stack.billing.services.ledger.verify(tenantId)).entries, entriesBefore, 'no ledger entry written');
    assert.equal(usageEventsOf(), usageEventsBefore, 'no usage.recorded published');

    const reactivated = await stack.gql(`mutation($id: ID!) { reactivateTenant(id: $id) { status } }`, { id: tenantId });
    assert.deepEqual(reactivated.data?.reactivateTenant, { status: 'ACTIVE' });
    await stack.flushEvents();
    const after = await record([call('s-2')]);
    assert.equal(after.errors, undefined, JSON.stringify(after.errors));
    assert.deepEqual(after.data?.recordUsage.results, [{ id: 's-2', status: 'ACCEPTED' }]);
    // The same call as the first one costs the same: charged once more, nothing for the refused ones.
    const perCall = 10_000 - balanceBefore.available.amountMinor;
    assert.ok(perCall > 0);
    assert.deepEqual(after.data?.recordUsage.balance, {
      available: { amountMinor: 10_000 - 2 * perCall, currency: 'EUR' },
      version: balanceBefore.version + 1,
    });
    assert.ok((await stack.billing.services.ledger.verify(tenantId)).consistent);
  });

  it('weighs mutations and their input in the cost model: aliased usage batches are bounded and refused whole, lists are sized by their arguments', async () => {
    const created = await stack.gql(`mutation { createTenant(input: { name: "Alias Abuse GmbH", currency: "EUR", country: "DE" }) { id } }`);
    const tenantId = created.data?.createTenant.id as string;
    await stack.flushEvents();
    await stack.billing.services.ledger.post({
      tenantId,
      currency: 'EUR',
      entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 100_000_000n, idempotencyKey: 'stripe:evt_e2e_alias', externalRef: 'pi_e2e_alias' }],
    });
    const headers = { 'content-type': 'application/json', ...(await stack.authHeaders()) };
    const send = async (query: string, variables: Record<string, unknown>, extensions?: Record<string, unknown>) => {
      const response = await fetch(stack.graphqlUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables, ...(extensions ? { extensions } : {}) }),
      });
      return { status: response.status, body: (await response.json()) as GraphQLResponse<any> & { extensions?: Record<string, any> } };
    };
    const batch = (prefix: string) =>
      Array.from({ length: 1_000 }, (_, index) => ({
        id: `${prefix}-${index}`,
        product: 'sms',
        quantity: 1,
        occurredAt: new Date(Date.now() - 60_000).toISOString(),
      }));
    const aliased = (count: number) =>
      `mutation ($input: RecordUsageInput!) { ${Array.from({ length: count }, (_, index) => `m${index}: recordUsage(input: $input) { accepted }`).join(' ')} }`;
    const entriesBefore = (await stack.billing.services.ledger.verify(tenantId)).entries;

    // 30 aliases of one mutation: more mutation fields than one operation may run.
    const thirty = await send(aliased(30), { input: { tenantId, events: batch('a') } });
    assert.equal(thirty.status, 400);
    assert.deepEqual(errorCodes(thirty.body), ['TOO_MANY_MUTATIONS']);
    assert.deepEqual(thirty.body.errors?.[0]?.extensions, { code: 'TOO_MANY_MUTATIONS', limit: 10, measured: 30 });
    // 10 aliases are allowed as mutations, but 10 × (10 + the input object + 1,000 events + the payload) is over the cost limit.
    const ten = await send(aliased(10), { input: { tenantId, events: batch('b') } });
    assert.equal(ten.status, 400);
    assert.deepEqual(ten.body.errors?.[0]?.extensions, { code: 'QUERY_TOO_COSTLY', limit: 10_000, measured: 10 * (10 + 1 + 1_000 + 1) });
    await stack.flushEvents();
    assert.equal((await stack.billing.services.ledger.verify(tenantId)).entries, entriesBefore, 'nothing written');

    // One full batch is an ordinary request: admitted, and its cost is reported when asked for.
    const one = await send(RECORD_USAGE, { input: { tenantId, events: batch('c') } }, { cost: true });
    assert.equal(one.body.errors, undefined, JSON.stringify(one.body.errors));
    assert.equal(one.body.data.recordUsage.accepted, 1_000);
    assert.equal(one.body.extensions?.['cost']?.limit, 10_000);
    // base 10 + the input object + 1,000 events + the payload + its results (@listSize(assumedSize: 1000)) + balance + money
    assert.deepEqual(one.body.extensions?.['cost'], {
      estimated: 10 + 1 + 1_000 + 1 + 1_000 + 1 + 1,
      actual: 10 + 1 + 1_000 + 1 + 1_000 + 1 + 1,
      limit: 10_000,
    });

    // A year of daily usage is estimated as the 366 days it returns (its @listSize names the days argument).
    const year = await send('query ($id: ID!) { tenant(id: $id) { usage(days: 366) { date quantity } } }', { id: tenantId }, { cost: true });
    assert.equal(year.body.errors, undefined, JSON.stringify(year.body.errors));
    assert.equal(year.body.data.tenant.usage.length, 366);
    assert.deepEqual(year.body.extensions?.['cost'], { estimated: 1 + 366, actual: 1 + 366, limit: 10_000 });
  });
});
