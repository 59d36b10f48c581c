import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SaldoError } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import type { SubgraphDefinition, SubgraphService } from '@saldo/subgraph';
import { errorCodes, startTestSubgraph, type GraphQLResponse, type TestSubgraph } from '@saldo/testing';
import { loadUsageForecastConfig, type UsageForecastConfig } from './config.js';
import { buildUsageForecastSchema, createUsageForecastServices, usageForecastSubgraph } from './definition.js';
import { addDays, daysEndingOn, utcDay } from './domain/days.js';
import type { UsageForecastServices } from './graphql/context.js';
import { UsageService } from './services/usage-service.js';

// "Today" is pinned so the windows below cannot straddle a UTC midnight while the tests run.
const NOW = new Date('2026-03-15T13:45:00.000Z');
const TODAY = '2026-03-15';

/** The real definition, with the service's clock pinned. */
const definition: SubgraphDefinition<UsageForecastServices, UsageForecastConfig> = {
  ...usageForecastSubgraph,
  createServices: (runtime) => createUsageForecastServices(runtime, { now: () => NOW }),
};

interface UsageDayJson {
  date: string;
  quantity: number;
}

let subgraph: TestSubgraph<UsageForecastServices>;
let service: SubgraphService<UsageForecastServices>;
let db: ShardedDatabase;

function graphql(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  return subgraph.query(query, variables);
}

const TENANT_USAGE = 'query ($tenantId: ID!, $days: Int) { tenantUsage(tenantId: $tenantId, days: $days) { date quantity } }';

async function tenantUsage(tenantId: string, days?: number): Promise<UsageDayJson[]> {
  const result = await graphql(TENANT_USAGE, days === undefined ? { tenantId } : { tenantId, days });
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return (result.data as { tenantUsage: UsageDayJson[] }).tenantUsage;
}

/** daily_usage rows of a tenant on each shard, read straight from the shard databases. */
async function rowsPerShard(tenantId: string): Promise<number[]> {
  return Promise.all(
    db.shardIds.map(async (shardId) => {
      const [row] = await db.em(shardId).execute<{ n: number }[]>('select count(*)::int as n from daily_usage where tenant_id = ?', [tenantId]);
      return row?.n ?? 0;
    }),
  );
}

/**
 * Counts what one request costs, at the MikroORM connection every EntityManager of a database goes through:
 * calls to the shard directory, statements on the control database's placements, statements on daily_usage per shard.
 */
function countQueries(database: ShardedDatabase) {
  const counts = { directoryLookups: 0, placementStatements: 0, usageStatements: database.shardIds.map(() => 0) };
  const restores: Array<() => void> = [];

  const instrument = (connection: unknown, onSql: (sql: string) => void): void => {
    const target = connection as { execute: (...args: unknown[]) => Promise<unknown> };
    const original = target.execute;
    target.execute = function (this: unknown, ...args: unknown[]) {
      const query = args[0];
      onSql(typeof query === 'string' ? query : String((query as { sql?: unknown } | undefined)?.sql ?? ''));
      return original.apply(this, args);
    };
    restores.push(() => {
      target.execute = original;
    });
  };

  instrument(database.globalEm().getConnection(), (sql) => {
    if (sql.includes('tenant_placement')) counts.placementStatements += 1;
  });
  for (const shardId of database.shardIds) {
    instrument(database.em(shardId).getConnection(), (sql) => {
      // The usage service's read (quoted `from "daily_usage"`), not the background jobs that also read the table on the same
      // connection (training, anomaly and fraud scans): one of those landing inside the probe's window once counted twice.
      if (sql.includes('from "daily_usage"')) counts.usageStatements[shardId] = (counts.usageStatements[shardId] ?? 0) + 1;
    });
  }
  const directory = database.directory;
  const lookup = directory.lookup;
  directory.lookup = function (...args: Parameters<typeof lookup>) {
    counts.directoryLookups += 1;
    return lookup.apply(directory, args);
  };
  restores.push(() => {
    directory.lookup = lookup;
  });

  return { counts, restore: () => restores.forEach((restore) => restore()) };
}

