import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApolloServer } from '@apollo/server';
import { buildSchema, getIntrospectionQuery, parse } from 'graphql';
import { costDirectivesFromSdl } from './cost-directives.js';
import { analyzeOperation, checkLimits, createLimitsPlugin, type OperationMetrics } from './limits.js';

const typeDefs = /* GraphQL */ `
  directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
  directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT
  type Query {
    tenant(id: ID!): Tenant
    tenants(first: Int, last: Int, after: String): TenantConnection!
    tags: [String!]!
    recent(limit: Int): [Invoice!]!
    byIds(ids: [ID!]!): [Invoice!]!
  }
  type Mutation {
    recordUsage(tenantId: ID!, events: [UsageInput!]!): UsageResult!
  }
  input UsageInput {
    id: ID!
    minutes: Int!
  }
  type UsageResult {
    accepted: Int!
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
    daily(days: Int = 30): [Usage!]! @listSize(slicingArguments: ["days"], requireOneSlicingArgument: false)
    contacts: [Partner!]! @listSize(assumedSize: 3)
    forecast(days: Int = 7): Forecast! @listSize(slicingArguments: ["days"], sizedFields: ["days"], requireOneSlicingArgument: false)
    report: Invoice @cost(weight: 25)
    invoices(first: Int): InvoiceConnection!
    partner: Partner
  }
  type Forecast {
    days: [Usage!]!
    model: Invoice
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
const directives = costDirectivesFromSdl(typeDefs);

function measure(query: string, variables: Record<string, unknown> = {}, operationName?: string): OperationMetrics {
  return analyzeOperation(schema, parse(query), { variables, operationName: operationName ?? null, directives });
}

describe('operation analyzer', () => {
  it('costs objects 1 each and scalars nothing', () => {
    assert.deepEqual(measure('{ tenant(id: "1") { id name } }'), { depth: 2, aliases: 0, mutations: 0, cost: 1 });
    assert.deepEqual(measure('{ tenant(id: "1") { id partner { id } } }'), { depth: 3, aliases: 0, mutations: 0, cost: 2 });
    assert.deepEqual(measure('{ __typename }'), { depth: 1, aliases: 0, mutations: 0, cost: 0 });
  });

  it('sizes connections by `first` on their edges; the connection and its pageInfo count once', () => {
    const query = '{ tenants(first: 10) { edges { node { id invoices(first: 5) { edges { node { id } } } } } pageInfo { hasNextPage } } }';
    // tenants 1, pageInfo 1; edges 10, node 10, invoices 10 (one connection per tenant); invoices' edges 50, node 50.
    assert.deepEqual(measure(query), { depth: 7, aliases: 0, mutations: 0, cost: 1 + 1 + 10 + 10 + 10 + 50 + 50 });
  });

  it('assumes 20 for a connection and 10 for a plain list without a size', () => {
    assert.equal(measure('{ tenants { edges { node { id } } } }').cost, 1 + 20 + 20);
    assert.equal(measure('{ tenant(id: "1") { usage { day minutes } } }').cost, 1 + 10);
    assert.equal(analyzeOperation(schema, parse('{ tenant(id: "1") { usage { day } } }'), { defaultListSize: 3 }).cost, 1 + 3);
    assert.equal(measure('{ tags }').cost, 0, 'a list of scalars is free');
  });

  it('takes the size from first, last or limit: literals, variables, their defaults, and falls back when absent', () => {
    const query = 'query Page($n: Int) { tenants(first: $n) { edges { node { id } } } }';
    assert.equal(measure(query, { n: 50 }).cost, 1 + 2 * 50);
    assert.equal(measure(query, {}).cost, 1 + 2 * 20);
    assert.equal(measure(query, { n: null }).cost, 1 + 2 * 20);
    assert.equal(measure('query Page($n: Int = 7) { tenants(first: $n) { edges { node { id } } } }').cost, 1 + 2 * 7);
    assert.equal(measure('{ tenants(first: 0) { edges { node { id } } } }').cost, 1);
    assert.equal(measure('{ tenants(first: -5) { edges { node { id } } } }').cost, 1);
    assert.equal(measure('{ tenants(last: 30) { edges { node { id } } } }').cost, 1 + 2 * 30);
    assert.equal(measure('{ recent(limit: 40) { id } }').cost, 40);
  });

  it('honours @listSize: slicing arguments (with their defaults), assumed sizes and sized fields', () => {
    // usage(days: Int = 30) @listSize(slicingArguments: ["days"])
    assert.equal(measure('{ tenant(id: "1") { daily(days: 366) { day } } }').cost, 1 + 366);
    assert.equal(measure('{ tenant(id: "1") { daily { day } } }').cost, 1 + 30);
    assert.equal(measure('query ($d: Int) { tenant(id: "1") { daily(days: $d) { day } } }', { d: 90 }).cost, 1 + 90);
    // contacts @listSize(assumedSize: 3)
    assert.equal(measure('{ tenant(id: "1") { contacts { id } } }').cost, 1 + 3);
    // forecast(days: Int = 7) @listSize(slicingArguments: ["days"], sizedFields: ["days"])
    assert.equal(measure('{ tenant(id: "1") { forecast(days: 60) { model { id } days { day } } } }').cost, 1 + 1 + 1 + 60);
    assert.equal(measure('{ tenant(id: "1") { forecast { days { day } } } }').cost, 1 + 1 + 7);
    // @cost(weight) replaces the default weight of the field
    assert.equal(measure('{ tenant(id: "1") { report { id } } }').cost, 1 + 25);
  });

  it('costs mutations 10 plus their input: every input object and list element counts', () => {
    const record = 'mutation ($events: [UsageInput!]!) { recordUsage(tenantId: "1", events: $events) { accepted } }';
    const events = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `e-${i}`, minutes: 1 }));
    assert.deepEqual(measure(record, { events: events(1) }), { depth: 2, aliases: 0, mutations: 1, cost: 10 + 1 + 1 });
    assert.deepEqual(measure(record, { events: events(1000) }), { depth: 2, aliases: 0, mutations: 1, cost: 10 + 1000 + 1 });
    // literals count the same as variables
    assert.equal(measure('mutation { recordUsage(tenantId: "1", events: [{ id: "a", minutes: 1 }, { id: "b", minutes: 2 }]) { accepted } }').cost, 10 + 2 + 1);
    // aliases run the mutation again: each counts
    const aliased = `mutation ($events: [UsageInput!]!) { ${Array.from({ length: 30 }, (_, i) => `m${i}: recordUsage(tenantId: "1", events: $events) { accepted }`).join(' ')} }`;
    assert.deepEqual(measure(aliased, { events: events(1000) }), { depth: 2, aliases: 30, mutations: 30, cost: 30 * (10 + 1000 + 1) });
    // input counts on queries too (a long id list is work)
    assert.equal(measure('query ($ids: [ID!]!) { byIds(ids: $ids) { id } }', { ids: Array.from({ length: 500 }, (_, i) => String(i)) }).cost, 500 + 10);
  });

  it('expands fragments: aliases and costs count wherever a fragment is spread', () => {
    const query = `
      query { a: tenant(id: "1") { ...T } b: tenant(id: "2") { ...T } }
      fragment T on Tenant { id x: name invoices(first: 3) { edges { node { id } } } }`;
    // per spread: the tenant 1, invoices 1, edges 3, node 3.
    assert.deepEqual(measure(query), { depth: 5, aliases: 4, mutations: 0, cost: 2 * (1 + 1 + 3 + 3) });
    // a fragment on a connection is sized by where it is spread
    const page = 'query { a: tenants(first: 5) { ...Page } b: tenants(first: 50) { ...Page } } fragment Page on TenantConnection { edges { node { id } } }';
    assert.equal(measure(page).cost, 1 + 2 * 5 + 1 + 2 * 50);
  });

  it('handles inline fragments and honours @skip / @include with variables', () => {
    const query = 'query ($skip: Boolean!) { tenant(id: "1") { ... on Tenant { id } partner @skip(if: $skip) { id } p2: partner @include(if: false) { id } } }';
    assert.deepEqual(measure(query, { skip: true }), { depth: 2, aliases: 0, mutations: 0, cost: 1 });
    assert.deepEqual(measure(query, { skip: false }), { depth: 3, aliases: 0, mutations: 0, cost: 2 });
  });

  it('counts nesting through recursive object types', () => {
    assert.equal(measure('{ tenant(id: "1") { partner { tenant { partner { tenant { id } } } } } }').depth, 6);
  });

  it('measures the named operation of a multi-operation document', () => {
    const document = 'query Small { tags } query Big { tenants(first: 100) { edges { node { id } } } }';
    assert.equal(measure(document, {}, 'Small').cost, 0);
    assert.equal(measure(document, {}, 'Big').cost, 201);
    assert.deepEqual(measure(document, {}, 'Missing'), { depth: 0, aliases: 0, mutations: 0, cost: 0 });
  });

  it('includes introspection in depth; introspection lists do not multiply cost', () => {
    const metrics = measure(getIntrospectionQuery());
    assert.equal(metrics.depth, 15);
    assert.equal(metrics.aliases, 0);
    // one per selected object field of the expanded standard query: a schema-independent constant
    assert.equal(metrics.cost, 71);
    // what Sandbox and codegen send fits the recommended defaults, but not a depth limit of 12
    assert.equal(checkLimits(metrics, { maxDepth: 15, maxAliases: 30, maxCost: 10_000 }), undefined);
    assert.equal(checkLimits(metrics, { maxDepth: 12, maxAliases: 30, maxCost: 10_000 })?.extensions['code'], 'QUERY_TOO_DEEP');
    assert.equal(measure('{ __schema { types { fields { name } } } }').cost, 3);
    assert.equal(measure('{ __type(name: "Tenant") { name } }').cost, 1);
  });

  it('measures fragment bombs quickly instead of expanding them', () => {
    const levels = 60;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === 0 ? 'fragment F0 on Tenant { x: partner { id } }' : `fragment F${i} on Tenant { ...F${i - 1} ...F${i - 1} }`,
    );
    const started = performance.now();
    const metrics = measure(`{ tenant(id: "1") { ...F${levels - 1} } } ${fragments.join(' ')}`);
    assert.ok(performance.now() - started < 200);
    assert.equal(metrics.depth, 3);
    assert.equal(metrics.aliases, 2 ** (levels - 1));
    assert.equal(metrics.cost, Number.MAX_SAFE_INTEGER);
  });
});

/**
 * Ordinary queries of a schema without any @listSize (a products/reviews/users federation, as Federation gateway
 * compliance suites use) pass the default limits; the abuse cases do not.
 */
describe('default limits on a schema without @listSize', () => {
  const plain = buildSchema(/* GraphQL */ `
    type Query {
      products: [Product!]!
      users: [User!]!
      user(id: ID!): User
      topProducts(first: Int = 5): [Product!]!
    }
    type Product {
      upc: String!
      name: String
      price: Int
      reviews: [Review!]!
      inStock: Boolean
      shippingEstimate: Int
    }
    type Review {
      id: ID!
      body: String!
      author: User
      product: Product
    }
    type User {
      id: ID!
      name: String
      username: String
      reviews: [Review!]!
    }
  `);
  const defaults = { maxDepth: 15, maxAliases: 30, maxCost: 10_000 };
  const cost = (query: string) => analyzeOperation(plain, parse(query)).cost;

  it('admits nested plain lists several levels deep', () => {
    const ordinary = [
      '{ products { upc name price reviews { id body author { id name username reviews { id body product { upc name price } } } } } }',
      '{ users { id name reviews { id body product { upc name price inStock shippingEstimate reviews { id body author { id name } } } } } }',
      '{ topProducts(first: 10) { upc name reviews { id body author { id username reviews { id product { upc } } } } } }',
    ];
    for (const query of ordinary) {
      const measured = analyzeOperation(plain, parse(query));
      assert.equal(checkLimits(measured, defaults), undefined, `${query}: ${measured.cost}`);
    }
    // products 10 + reviews 100 + author 100 + reviews 1,000 + product 1,000
    assert.equal(cost(ordinary[0]!), 10 + 100 + 100 + 1_000 + 1_000);
  });

  it('still refuses list nesting that multiplies into the tens of thousands', () => {
    const abusive = '{ users { reviews { product { reviews { author { reviews { product { name } } } } } } } }';
    assert.equal(checkLimits(analyzeOperation(plain, parse(abusive)), defaults)?.extensions['code'], 'QUERY_TOO_COSTLY');
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
          return {
            id: '1',
            name: 'Acme',
            usage: [
              { day: 'd1', minutes: 1 },
              { day: 'd2', minutes: 2 },
            ],
            partner: null,
            invoices: { edges: [{ node: { id: 'i1' } }] },
          };
        },
        tenants: () => {
          resolverCalls += 1;
          return { edges: [{ node: { id: 't1' } }, { node: { id: 't2' } }], pageInfo: { hasNextPage: false } };
        },
        tags: () => {
          resolverCalls += 1;
          return [];
        },
      },
      Mutation: {
        recordUsage: (_: unknown, args: { events: unknown[] }) => {
          resolverCalls += 1;
          return { accepted: args.events.length };
        },
      },
    },
    includeStacktraceInErrorResponses: false,
    plugins: [createLimitsPlugin({ maxDepth: 4, maxAliases: 2, maxCost: 500, maxMutations: 2 }, { directives: () => costDirectivesFromSdl(typeDefs) })],
  });

  async function run(query: string, variables: Record<string, unknown> = {}, extensions?: Record<string, unknown>) {
    const response = await server.executeOperation({ query, variables, ...(extensions ? { extensions } : {}) });
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
      { query: 'query ($n: Int) { tenants(first: $n) { edges { node { id } } } }', variables: { n: 300 }, code: 'QUERY_TOO_COSTLY', limit: 500, measured: 601 },
      {
        query:
          'mutation { recordUsage(tenantId: "1", events: []) { accepted } a: recordUsage(tenantId: "1", events: []) { accepted } b: recordUsage(tenantId: "1", events: []) { accepted } }',
        code: 'TOO_MANY_MUTATIONS',
        limit: 2,
        measured: 3,
      },
      {
        query: 'mutation ($e: [UsageInput!]!) { recordUsage(tenantId: "1", events: $e) { accepted } }',
        variables: { e: Array.from({ length: 490 }, (_, i) => ({ id: String(i), minutes: 1 })) },
        code: 'QUERY_TOO_COSTLY',
        limit: 500,
        measured: 10 + 490 + 1,
      },
    ];
    for (const { query, variables, code, limit, measured } of cases) {
      const { status, result } = await run(query, variables);
      assert.equal(status, 400, code);
      assert.equal(result?.data, undefined);
      assert.equal(result?.errors?.length, 1);
      assert.deepEqual(result?.errors?.[0]?.extensions, { code, limit, measured });
    }
    assert.equal(resolverCalls, 0);
  });

  it('reports the estimated and the actual cost in extensions when the request asks for them', async () => {
    const query = '{ tenants(first: 5) { edges { node { id } } } }';
    const asked = await run(query, {}, { cost: true });
    assert.equal(asked.result?.errors, undefined);
    // estimated: the connection 1 + edges 5 + nodes 5; actual: the connection 1 + the 2 edges and 2 nodes that came back
    assert.deepEqual(asked.result?.extensions, { cost: { estimated: 11, actual: 5, limit: 500 } });
    // a plain list: 10 assumed, 2 returned
    const usage = await run('{ tenant(id: "1") { id usage { day } } }', {}, { cost: true });
    assert.deepEqual(usage.result?.extensions, { cost: { estimated: 11, actual: 3, limit: 500 } });
    const mutation = await run('mutation { recordUsage(tenantId: "1", events: [{ id: "a", minutes: 1 }]) { accepted } }', {}, { cost: true });
    assert.deepEqual(mutation.result?.extensions, { cost: { estimated: 12, actual: 12, limit: 500 } });
    const unasked = await run(query);
    assert.equal(unasked.result?.extensions, undefined);
    await server.stop();
  });
});
