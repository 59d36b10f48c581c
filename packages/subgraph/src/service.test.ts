// The subgraph runtime (createSubgraphService) with a small probe definition on the machine's PostgreSQL: start and
// stop, /health and /ready, GraphQL and graphql-ws only for identities the gateway signed, errors masked, tenants
// learnt from tenant.created, and a failed start that leaves nothing behind.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { GraphQLError, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import pg from 'pg';
import WebSocket from 'ws';
import { parseConfig } from '@saldo/config';
import { InProcessEventBus, TenantCreated, outboxRow, toEnvelope } from '@saldo/events';
import { ErrorCode, SaldoError, type Identity, type RequestContext } from '@saldo/graphql';
import { IDENTITY_HEADER, INTERNAL_AUDIENCE, IdentitySigner, generateSigningKeyPair } from '@saldo/identity';
import { createLogger } from '@saldo/service';
import { databaseName, dropDatabases } from '@saldo/sharding';
import { createSubgraphService, subgraphConfigSchema, type SubgraphConfig, type SubgraphDefinition, type SubgraphService } from '@saldo/subgraph';
import { TEST_LOG_LEVEL, TEST_POSTGRES_URL, testLogger, uniquePrefix, waitUntil } from '@saldo/testing';

/** The tests provoke failures on purpose (a resolver bug, a vanished database): their logs show only when debugging. */
const logger = TEST_LOG_LEVEL === 'debug' ? testLogger() : createLogger({ service: 'test', level: 'error', write: () => undefined });
const keys = generateSigningKeyPair();
const TENANT = '0195f3a2-7c1e-7b4a-9d2e-3f4a5b6c7d8e';
const ALICE: Identity = { role: 'tenant-admin', subject: 'alice', tenantId: TENANT };

/** A subgraph with just enough schema to observe the runtime: who am I, a coded error, a bug, a subscription. */
function probe(overrides: Partial<SubgraphDefinition<object>> = {}): SubgraphDefinition<object> {
  const query = new GraphQLObjectType<unknown, RequestContext>({
    name: 'Query',
    fields: {
      whoami: { type: GraphQLString, resolve: (_root, _args, ctx) => JSON.stringify(ctx.identity) },
      forbidden: {
        type: GraphQLString,
        resolve: () => {
          throw new SaldoError(ErrorCode.Forbidden, 'You may not access this tenant.');
        },
      },
      bug: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('connection to postgres://saldo:s3cret@db failed');
        },
      },
      echo: { type: GraphQLString, args: { text: { type: GraphQLString } }, resolve: (_root, args: { text?: string }) => args.text ?? null },
    },
  });
  const subscription = new GraphQLObjectType<unknown, RequestContext>({
    name: 'Subscription',
    fields: {
      hello: {
        type: GraphQLString,
        subscribe: async function* (_root, _args, ctx) {
          yield { hello: `hello ${ctx.identity.role}` };
        },
      },
    },
  });
  return {
    name: 'probe',
    shardSchema: { shard: { entities: [], migrations: [] } },
    buildSchema: async () => ({ schema: new GraphQLSchema({ query, subscription }), sdl: '' }),
    createServices: () => ({}),
    ...overrides,
  };
}

interface Started {
  service: SubgraphService<object>;
  bus: InProcessEventBus;
  databases: string[];
}

const started: Started[] = [];

function configFor(prefix: string): SubgraphConfig {
  return parseConfig('probe', subgraphConfigSchema, {
    PORT: '0',
    CONTROL_DATABASE_URL: `${TEST_POSTGRES_URL}/${prefix}_control`,
    SHARD_DATABASE_URLS: [0, 1].map((index) => `${TEST_POSTGRES_URL}/${prefix}_shard_${index}`).join(','),
    CREATE_DATABASES: 'true',
    DATABASE_POOL_MAX: '2',
    JOBS_POOL_MAX: '1',
    LOG_LEVEL: TEST_LOG_LEVEL,
    IDENTITY_PUBLIC_KEY: keys.publicKeyPem,
  });
}

/** A probe subgraph on fresh databases; stopped and dropped after the file. */
async function start(label: string, definition = probe()): Promise<Started> {
  const config = configFor(uniquePrefix(label));
  const bus = new InProcessEventBus(logger);
  const service = createSubgraphService(definition, config, { bus, logger });
  const entry = { service, bus, databases: [config.CONTROL_DATABASE_URL, ...config.SHARD_DATABASE_URLS] };
  started.push(entry);
  await service.start();
  return entry;
}

async function post(url: string, query: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, body: await response.json() };
}

async function sessions(urls: readonly string[]): Promise<number> {
  const client = new pg.Client({ connectionString: `${TEST_POSTGRES_URL}/postgres` });
  await client.connect();
  try {
    const result = await client.query('select count(*)::int as n from pg_stat_activity where datname = any($1)', [urls.map(databaseName)]);
    return result.rows[0].n as number;
  } finally {
    await client.end();
  }
}

after(async () => {
  for (const { service, bus, databases } of started) {
    await service.stop();
    await bus.close();
    await dropDatabases(databases);
  }
});

