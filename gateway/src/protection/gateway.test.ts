import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { ANONYMOUS, type Identity } from '@saldo/graphql';
import { costDirectivesFromSdl, type CostDirectives } from './cost-directives.js';
import { createLimitsPlugin } from './limits.js';
import { InMemoryRateLimiter, createRateLimitPlugin, rateLimitKey } from './rate-limit.js';

type SubgraphFetcher = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];
type Context = { identity: Identity; clientAddress: string };

const supergraphPath = new URL('../../../schema/supergraph.graphql', import.meta.url);

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

/**
 * The real ApolloGateway over the checked-in supergraph with both protection plugins, every subgraph routed
 * to one stub that records what reaches it, served over HTTP exactly as gateway.ts serves it.
 */
describe('gateway protection over HTTP', () => {
  const subgraphRequests: string[] = [];
  const stub = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      subgraphRequests.push(body);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ data: { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } } }));
    });
  });
  const clock = { now: 1_700_000_000_000 };
  let apollo: ApolloServer<Context>;
  let http: Server;
  let url: string;

  let directives: CostDirectives;

  before(async () => {
    const stubUrl = await listen(stub);
    directives = costDirectivesFromSdl(await readFile(supergraphPath, 'utf8'));
    apollo = new ApolloServer<Context>({
      gateway: new ApolloGateway({
        supergraphSdl: await readFile(supergraphPath, 'utf8'),
        buildService: () => new RemoteGraphQLDataSource({ url: `${stubUrl}/graphql`, fetcher: fetch as unknown as SubgraphFetcher }),
      }),
      csrfPrevention: true,
      includeStacktraceInErrorResponses: false,
      plugins: [
        createRateLimitPlugin<Context>({
          limiter: new InMemoryRateLimiter({ ratePerMinute: 60, burst: 3, now: () => clock.now }),
          keyOf: (context) => rateLimitKey(context.identity, context.clientAddress),
        }),
        createLimitsPlugin({ maxDepth: 6, maxAliases: 3, maxCost: 10_000 }, { directives: () => directives }),
      ],
    });
    await apollo.start();
    const app = express();
    app.use(
      '/graphql',
      express.json({ limit: '1mb' }),
      // x-test-client stands in for distinct callers (each test draws from its own anonymous bucket)
      expressMiddleware(apollo, { context: async ({ req }) => ({ identity: ANONYMOUS, clientAddress: req.get('x-test-client') ?? req.ip ?? '' }) }),
    );
    http = createServer(app);
    url = `${await listen(http)}/graphql`;
  });

  after(async () => {
    await apollo.stop();
    await close(http);
    await close(stub);
  });

  async function post(client: string, query: string, variables: Record<string, unknown> = {}) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-client': client },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as any };
  }

  it('forwards operations within the limits to the subgraph', async () => {
    subgraphRequests.length = 0;
    const { status, body } = await post('10.0.0.1', '{ partners(first: 2) { edges { node { id name } } } }');
    assert.equal(status, 200);
    assert.deepEqual(body, { data: { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } } });
    assert.equal(subgraphRequests.length, 1);
  });

  it('refuses over-limit operations with 400 and a stable code; nothing reaches a subgraph', async () => {
    subgraphRequests.length = 0;
    const cases = [
      {
        query: '{ tenant(id: "t") { partner { tenants { edges { node { partner { id } } } } } } }',
        extensions: { code: 'QUERY_TOO_DEEP', limit: 6, measured: 7 },
      },
      { query: '{ a: __typename b: __typename c: __typename d: __typename }', extensions: { code: 'TOO_MANY_ALIASES', limit: 3, measured: 4 } },
      {
        // partners 1 + 100 × (edge, node, tenants connection) + 100 × 100 tenant edges
        query: 'query ($n: Int) { partners(first: $n) { edges { node { tenants(first: 100) { edges { cursor } } } } } }',
        variables: { n: 100 },
        extensions: { code: 'QUERY_TOO_COSTLY', limit: 10_000, measured: 10_301 },
      },
      {
        // @listSize(slicingArguments: ["days"]) in the supergraph: a year of days for 50 tenants
        query: '{ tenants(first: 50) { edges { node { usage(days: 366) { quantity } } } } }',
        extensions: { code: 'QUERY_TOO_COSTLY', limit: 10_000, measured: 1 + 50 + 50 + 50 * 366 },
      },
    ];
    for (const [index, { query, variables, extensions }] of cases.entries()) {
      const { status, body } = await post(`10.0.1.${index}`, query, variables);
      assert.equal(status, 400, extensions.code);
      assert.equal(body.data, undefined);
      assert.deepEqual(
        body.errors.map((error: any) => error.extensions),
        [extensions],
      );
    }
    assert.deepEqual(subgraphRequests, []);
  });

  it('answers RATE_LIMITED with 429 and Retry-After past the burst; the budget refills', async () => {
    subgraphRequests.length = 0;
    const query = '{ partners(first: 1) { edges { node { id name } } } }';
    for (let i = 0; i < 3; i += 1) assert.equal((await post('10.0.2.1', query)).status, 200);
    const refused = await post('10.0.2.1', query);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.deepEqual(refused.body, {
      errors: [{ message: 'Too many requests; retry after 1 second.', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 } }],
    });
    assert.equal(subgraphRequests.length, 3);
    assert.equal((await post('10.0.2.2', query)).status, 200, 'another caller is unaffected');
    clock.now += 1_000;
    assert.equal((await post('10.0.2.1', query)).status, 200);
  });
});
