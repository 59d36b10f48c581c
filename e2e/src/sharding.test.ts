import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { waitUntil } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

async function queryDatabase<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String) {
    tenants(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

async function listAll(stack: TestStack, first: number, between?: (page: number) => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  type Page = {
    data?: { tenants: { edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } | null;
    errors?: unknown;
  };
  for (let page = 0; ; page += 1) {
    const result: Page = await stack.gql(PAGE, { first, after });
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const connection = result.data!.tenants;
    ids.push(...connection.edges.map((edge) => edge.node.id));
    if (!connection.pageInfo.hasNextPage) return ids;
    after = connection.pageInfo.endCursor;
    await between?.(page);
  }
}

describe('shards', () => {
  let stack: TestStack;
  const created: string[] = [];
  const shardUrls = (subgraph: string) => stack.databases[subgraph]!;

  before(async () => {
    stack = await startTestStack('sharding');
    for (let index = 0; index < 24; index += 1) {
      const tenant = await stack.tenants.services.tenants.create({ name: `Tenant ${index}`, currency: 'EUR', country: 'DE' });
      created.push(tenant.id);
    }
    await stack.flushEvents();
  });

  after(async () => {
    await stack?.destroy();
  });

  it('places new tenants on the least-loaded shard', async () => {
    const load = await stack.tenants.runtime.db.directory.load();
    assert.deepEqual([...load.values()], [12, 12]);
  });

  it('shows operators the shards of all four subgraphs with their load, through the gateway', async () => {
    const SHARDS = /* GraphQL */ `
      fragment Load on SubgraphShards {
        subgraph
        shards {
          id
          databaseName
          draining
          tenants
          rows
          bytes
          writesPerSecond
          load
          capacity {
            tenants
            rows
            bytes
            writesPerSecond
          }
          tables {
            name
            rows
            bytes
          }
        }
      }
      query Shards {
        tenantsShards {
          ...Load
        }
        billingShards {
          ...Load
        }
        usageForecastShards {
          ...Load
        }
        whiteLabelShards {
          ...Load
        }
      }
    `;
    type Shard = {
      id: number;
      databaseName: string;
      draining: boolean;
      tenants: number;
      rows: number;
      bytes: number;
      writesPerSecond: number;
      load: number;
      capacity: { tenants: number; rows: number; bytes: number; writesPerSecond: number };
      tables: Array<{ name: string; rows: number; bytes: number }>;
    };
    type Shards = Record<'tenantsShards' | 'billingShards' | 'usageForecastShards' | 'whiteLabelShards', { subgraph: string; shards: Shard[] }>;
    // Row counts come from PostgreSQL's statistics, published shortly after each write: wait until they show the tenants,
    // polling at 4/s, below the gateway's rate-limit refill (10/s), so waiting never spends the test's request budget.
    const result = await waitUntil(
      async () => {
        const response = await stack.gql<Shards>(SHARDS);
        assert.equal(response.errors, undefined, JSON.stringify(response.errors));
        const tenantTables = response.data!.tenantsShards.shards.map((shard) => shard.tables.find((table) => table.name === 'tenant')?.rows);
        return tenantTables.every((rows) => rows === 12) ? response.data! : undefined;
      },
      'tenant rows in the shard statistics',
      { intervalMs: 250, timeoutMs: 60_000 },
    );
    const expected = { tenantsShards: 'tenants', billingShards: 'billing', usageForecastShards: 'usage-forecast', whiteLabelShards: 'white-label' } as const;
    for (const [field, subgraph] of Object.entries(expected) as Array<[keyof Shards, string]>) {
      const overview = result[field];
      assert.equal(overview.subgraph, subgraph);
      assert.deepEqual(
        overview.shards.map((shard) => [shard.id, shard.databaseName]),
        shardUrls(subgraph).shards.map((url, index) => [index, new URL(url).pathname.slice(1)]),
      );
      for (const shard of overview.shards) {
        assert.equal(shard.draining, false);
        assert.equal(
          shard.rows,
          shard.tables.reduce((sum, table) => sum + table.rows, 0),
        );
        const ratios = [
          shard.tenants / shard.capacity.tenants,
          shard.rows / shard.capacity.rows,
          shard.bytes / shard.capacity.bytes,
          shard.writesPerSecond / shard.capacity.writesPerSecond,
        ];
        assert.equal(shard.load, Math.max(...ratios), `${subgraph} shard ${shard.id}: load is the highest ratio`);
        assert.ok(shard.load > 0);
      }
    }
    assert.deepEqual(
      result.tenantsShards.shards.map((shard) => shard.tenants),
      [12, 12],
    );

    const tenantAdmin = { role: 'tenant-admin' as const, subject: 'someone', tenantId: created[0]! };
    const refused = await stack.gql(SHARDS, {}, tenantAdmin);
    assert.equal(refused.data, null);
    assert.deepEqual([...new Set(refused.errors?.map((error) => error.extensions?.['code']))], ['FORBIDDEN']);
  });

  it("keeps a tenant's rows only on the shard its directory names, in every subgraph", async () => {
    for (const subgraph of ['tenants', 'billing'] as const) {
      const databases = shardUrls(subgraph);
      const table = subgraph === 'tenants' ? { name: 'tenant', key: 'id' } : { name: 'account', key: 'tenant_id' };
      const placements = await stack[subgraph].runtime.db.directory.lookup(created);
      assert.equal(placements.size, created.length, `${subgraph} placed every tenant`);
      for (const [shardId, url] of databases.shards.entries()) {
        const rows = await queryDatabase<{ key: string }>(url, `select ${table.key} as key from ${table.name}`);
        const expected = created.filter((id) => placements.get(id) === shardId).sort();
        assert.deepEqual(rows.map((row) => row.key).sort(), expected, `${subgraph} shard ${shardId} holds exactly its tenants`);
      }
    }
  });

  it('runs every migration on every shard, matching the entity definitions', async () => {
    for (const subgraph of [stack.tenants, stack.billing, stack.usageForecast, stack.whiteLabel]) {
      assert.deepEqual(await subgraph.runtime.db.schemaDrift(), [], `${subgraph.name} migrations match its entities`);
    }
    const [first, second] = shardUrls('tenants').shards;
    const migrations = async (url: string) =>
      (await queryDatabase<{ name: string }>(url, 'select name from mikro_orm_migrations order by id')).map((row) => row.name);
    assert.ok((await migrations(first!)).length > 0);
    assert.deepEqual(await migrations(first!), await migrations(second!));
  });

  it('pages across shards in creation order with no duplicates and no gaps', async () => {
    const listed = await listAll(stack, 5);
    assert.deepEqual(listed, [...created].sort());
    assert.equal(new Set(listed).size, listed.length);
  });

  it('keeps pagination stable when tenants are created between pages', async () => {
    const before = await listAll(stack, 100);
    const added: string[] = [];
    const listed = await listAll(stack, 7, async (page) => {
      if (page < 2) {
        const tenant = await stack.tenants.services.tenants.create({ name: `Late ${page}`, currency: 'EUR', country: 'AT' });
        added.push(tenant.id);
      }
    });
    assert.equal(new Set(listed).size, listed.length, 'no tenant listed twice');
    assert.deepEqual(listed, [...before, ...added].sort(), 'every tenant listed, newcomers at the end');
  });
});
