import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, generateSigningKeyPair, signDevToken } from '@saldo/identity';
import { waitUntil } from '@saldo/testing';
import type { GatewayService } from '../gateway.js';
import { startTestGateway } from '../test-gateway.js';
import { isQueryBody } from './query-dedup.js';

/** What reached the stand-in subgraph: the body and the forwarded identity (a signed token) of each request. */
interface Received {
  body: { query: string; variables?: Record<string, unknown> };
  identity: string | undefined;
}

/**
 * A subgraph stand-in (every subgraph of the supergraph routed to it) that holds every answer until released, so
 * the test decides when requests overlap, and answers from the query it got.
 */
function startHeldSubgraph() {
  const received: Received[] = [];
  const held: Array<() => void> = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const body = JSON.parse(text) as Received['body'];
      received.push({ body, identity: request.headers[IDENTITY_HEADER] as string | undefined });
      const data = body.query.includes('createTenant')
        ? { createTenant: { id: `t-${received.length}` } }
        : { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } };
      held.push(() => {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ data }));
      });
    });
  });
  return {
    received,
    get held() {
      return held.length;
    },
    release() {
      for (const answer of held.splice(0)) answer();
    },
    async listen(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const PARTNERS = '{ partners(first: 2) { edges { node { id name } } } }';
const CREATE = 'mutation { createTenant(input: { name: "Acme", currency: "EUR", country: "DE" }) { id } }';
const admin = (subject: string): Identity => ({ role: 'platform-admin', subject });

describe('in-flight deduplication of subgraph queries', () => {
  const portal = generateSigningKeyPair();
  const subgraph = startHeldSubgraph();
  const gateways: GatewayService[] = [];
  let subgraphUrl: string;

  async function startGateway(env: Record<string, string> = {}): Promise<GatewayService> {
    const gateway = await startTestGateway({
      JWT_PUBLIC_KEYS: portal.publicKeyPem,
      SUBGRAPH_URL_TENANTS: subgraphUrl,
      SUBGRAPH_URL_BILLING: subgraphUrl,
      SUBGRAPH_URL_USAGE_FORECAST: subgraphUrl,
      SUBGRAPH_URL_WHITE_LABEL: subgraphUrl,
      ...env,
    });
    gateways.push(gateway);
    return gateway;
  }

  async function send(gateway: GatewayService, query: string, identity: Identity): Promise<unknown> {
    const token = await signDevToken(portal.privateKeyPem, identity);
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return response.json();
  }

  /** Fetches of `gateway` to the tenants subgraph that went upstream and that shared one in flight. */
  const counts = (gateway: GatewayService) => gateway.subgraphFetchMetrics()['tenants'] ?? { upstream: 0, shared: 0, inFlight: 0 };

  before(async () => {
    subgraphUrl = await subgraph.listen();
  });

  after(async () => {
    subgraph.release();
    for (const gateway of gateways) await gateway.stop();
    await subgraph.close();
  });

  it('sends N identical concurrent queries of one caller upstream once; each gets the whole answer', async () => {
    const gateway = await startGateway();
    subgraph.received.length = 0;
    // Ten separately signed tokens of one identity: the same scope, whatever the token.
    const answers = Array.from({ length: 10 }, () => send(gateway, PARTNERS, admin('ops-1')));
    // every query reached the subgraph fetch, and each upstream request reached the subgraph
    const arrived = () => counts(gateway).upstream + counts(gateway).shared === 10 && subgraph.held === counts(gateway).upstream;
    await waitUntil(arrived, 'all ten queries at the subgraph fetch');
    assert.equal(subgraph.received.length, 1, 'one upstream request while they are in flight');
    assert.deepEqual(counts(gateway), { upstream: 1, shared: 9, inFlight: 1 });
    subgraph.release();
    for (const answer of await Promise.all(answers)) {
      assert.deepEqual(answer, { data: { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } } });
    }
    assert.equal(counts(gateway).inFlight, 0);

    // Nothing is cached: once answered, the same query asks the subgraph again.
    const again = send(gateway, PARTNERS, admin('ops-1'));
    await waitUntil(() => subgraph.held === 1, 'the next query upstream');
    subgraph.release();
    await again;
    assert.equal(subgraph.received.length, 2);
  });

  it('never shares between different forwarded identities', async () => {
    const gateway = await startGateway();
    subgraph.received.length = 0;
    const callers: Identity[] = [
      admin('ops-1'),
      admin('ops-2'),
      { role: 'partner', subject: 'key-1', partnerId: '0193d3a4-7f0e-7000-8000-000000000001' },
      { role: 'partner', subject: 'key-1', partnerId: '0193d3a4-7f0e-7000-8000-000000000002' },
    ];
    const answers = callers.flatMap((caller) => [send(gateway, PARTNERS, caller), send(gateway, PARTNERS, caller)]);
    const arrived = () => counts(gateway).upstream + counts(gateway).shared === callers.length * 2 && subgraph.held === counts(gateway).upstream;
    await waitUntil(arrived, 'every query at the subgraph fetch');
    assert.equal(subgraph.received.length, callers.length, 'one upstream request per identity');
    assert.equal(new Set(subgraph.received.map((request) => request.identity)).size, callers.length, 'each with its own identity');
    subgraph.release();
    await Promise.all(answers);
  });

  it('never shares mutations', async () => {
    const gateway = await startGateway();
    subgraph.received.length = 0;
    const answers = Array.from({ length: 5 }, () => send(gateway, CREATE, admin('ops-1')));
    await waitUntil(() => subgraph.held === 5, 'five mutations upstream');
    assert.deepEqual(counts(gateway), { upstream: 5, shared: 0, inFlight: 0 });
    subgraph.release();
    const ids = (await Promise.all(answers)).map((answer) => (answer as { data: { createTenant: { id: string } } }).data.createTenant.id);
    assert.equal(new Set(ids).size, 5, 'each mutation got its own answer');
  });

  it('is configurable: with SUBGRAPH_QUERY_DEDUP=false every query goes upstream', async () => {
    const gateway = await startGateway({ SUBGRAPH_QUERY_DEDUP: 'false' });
    subgraph.received.length = 0;
    const answers = Array.from({ length: 4 }, () => send(gateway, PARTNERS, admin('ops-1')));
    await waitUntil(() => subgraph.held === 4, 'four queries upstream');
    assert.deepEqual(counts(gateway), { upstream: 4, shared: 0, inFlight: 0 });
    subgraph.release();
    await Promise.all(answers);
  });

  it('recognises query bodies as the planner writes them, and nothing else', () => {
    assert.equal(isQueryBody(JSON.stringify({ query: 'query Q__tenants__0{partners{edges{node{id}}}}', variables: {} })), true);
    assert.equal(isQueryBody(JSON.stringify({ query: '{partners{edges{node{id}}}}' })), true);
    assert.equal(isQueryBody(JSON.stringify({ query: 'query($representations:[_Any!]!){_entities(representations:$representations){__typename}}' })), true);
    assert.equal(isQueryBody(JSON.stringify({ query: 'mutation M__tenants__0{createTenant{id}}' })), false);
    assert.equal(isQueryBody(JSON.stringify({ query: 'queryX' })), false);
    assert.equal(isQueryBody(JSON.stringify({ query: 'subscription{x}' })), false);
    assert.equal(isQueryBody(JSON.stringify({ query: 'fragment F on T{id} query{x{...F}}' })), false);
    assert.equal(isQueryBody(JSON.stringify({ extensions: { persistedQuery: { sha256Hash: 'x' } } })), false);
  });
});