describe('subgraph service', () => {
  let subgraph: Started;
  let signer: IdentitySigner;
  const as = async (identity: Identity) => ({ [IDENTITY_HEADER]: await signer.sign(identity) });

  before(async () => {
    signer = await IdentitySigner.fromPem(keys.privateKeyPem);
    subgraph = await start('service');
  });

  it('answers /health and /ready once started', async () => {
    const health = await fetch(`${subgraph.service.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', service: 'probe' });
    const ready = await fetch(`${subgraph.service.url}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', service: 'probe', failures: {} });
  });

  it('serves a request carrying a gateway-signed identity, with that identity in the request context', async () => {
    const { status, body } = await post(subgraph.service.url, '{ whoami }', await as(ALICE));
    assert.equal(status, 200);
    assert.deepEqual(JSON.parse(body.data.whoami), ALICE);
  });

  it('refuses every request without a valid gateway-signed identity, introspection included', async () => {
    const forger = await IdentitySigner.fromPem(generateSigningKeyPair().privateKeyPem);
    // Signed two minutes ago by the gateway's key (a signer of its own: the shared one reuses a fresh token).
    const expired = await (await IdentitySigner.fromPem(keys.privateKeyPem)).sign(ALICE, undefined, Date.now() - 120_000);
    const attempts: Array<[string, Record<string, string>]> = [
      ['no identity', {}],
      ['garbage', { [IDENTITY_HEADER]: 'not-a-token' }],
      ['signed by another key', { [IDENTITY_HEADER]: await forger.sign(ALICE) }],
      ['signed for internal endpoints', { [IDENTITY_HEADER]: await signer.sign(ALICE, INTERNAL_AUDIENCE) }],
      ['expired', { [IDENTITY_HEADER]: expired }],
      ['as a bearer token', { authorization: `Bearer ${await signer.sign(ALICE)}` }],
    ];
    for (const query of ['{ whoami }', '{ __schema { queryType { name } } }', '{ __typename }']) {
      for (const [why, headers] of attempts) {
        const { status, body } = await post(subgraph.service.url, query, headers);
        assert.equal(status, 401, `${why}: ${query}`);
        assert.equal(body.data, undefined);
        assert.deepEqual(
          body.errors.map((error: any) => error.extensions.code),
          ['UNAUTHENTICATED'],
          why,
        );
      }
    }
  });

  it('passes coded errors and hides unexpected ones', async () => {
    const headers = await as(ALICE);
    const coded = await post(subgraph.service.url, '{ forbidden }', headers);
    assert.deepEqual(
      coded.body.errors.map((error: any) => [error.extensions.code, error.message]),
      [['FORBIDDEN', 'You may not access this tenant.']],
    );
    const bug = await post(subgraph.service.url, '{ bug }', headers);
    assert.deepEqual(
      bug.body.errors.map((error: any) => [error.extensions.code, error.message]),
      [['INTERNAL_SERVER_ERROR', 'Internal server error']],
    );
    assert.doesNotMatch(JSON.stringify(bug.body), /s3cret|postgres:|stack/);
  });

  it("answers the gateway's JSON requests without Express exactly as the Express route answers them", async () => {
    const identity = await as(ALICE);
    const json = (value: unknown) => JSON.stringify(value);
    const cases: Array<[string, string, Record<string, string>]> = [
      ['a query', json({ query: '{ whoami }' }), identity],
      ['a coded error', json({ query: '{ forbidden }' }), identity],
      ['an unexpected error', json({ query: '{ bug }' }), identity],
      ['a syntax error', json({ query: '{ whoami' }), identity],
      ['a validation error', json({ query: '{ nope }' }), identity],
      [
        'variables and an operation name',
        json({ query: 'query Echo($t: String) { echo(text: $t) }', variables: { t: 'hi' }, operationName: 'Echo' }),
        identity,
      ],
      ['a control character in a variable', json({ query: 'query($t: String) { echo(text: $t) }', variables: { t: 'a\u0000b' } }), identity],
      ['a control character in a literal', json({ query: '{ echo(text: "a\\u0001b") }' }), identity],
      ['variables as a string', json({ query: '{ whoami }', variables: '{}' }), identity],
      ['a batch', json([{ query: '{ whoami }' }]), identity],
      ['malformed JSON', '{"query": ', identity],
      ['a JSON scalar', '"x"', identity],
      ['an empty body', '', identity],
      ['a byte order mark', `\ufeff${json({ query: '{ whoami }' })}`, identity],
      ['no identity', json({ query: '{ whoami }' }), {}],
    ];
    for (const [what, body, headers] of cases) {
      const answers = await Promise.all(
        // `application/json` is the gateway's; a parameter the raw handler does not take sends the same request through Express.
        ['application/json', 'application/json; charset=utf-8; profile=x'].map(async (contentType) => {
          const response = await fetch(`${subgraph.service.url}/graphql`, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });
          return {
            status: response.status,
            type: response.headers.get('content-type'),
            cacheControl: response.headers.get('cache-control'),
            viaExpress: response.headers.has('etag'),
            body: (await response.json()) as unknown,
          };
        }),
      );
      const [raw, viaExpress] = answers as [(typeof answers)[0], (typeof answers)[0]];
      assert.equal(raw.viaExpress, false, `${what}: served without Express`);
      assert.equal(viaExpress.viaExpress, true, `${what}: served by Express`);
      assert.deepEqual({ ...raw, viaExpress: undefined }, { ...viaExpress, viaExpress: undefined }, what);
    }
    const control = await post(subgraph.service.url, '{ echo(text: "a\\u0001b") }', identity);
    assert.deepEqual(
      control.body.errors.map((error: any) => error.extensions.code),
      ['INVALID_CHARACTERS'],
    );
  });

  it('marks GraphQL responses as not to be stored by caches', async () => {
    const response = await fetch(`${subgraph.service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await as(ALICE)) },
      body: JSON.stringify({ query: '{ whoami }' }),
    });
    assert.equal(response.headers.get('cache-control'), 'no-store');
  });

  it('serves subscriptions over graphql-ws only on a connection the gateway signed', async () => {
    const wsUrl = `${subgraph.service.url.replace(/^http/, 'ws')}/graphql`;
    const refusedSocket = new WebSocket(wsUrl, 'graphql-transport-ws');
    await once(refusedSocket, 'open');
    refusedSocket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    const [code] = (await once(refusedSocket, 'close')) as [number];
    assert.equal(code, 4401);

    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    const messages: any[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    await once(socket, 'open');
    socket.send(JSON.stringify({ type: 'connection_init', payload: { [IDENTITY_HEADER]: await signer.sign({ role: 'anonymous' }) } }));
    await waitUntil(() => messages.some((message) => message.type === 'connection_ack'), 'connection_ack');
    // Each operation carries its caller's identity; a forged one refuses that operation only.
    socket.send(
      JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { hello }', extensions: { [IDENTITY_HEADER]: await signer.sign(ALICE) } } }),
    );
    const forged = await (await IdentitySigner.fromPem(generateSigningKeyPair().privateKeyPem)).sign(ALICE);
    socket.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: 'subscription { hello }', extensions: { [IDENTITY_HEADER]: forged } } }));
    await waitUntil(
      () => messages.some((message) => message.id === '1' && message.type === 'complete') && messages.some((message) => message.id === '2'),
      'both operations to end',
    );
    assert.deepEqual(
      messages.filter((message) => message.id === '1' && message.type === 'next').map((message) => message.payload),
      [{ data: { hello: 'hello tenant-admin' } }],
    );
    const refused = messages.find((message) => message.id === '2');
    assert.equal(refused.type, 'error');
    assert.deepEqual(
      refused.payload.map((error: any) => error.extensions.code),
      ['UNAUTHENTICATED'],
    );
    socket.close();
  });

  it('places a tenant announced by tenant.created on one of its shards, with its partner', async () => {
    const tenantId = randomUUID();
    const partnerId = randomUUID();
    await subgraph.bus.publish([
      toEnvelope(outboxRow(TenantCreated, tenantId, { tenantId, partnerId, name: 'Announced GmbH', currency: 'EUR', country: 'DE', status: 'ACTIVE' })),
    ]);
    const directory = subgraph.service.runtime.db.directory;
    assert.ok([0, 1].includes((await directory.lookupOne(tenantId))!));
    assert.deepEqual(await directory.partnersOf([tenantId]), new Map([[tenantId, partnerId]]));
  });
});

describe('subgraph service lifecycle', () => {
  it('stops serving on stop, and stop is safe to repeat', async () => {
    const { service, databases } = await start('stop');
    const url = service.url;
    assert.equal((await fetch(`${url}/health`)).status, 200);
    await service.stop();
    await assert.rejects(fetch(`${url}/health`), 'nothing listens any more');
    assert.throws(() => service.url, /probe is not started/);
    await service.stop();
    await waitUntil(async () => (await sessions(databases)) === 0, 'every database connection to close', { timeoutMs: 5_000, intervalMs: 200 });
  });

  it('reports not ready, naming the failure, when a database is gone', async () => {
    const { service, databases } = await start('ready');
    await dropDatabases([databases[2]!]);
    const ready = await fetch(`${service.url}/ready`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { status: string; failures: Record<string, string> };
    assert.equal(body.status, 'not-ready');
    assert.deepEqual(Object.keys(body.failures), ['databases']);
    assert.equal((await fetch(`${service.url}/health`)).status, 200, 'still alive');
    await service.stop();
  });

  it('leaves nothing running when its start fails half-way', async () => {
    const broken = probe({
      buildSchema: async () => {
        throw new GraphQLError('schema does not build');
      },
    });
    await assert.rejects(start('broken', broken), /schema does not build/);
    const { databases } = started.at(-1)!;
    await waitUntil(async () => (await sessions(databases)) === 0, 'every database connection to close', { timeoutMs: 5_000, intervalMs: 200 });
  });
});
