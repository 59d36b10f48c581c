import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import { generateSigningKeyPair, signDevToken } from '@saldo/identity';
import { dependencyBreakers } from '@saldo/resilience';
import { restartableServer, waitUntil } from '@saldo/testing';
import type { GatewayService } from '../gateway.js';
import { startTestGateway, subgraphUrlsUnder } from '../test-gateway.js';

const PARTNERS = '{ partners(first: 2) { edges { node { id name } } } }';
const admin: Identity = { role: 'platform-admin', subject: 'operator' };

/** A tenants subgraph stand-in that can be stopped (connections refused) and started again on the same port. */
function standInSubgraph() {
  return restartableServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ data: { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } } }));
    });
  });
}

describe("the gateway's circuit breaker per subgraph", () => {
  const portal = generateSigningKeyPair();
  const subgraph = standInSubgraph();
  let gateway: GatewayService;

  async function send(query: string): Promise<{ data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }> {
    const token = await signDevToken(portal.privateKeyPem, admin);
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  }

  const tenantsBreaker = () => dependencyBreakers.read().find((reading) => reading.dependency === 'subgraph:tenants')?.state;

  before(async () => {
    const url = await subgraph.start();
    gateway = await startTestGateway({
      JWT_PUBLIC_KEYS: portal.publicKeyPem,
      SUBGRAPH_QUERY_DEDUP: 'false',
      SUBGRAPH_BREAKER_FAILURES: '2',
      SUBGRAPH_BREAKER_HALF_OPEN_MS: '300',
      ...subgraphUrlsUnder(url),
    });
  });

  after(async () => {
    await gateway?.stop();
    await subgraph.stop();
  });

  it('answers DEPENDENCY_UNAVAILABLE at once while a stopped subgraph keeps failing, and serves again once it is back', async () => {
    assert.deepEqual(await send(PARTNERS), { data: { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } } });
    assert.equal(tenantsBreaker(), 'closed');

    await subgraph.stop();
    for (let i = 0; i < 2; i++) {
      const failed = await send(PARTNERS);
      assert.ok(failed.errors?.length, 'the unreachable subgraph is an error');
    }
    assert.equal(tenantsBreaker(), 'open');
    const refused = await send(PARTNERS);
    assert.deepEqual(
      refused.errors?.map((error) => [error.extensions?.['code'], error.extensions?.['dependency'], error.extensions?.['reason']]),
      [['DEPENDENCY_UNAVAILABLE', 'subgraph:tenants', 'circuit-open']],
    );
    assert.equal(refused.data ?? null, null);

    await subgraph.start();
    const requestsBefore = subgraph.requests;
    const served = await waitUntil(async () => {
      const response = await send(PARTNERS);
      return response.errors ? null : response;
    }, 'the trial request after the open period to close the circuit');
    assert.deepEqual(served, { data: { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } } });
    assert.equal(tenantsBreaker(), 'closed');
    assert.equal(subgraph.requests, requestsBefore + 1, 'while open nothing reached the subgraph; the trial request did');
  });
});
