// Bearer tokens through an identity provider outage: the gateway keeps verifying them with the last JWKS it fetched
// (within JWT_JWKS_MAX_STALE_SECONDS; past it, identity's own tests move the clock), refuses a kid it does not know as
// DEPENDENCY_UNAVAILABLE, and picks up a rotated set once the provider answers again. Real HTTP stand-ins throughout.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateSigningKeyPair, signDevToken, type KeyPairPem } from '@saldo/identity';
import { dependencyBreakers } from '@saldo/resilience';
import { restartableServer, waitUntil } from '@saldo/testing';
import type { GatewayService } from '../gateway.js';
import { startTestGateway, subgraphUrlsUnder } from '../test-gateway.js';

const PARTNERS = '{ partners(first: 2) { edges { node { id name } } } }';
const SERVED = { data: { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } } };

type Answer = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

const jwkOf = (keys: KeyPairPem, kid: string) => ({ ...createPublicKey(keys.publicKeyPem).export({ format: 'jwk' }), alg: 'EdDSA', use: 'sig', kid });

describe("the gateway's bearer tokens while the identity provider's JWKS cannot be fetched", () => {
  const first = generateSigningKeyPair();
  const rotated = generateSigningKeyPair();
  /** The identity provider's JWKS endpoint: what it publishes; stopped to take the provider down. */
  let published = [jwkOf(first, 'k1')];
  const identityProvider = restartableServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: published }));
  });
  /** Every subgraph, up throughout: only the identity provider fails here. */
  const subgraphs = restartableServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(SERVED));
    });
  });
  let gateway: GatewayService;
  let tokens = 0;

  /** A new token each time (a token verified once is remembered and would not need the keys again). */
  const tokenSignedWith = (keys: KeyPairPem, kid: string) =>
    signDevToken(keys.privateKeyPem, { role: 'platform-admin', subject: `operator-${++tokens}` }, { keyId: kid });
  async function send(token: string): Promise<{ status: number; body: Answer }> {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: PARTNERS }),
    });
    return { status: response.status, body: (await response.json()) as Answer };
  }
  const codes = (answer: Answer) => answer.errors?.map((error) => [error.extensions?.['code'], error.extensions?.['dependency']]);
  const breaker = () => dependencyBreakers.read().find((reading) => reading.dependency === 'jwks')?.state;
  async function staleSeconds(): Promise<number> {
    const line = /^saldo_jwks_stale_seconds\{[^}]*\} (\S+)$/m.exec(await gateway.metrics.text());
    assert.ok(line, 'saldo_jwks_stale_seconds is exposed');
    return Number(line[1]);
  }

  before(async () => {
    const jwksUrl = `${await identityProvider.start()}/jwks.json`;
    gateway = await startTestGateway({
      JWT_JWKS_URL: jwksUrl,
      // Older than 1 ms, the set is refetched before use: every verification below asks the provider first, as one
      // arriving 10 minutes (the default) after the last fetch would.
      JWT_JWKS_CACHE_MAX_AGE_MS: '1',
      JWKS_BREAKER_FAILURES: '2',
      JWKS_BREAKER_HALF_OPEN_MS: '300',
      SUBGRAPH_QUERY_DEDUP: 'false',
      ...subgraphUrlsUnder(await subgraphs.start()),
    });
  });

  after(async () => {
    await gateway?.stop();
    await identityProvider.stop();
    await subgraphs.stop();
  });

  it('serves tokens signed with a key of the last set fetched, answers an unknown kid DEPENDENCY_UNAVAILABLE, and picks up the rotated set once the provider is back', async () => {
    assert.deepEqual((await send(await tokenSignedWith(first, 'k1'))).body, SERVED);
    assert.equal(await staleSeconds(), 0);

    await identityProvider.stop();
    // Each refresh fails (refused, then the open circuit): the key fetched before still verifies, so users stay signed in.
    for (let i = 0; i < 3; i++) assert.deepEqual(await send(await tokenSignedWith(first, 'k1')), { status: 200, body: SERVED });
    assert.equal(breaker(), 'open');
    assert.ok((await staleSeconds()) > 0, 'the gauge shows the gateway is on a key set it cannot refresh');
    // A kid the last set lacks may be a key rotated in during the outage: retry later (503), never "bad credentials".
    const unknownKid = await send(await tokenSignedWith(rotated, 'k2'));
    assert.equal(unknownKid.status, 503);
    assert.deepEqual(codes(unknownKid.body), [['DEPENDENCY_UNAVAILABLE', 'jwks']]);

    // The provider comes back having rotated: k2 published, k1 removed.
    published = [jwkOf(rotated, 'k2')];
    await identityProvider.start();
    const served = await waitUntil(async () => {
      const answer = await send(await tokenSignedWith(rotated, 'k2'));
      return answer.status === 200 ? answer.body : null;
    }, 'the trial JWKS fetch to bring the rotated key');
    assert.deepEqual(served, SERVED);
    assert.equal(await staleSeconds(), 0);
    const removedKey = await send(await tokenSignedWith(first, 'k1'));
    assert.equal(removedKey.status, 401);
    assert.deepEqual(codes(removedKey.body), [['UNAUTHENTICATED', undefined]]);
  });
});
