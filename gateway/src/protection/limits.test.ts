import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApolloServer } from '@apollo/server';
import { buildSchema, getIntrospectionQuery, parse } from 'graphql';
import { analyzeOperation, checkLimits, createLimitsPlugin, type OperationMetrics } from './limits.js';

const typeDefs = /* GraphQL */ `
  type Query {
    tenant(id: ID!): Tenant
    tenants(first: Int, after: String): TenantConnection!
    tags: [String!]!
  }
  type TenantConnection {
    edges: [TenantEdge!]!
    pageInfo: PageInfo!
  }
  type TenantEdge {
    node: Tenant!
    cursor: String!
  }
  type PageInfo {
    hasNextPage: Boolean!
  }
  type Tenant {
    id: ID!
    name: String!
    usage(days: Int): [Usage!]!
    invoices(first: Int): InvoiceConnection!
    partner: Partner
  }
  type Usage {
    day: String!
    minutes: Int!
  }
  type InvoiceConnection {
    edges: [InvoiceEdge!]!
  }
  type InvoiceEdge {
    node: Invoice!
  }
  type Invoice {
    id: ID!
  }
  type Partner {
    id: ID!
    tenant: Tenant
  }
`;
const schema = buildSchema(typeDefs);

function measure(query: string, variables: Record<string, unknown> = {}, operationName?: string): OperationMetrics {
  return analyzeOperation(schema, parse(query), { variables, operationName: operationName ?? null });
}

describe('operation analyzer', () => {
  it('counts every field once at the top level', () => {
    assert.deepEqual(measure('{ tenant(id: "1") { id name } }'), { depth: 2, aliases: 0, cost: 3 });
    assert.deepEqual(measure('{ __typename }'), { depth: 1, aliases: 0, cost: 1 });
  });

  it('multiplies by literal `first` along the path; connection edges do not multiply again', () => {
    const query = '{ tenants(first: 10) { edges { node { id invoices(first: 5) { edges { node { id } } } } } pageInfo { hasNextPage } } }';
    // tenants 1; edges, node, id, invoices, pageInfo, hasNextPage 10 each; invoices' edges, node, id 50 each.
    assert.deepEqual(measure(query), { depth: 7, aliases: 0, cost: 1 + 6 * 10 + 3 * 50 });
  });

  it('assumes 20 for connections and lists without `first`', () => {
    assert.equal(measure('{ tenants { edges { node { id } } } }').cost, 1 + 3 * 20);
    assert.equal(measure('{ tenant(id: "1") { usage { day minutes } } }').cost, 1 + 1 + 2 * 20);
    assert.equal(measure('{ tags }').cost, 1);
  });

  it('applies `first` from variables, their defaults, and falls back when absent', () => {
    const query = 'query Page($n: Int) { tenants(first: $n) { edges { node { id } } } }';
    assert.equal(measure(query, { n: 50 }).cost, 1 + 3 * 50);
    assert.equal(measure(query, {}).cost, 1 + 3 * 20);
    assert.equal(measure(query, { n: null }).cost, 1 + 3 * 20);
    assert.equal(measure('query Page($n: Int = 7) { tenants(first: $n) { edges { node { id } } } }').cost, 1 + 3 * 7);
    assert.equal(measure('{ tenants(first: 0) { edges { node { id } } } }').cost, 1);
    assert.equal(measure('{ tenants(first: -5) { edges { node { id } } } }').cost, 1);
  });

  it('expands fragments: aliases and costs count wherever a fragment is spread', () => {
    const query = `
      query { a: tenant(id: "1") { ...T } b: tenant(id: "2") { ...T } }
      fragment T on Tenant { id x: name invoices(first: 3) { edges { node { id } } } }`;
    // per spread: id 1, x 1, invoices 1, edges/node/id 3 each = 12; plus the tenant field itself.
    assert.deepEqual(measure(query), { depth: 5, aliases: 4, cost: 2 * (1 + 12) });
  });

  it('handles inline fragments and honours @skip / @include with variables', () => {
    const query = 'query ($skip: Boolean!) { tenant(id: "1") { ... on Tenant { id } name @skip(if: $skip) partner @include(if: false) { id } } }';
    assert.deepEqual(measure(query, { skip: true }), { depth: 2, aliases: 0, cost: 2 });
    assert.deepEqual(measure(query, { skip: false }), { depth: 2, aliases: 0, cost: 3 });
  });

  it('counts nesting through recursive object types', () => {
    assert.equal(measure('{ tenant(id: "1") { partner { tenant { partner { tenant { id } } } } } }').depth, 6);
  });

  it('measures the named operation of a multi-operation document', () => {
    const document = 'query Small { tags } query Big { tenants(first: 100) { edges { node { id } } } }';
    assert.equal(measure(document, {}, 'Small').cost, 1);
    assert.equal(measure(document, {}, 'Big').cost, 301);
    assert.deepEqual(measure(document, {}, 'Missing'), { depth: 0, aliases: 0, cost: 0 });
  });

  it('includes introspection in depth; introspection lists do not multiply cost', () => {
    const metrics = measure(getIntrospectionQuery());
    assert.equal(metrics.depth, 15);
    assert.equal(metrics.aliases, 0);
    // one per selected field of the expanded standard query: a schema-independent constant
    assert.equal(metrics.cost, 220);
    // what Sandbox and codegen send fits the recommended defaults, but not a depth limit of 12
    assert.equal(checkLimits(metrics, { maxDepth: 15, maxAliases: 30, maxCost: 10_000 }), undefined);
    assert.equal(checkLimits(metrics, { maxDepth: 12, maxAliases: 30, maxCost: 10_000 })?.extensions['code'], 'QUERY_TOO_DEEP');
    assert.equal(measure('{ __schema { types { fields { name } } } }').cost, 4);
    assert.equal(measure('{ __type(name: "Tenant") { name } }').cost, 2);
  });

  it('measures fragment bombs quickly instead of expanding them', () => {
    const levels = 60;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === 0 ? 'fragment F0 on Tenant { x: id }' : `fragment F${i} on Tenant { ...F${i - 1} ...F${i - 1} }`,
    );
    const started = performance.now();
    const metrics = measure(`{ tenant(id: "1") { ...F${levels - 1} } } ${fragments.join(' ')}`);
    assert.ok(performance.now() - started < 200);
    assert.equal(metrics.depth, 2);
    assert.equal(metrics.aliases, 2 ** (levels - 1));
    assert.equal(metrics.cost, Number.MAX_SAFE_INTEGER);
  });
});