describe('usage-forecast subgraph: daily usage', () => {
  before(async () => {
    // The relay polls the shards; keep it quiet so query counts see only the requests under test.
    subgraph = await startTestSubgraph(definition, loadUsageForecastConfig, { env: { OUTBOX_POLL_INTERVAL_MS: '3600000' } });
    service = subgraph.service;
    db = service.runtime.db;
  });

  after(async () => {
    await subgraph?.destroy();
  });

  it("sums a day's usage across products and repeated records", async () => {
    const usage = service.services.usage;
    const tenantId = randomUUID();
    assert.equal(await usage.record(tenantId, TODAY, 'inbound_minute', 10), 10n);
    await usage.record(tenantId, TODAY, 'outbound_minute', 5);
    await usage.record(tenantId, TODAY, 'sms', 2n);
    assert.equal(await usage.record(tenantId, TODAY, 'inbound_minute', 3), 13n);
    await usage.record(tenantId, new Date(`${addDays(TODAY, -1)}T23:59:59.999Z`), 'sms', 7);
    await usage.recordMany([
      { tenantId, day: addDays(TODAY, -2), product: 'sms', quantity: 1 },
      { tenantId, day: addDays(TODAY, -2), product: 'sms', quantity: 4 },
      { tenantId, day: addDays(TODAY, -2), product: 'inbound_minute', quantity: 100 },
      { tenantId, day: TODAY, product: 'sms', quantity: 1 },
    ]);

    assert.deepEqual(await tenantUsage(tenantId, 4), [
      { date: addDays(TODAY, -3), quantity: 0 },
      { date: addDays(TODAY, -2), quantity: 105 },
      { date: addDays(TODAY, -1), quantity: 7 },
      { date: TODAY, quantity: 21 },
    ]);
  });

  it('never loses an increment when the same day is recorded concurrently', async () => {
    const tenantId = randomUUID();
    await Promise.all(Array.from({ length: 25 }, () => service.services.usage.record(tenantId, TODAY, 'inbound_minute', 2)));
    assert.deepEqual(await tenantUsage(tenantId, 1), [{ date: TODAY, quantity: 50 }]);
  });

  it('returns exactly one entry per day of the window, oldest first, today last, zero days included', async () => {
    const tenantId = randomUUID();
    await service.services.usage.recordMany([
      { tenantId, day: addDays(TODAY, -10), product: 'sms', quantity: 3 },
      // Just outside a 10-day window, and a future day: neither may show up in it.
      { tenantId, day: addDays(TODAY, -10 - 1), product: 'sms', quantity: 1000 },
      { tenantId, day: addDays(TODAY, 1), product: 'sms', quantity: 1000 },
    ]);

    for (const days of [1, 10, 11, 366]) {
      const usage = await tenantUsage(tenantId, days);
      assert.deepEqual(
        usage.map((day) => day.date),
        daysEndingOn(TODAY, days),
        `window of ${days}`,
      );
    }
    const tenDays = await tenantUsage(tenantId, 10);
    assert.equal(tenDays[0]?.date, addDays(TODAY, -9));
    assert.ok(tenDays.every((day) => day.quantity === 0));
    const elevenDays = await tenantUsage(tenantId, 11);
    assert.deepEqual(elevenDays[0], { date: addDays(TODAY, -10), quantity: 3 });
    assert.ok(elevenDays.slice(1).every((day) => day.quantity === 0));

    const byDefault = await tenantUsage(tenantId);
    assert.equal(byDefault.length, 30);
    assert.equal(byDefault[0]?.date, addDays(TODAY, -29));
    assert.equal(byDefault.at(-1)?.date, TODAY);
    assert.deepEqual(byDefault[19], { date: addDays(TODAY, -10), quantity: 3 });
  });

  it('crosses month and leap-day boundaries with consecutive calendar days', () => {
    assert.deepEqual(daysEndingOn('2028-03-01', 3), ['2028-02-28', '2028-02-29', '2028-03-01']);
    assert.deepEqual(daysEndingOn('2027-01-01', 2), ['2026-12-31', '2027-01-01']);
  });

  it('gives a tenant it has never seen zeros, without placing it', async () => {
    const tenantId = randomUUID();
    const usage = await tenantUsage(tenantId, 3);
    assert.deepEqual(
      usage,
      daysEndingOn(TODAY, 3).map((date) => ({ date, quantity: 0 })),
    );
    assert.equal(await db.directory.lookupOne(tenantId), undefined);
  });

  it('ends the window on the current UTC day when the clock is not pinned', async () => {
    const tenantId = randomUUID();
    const before = utcDay(new Date());
    const [days] = await new UsageService(db).dailyTotals([tenantId], 1);
    const afterwards = utcDay(new Date());
    assert.equal(days?.length, 1);
    assert.ok(days?.[0]?.date === before || days?.[0]?.date === afterwards);
  });

  it("resolves 50 tenants' usage through _entities with one directory lookup and one query per shard, each getting its own numbers", async () => {
    const tenantIds = Array.from({ length: 50 }, () => randomUUID());
    await service.services.usage.recordMany(
      tenantIds.flatMap((tenantId, index) => [
        { tenantId, day: TODAY, product: 'inbound_minute', quantity: index + 1 },
        { tenantId, day: TODAY, product: 'sms', quantity: 1000 },
        { tenantId, day: addDays(TODAY, -1), product: 'outbound_minute', quantity: 10 * index },
      ]),
    );
    const shardOf = await db.directory.lookup(tenantIds);
    const tenantsPerShard = db.shardIds.map((shardId) => tenantIds.filter((id) => shardOf.get(id) === shardId).length);
    assert.ok(
      tenantsPerShard.every((count) => count > 0),
      `tenants spread over both shards: ${tenantsPerShard.join('/')}`,
    );

    const probe = countQueries(db);
    let result: GraphQLResponse;
    try {
      result = await graphql(
        `
          query ($representations: [_Any!]!) {
            _entities(representations: $representations) {
              ... on Tenant {
                id
                usage(days: 2) {
                  date
                  quantity
                }
                week: usage(days: 7) {
                  date
                  quantity
                }
              }
            }
          }
        `,
        { representations: tenantIds.map((id) => ({ __typename: 'Tenant', id })) },
      );
    } finally {
      probe.restore();
    }

    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const entities = (result.data as { _entities: Array<{ id: string; usage: UsageDayJson[]; week: UsageDayJson[] }> })._entities;
    assert.equal(entities.length, 50);
    entities.forEach((entity, index) => {
      assert.equal(entity.id, tenantIds[index]);
      assert.deepEqual(entity.usage, [
        { date: addDays(TODAY, -1), quantity: 10 * index },
        { date: TODAY, quantity: index + 1 + 1000 },
      ]);
      assert.equal(entity.week.length, 7);
      assert.deepEqual(entity.week.slice(-2), entity.usage);
      assert.ok(entity.week.slice(0, 5).every((day) => day.quantity === 0));
    });

    // Both windows of all 50 tenants: one batch.
    assert.equal(probe.counts.directoryLookups, 1);
    assert.ok(probe.counts.placementStatements <= 1, `placement statements: ${probe.counts.placementStatements}`);
    assert.deepEqual(probe.counts.usageStatements, [1, 1]);
  });

  it('rejects days outside 1..366 with BAD_USER_INPUT and a malformed tenant id with INVALID_ID', async () => {
    const tenantId = randomUUID();
    for (const days of [0, -1, 367]) {
      const result = await graphql(TENANT_USAGE, { tenantId, days });
      assert.deepEqual(errorCodes(result), ['BAD_USER_INPUT'], `days ${days}`);
      assert.match(result.errors?.[0]?.message ?? '', /days: must be between 1 and 366/);
    }
    assert.deepEqual(errorCodes(await graphql(TENANT_USAGE, { tenantId: 'not-a-uuid' })), ['INVALID_ID']);

    const entities = await graphql(
      'query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on Tenant { usage(days: 3) { date } } } }',
      { representations: [{ __typename: 'Tenant', id: 'tenant-1' }] },
    );
    assert.deepEqual(errorCodes(entities), ['INVALID_ID']);
    const zeroDays = await graphql(
      'query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on Tenant { usage(days: 0) { date } } } }',
      { representations: [{ __typename: 'Tenant', id: tenantId }] },
    );
    assert.deepEqual(errorCodes(zeroDays), ['BAD_USER_INPUT']);

    // Reading a valid-but-unknown tenant with a bad window places nothing.
    assert.equal(await db.directory.lookupOne(tenantId), undefined);
  });

  it('refuses bad usage records with a stable code and writes nothing, not even a placement', async () => {
    const usage = service.services.usage;
    const tenantId = randomUUID();
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['negative quantity', () => usage.record(tenantId, TODAY, 'sms', -1), 'BAD_USER_INPUT'],
      ['fractional quantity', () => usage.record(tenantId, TODAY, 'sms', 1.5), 'BAD_USER_INPUT'],
      ['unsafe quantity', () => usage.record(tenantId, TODAY, 'sms', 2 ** 53), 'BAD_USER_INPUT'],
      ['upper-case product', () => usage.record(tenantId, TODAY, 'SMS', 1), 'BAD_USER_INPUT'],
      ['product starting with a digit', () => usage.record(tenantId, TODAY, '1sms', 1), 'BAD_USER_INPUT'],
      ['product of 65 characters', () => usage.record(tenantId, TODAY, `a${'b'.repeat(64)}`, 1), 'BAD_USER_INPUT'],
      ['impossible day', () => usage.record(tenantId, '2026-02-30', 'sms', 1), 'BAD_USER_INPUT'],
      ['day with a time', () => usage.record(tenantId, '2026-02-03T10:00:00Z', 'sms', 1), 'BAD_USER_INPUT'],
      ['invalid Date', () => usage.record(tenantId, new Date('nope'), 'sms', 1), 'BAD_USER_INPUT'],
      ['malformed tenant id', () => usage.record('tenant-1', TODAY, 'sms', 1), 'INVALID_ID'],
      [
        'a batch with one bad row',
        () =>
          usage.recordMany([
            { tenantId, day: TODAY, product: 'sms', quantity: 1 },
            { tenantId, day: TODAY, product: 'sms', quantity: -5 },
          ]),
        'BAD_USER_INPUT',
      ],
      ['a window of 0 days', () => usage.dailyTotals([tenantId], 0), 'BAD_USER_INPUT'],
      ['a window of 367 days', () => usage.dailyTotals([tenantId], 367), 'BAD_USER_INPUT'],
      ['a window of 1.5 days', () => usage.dailyTotals([tenantId], 1.5), 'BAD_USER_INPUT'],
    ];
    for (const [label, attempt, code] of cases) {
      await assert.rejects(attempt, (error: unknown) => error instanceof SaldoError && error.code === code, label);
    }
    assert.equal(await db.directory.lookupOne(tenantId), undefined);
    assert.deepEqual(await rowsPerShard(tenantId), [0, 0]);
  });

  it("keeps a tenant's rows only on the shard its directory placed it on", async () => {
    const tenantIds = Array.from({ length: 8 }, () => randomUUID());
    await service.services.usage.recordMany(
      tenantIds.flatMap((tenantId) => [
        { tenantId, day: TODAY, product: 'sms', quantity: 1 },
        { tenantId, day: addDays(TODAY, -3), product: 'inbound_minute', quantity: 2 },
      ]),
    );
    const seenShards = new Set<number>();
    for (const tenantId of tenantIds) {
      const shardId = await db.directory.lookupOne(tenantId);
      assert.notEqual(shardId, undefined);
      seenShards.add(shardId as number);
      const expected = db.shardIds.map((id) => (id === shardId ? 2 : 0));
      assert.deepEqual(await rowsPerShard(tenantId), expected, tenantId);
    }
    assert.equal(seenShards.size, 2);
  });

  it('reports a day above the GraphQL Int range as an error instead of overflowing', async () => {
    const atLimit = randomUUID();
    await service.services.usage.record(atLimit, TODAY, 'inbound_minute', 2 ** 31 - 1);
    assert.deepEqual(await tenantUsage(atLimit, 1), [{ date: TODAY, quantity: 2 ** 31 - 1 }]);

    const overLimit = randomUUID();
    await service.services.usage.record(overLimit, TODAY, 'inbound_minute', 2 ** 31 - 1);
    await service.services.usage.record(overLimit, TODAY, 'sms', 1);
    const result = await graphql(TENANT_USAGE, { tenantId: overLimit, days: 1 });
    assert.equal(result.data, null);
    assert.deepEqual(errorCodes(result), ['INTERNAL_SERVER_ERROR']);
    assert.match(result.errors?.[0]?.message ?? '', /exceeds the range of GraphQL Int/);
  });

  it('has migrations that create exactly the tables its entities describe', async () => {
    assert.deepEqual(await db.schemaDrift(), []);
  });

  it('prints Tenant as an entity stub with usage, and Query.tenantUsage', async () => {
    const { sdl } = await buildUsageForecastSchema();
    assert.match(sdl, /type Tenant @key\(fields: "id"\) \{\n\s+id: ID!/);
    assert.match(sdl, /days: Int = 30\n\s+\): \[UsageDay!\]!/);
    assert.match(sdl, /type UsageDay \{[\s\S]*date: String![\s\S]*quantity: Int!/);
    assert.match(sdl, /tenantUsage\([\s\S]*tenantId: ID![\s\S]*\): \[UsageDay!\]!/);
  });
});
