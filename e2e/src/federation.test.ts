import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestStack, type TestStack } from './test-stack.js';

const TENANT_QUERY = /* GraphQL */ `
  query Tenant($id: ID!) {
    tenant(id: $id) {
      id
      name
      currency
      balance {
        available {
          amountMinor
          currency
        }
        version
      }
      usage(days: 7) {
        date
        quantity
      }
      branding {
        displayName
        primaryColor
      }
    }
  }
`;

const LIST_QUERY = /* GraphQL */ `
  query List($first: Int, $after: String) {
    tenants(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          name
          balance {
            available {
              amountMinor
              currency
            }
          }
          usage(days: 7) {
            date
            quantity
          }
          branding {
            displayName
            primaryColor
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

describe('federated queries through the gateway', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack('federation');
  });

  after(async () => {
    await stack?.destroy();
  });

  it("answers a tenant's name, balance, usage and branding in one query", async () => {
    const partner = await stack.gql(`mutation { createPartner(input: { name: "Voxly", country: "DE" }) { id } }`);
    const partnerId = partner.data?.createPartner.id as string;
    const branded = await stack.gql(
      `mutation($id: ID!) { setPartnerBranding(partnerId: $id, input: { displayName: "Voxly Assist", primaryColor: "#1d4ed8" }) { displayName } }`,
      { id: partnerId },
    );
    assert.equal(branded.errors, undefined);

    const created = await stack.gql(`mutation($input: CreateTenantInput!) { createTenant(input: $input) { id name currency } }`, {
      input: { name: 'Praxis Dr. Weber', currency: 'EUR', country: 'DE', vatId: 'DE123456789', partnerId },
    });
    assert.equal(created.errors, undefined);
    const tenantId = created.data?.createTenant.id as string;

    const today = new Date().toISOString().slice(0, 10);
    await stack.usageForecast.services.usage.record(tenantId, today, 'inbound_minute', 42);
    await stack.usageForecast.services.usage.record(tenantId, today, 'sms', 3);

    const result = await stack.gql(TENANT_QUERY, { id: tenantId });
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const tenant = result.data?.tenant;
    assert.equal(tenant.name, 'Praxis Dr. Weber');
    assert.deepEqual(tenant.balance.available, { amountMinor: 0, currency: 'EUR' });
    assert.equal(tenant.usage.length, 7);
    assert.deepEqual(tenant.usage.at(-1), { date: today, quantity: 45 });
    assert.ok(tenant.usage.slice(0, -1).every((day: { quantity: number }) => day.quantity === 0));
    assert.deepEqual(tenant.branding, { displayName: 'Voxly Assist', primaryColor: '#1D4ED8' });
  });

  it("opens a billing account in the tenant's currency when a tenant is created", async () => {
    const created = await stack.gql(`mutation { createTenant(input: { name: "Thames Dental", currency: "GBP", country: "GB" }) { id } }`);
    const tenantId = created.data?.createTenant.id as string;
    await stack.flushEvents();
    const account = await stack.billing.services.accounts.find(tenantId);
    assert.ok(account, 'billing opened an account');
    assert.equal(account.currency, 'GBP');
    assert.equal(account.balanceMinor, 0n);

    const balance = await stack.gql(`query($id: ID!) { balance(tenantId: $id) { available { amountMinor currency } version } }`, { id: tenantId });
    assert.deepEqual(balance.data?.balance, { available: { amountMinor: 0, currency: 'GBP' }, version: 0 });
  });

  it('returns null for a well-formed id that names no tenant', async () => {
    const result = await stack.gql(TENANT_QUERY, { id: '01900000-0000-7000-8000-000000000000' });
    assert.equal(result.errors, undefined);
    assert.equal(result.data?.tenant, null);
  });

  it('lists tenants with fields from all four subgraphs in a bounded number of round trips, not one per tenant', async () => {
    for (let index = 0; index < 100; index += 1) {
      await stack.tenants.services.tenants.create({ name: `Bulk tenant ${index}`, currency: 'EUR', country: 'DE' });
    }
    const subgraphs = [stack.tenants, stack.billing, stack.usageForecast, stack.whiteLabel];
    // Relays poll their outboxes and billing's auto-top-up worker polls for due attempts; stop them so only the
    // listing's own queries are counted.
    await stack.flushEvents();
    await Promise.all([...subgraphs.map((subgraph) => subgraph.runtime.relay.stop()), stack.billing.services.autoTopUp.stop()]);

    const measure = async (first: number) => {
      const before = subgraphs.map((subgraph) => subgraph.metrics());
      const result = await stack.gql(LIST_QUERY, { first });
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      assert.equal(result.data?.tenants.edges.length, first);
      return subgraphs.map((subgraph, index) => ({
        name: subgraph.name,
        httpRequests: subgraph.metrics().httpRequests - before[index]!.httpRequests,
        databaseQueries: subgraph.metrics().databaseQueries - before[index]!.databaseQueries,
      }));
    };

    const ten = await measure(10);
    const hundred = await measure(100);
    const shards = stack.tenants.runtime.db.shardIds.length;
    for (const [index, cost] of hundred.entries()) {
      assert.equal(cost.httpRequests, 1, `${cost.name} is asked once per query (batched _entities)`);
      // A directory lookup, one query per shard, and one for partners: independent of the page size.
      assert.ok(cost.databaseQueries <= 2 + shards, `${cost.name} sent ${cost.databaseQueries} queries for 100 tenants`);
      assert.ok(cost.databaseQueries <= ten[index]!.databaseQueries + 1, `${cost.name}: 100 tenants cost no more than 10`);
    }
    for (const subgraph of subgraphs) subgraph.runtime.relay.start();
    stack.billing.services.autoTopUp.start();
  });
});