describe('limits plugin (Apollo Server)', () => {
  let resolverCalls = 0;
  const server = new ApolloServer({
    typeDefs,
    resolvers: {
      Query: {
        tenant: () => {
          resolverCalls += 1;
          return { id: '1', name: 'Acme', usage: [], partner: null, invoices: { edges: [] } };
        },
        tenants: () => {
          resolverCalls += 1;
          return { edges: [], pageInfo: { hasNextPage: false } };
        },
        tags: () => {
          resolverCalls += 1;
          return [];
        },
      },
    },
    includeStacktraceInErrorResponses: false,
    plugins: [createLimitsPlugin({ maxDepth: 4, maxAliases: 2, maxCost: 500 })],
  });

  async function run(query: string, variables: Record<string, unknown> = {}) {
    const response = await server.executeOperation({ query, variables });
    assert.equal(response.body.kind, 'single');
    // JSON round trip: results are null-prototype objects
    return { status: response.http.status, result: response.body.kind === 'single' ? JSON.parse(JSON.stringify(response.body.singleResult)) : undefined };
  }

  it('lets operations within the limits execute', async () => {
    await server.start();
    const { status, result } = await run('{ tenant(id: "1") { id a: name } tenants(first: 100) { edges { node { id } } } }');
    assert.equal(result?.errors, undefined);
    assert.equal(status, undefined); // Apollo's default 200
    assert.deepEqual(result?.data?.['tenant'], { id: '1', a: 'Acme' });
  });

  it('refuses too-deep, alias-heavy and too-costly operations with 400 before anything resolves', async () => {
    resolverCalls = 0;
    const cases = [
      { query: '{ tenant(id: "1") { partner { tenant { partner { id } } } } }', code: 'QUERY_TOO_DEEP', limit: 4, measured: 5 },
      { query: '{ a: tags b: tags c: tags }', code: 'TOO_MANY_ALIASES', limit: 2, measured: 3 },
      { query: 'query ($n: Int) { tenants(first: $n) { edges { node { id } } } }', variables: { n: 200 }, code: 'QUERY_TOO_COSTLY', limit: 500, measured: 601 },
    ];
    for (const { query, variables, code, limit, measured } of cases) {
      const { status, result } = await run(query, variables);
      assert.equal(status, 400, code);
      assert.equal(result?.data, undefined);
      assert.equal(result?.errors?.length, 1);
      assert.deepEqual(result?.errors?.[0]?.extensions, { code, limit, measured });
    }
    assert.equal(resolverCalls, 0);
    await server.stop();
  });
});
