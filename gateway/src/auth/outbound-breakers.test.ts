import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { generateApiKey, generateSigningKeyPair, signDevToken } from '@saldo/identity';
import { dependencyBreakers } from '@saldo/resilience';
import { restartableServer, waitUntil } from '@saldo/testing';
import type { GatewayService } from '../gateway.js';
import { startTestGateway, subgraphUrlsUnder } from '../test-gateway.js';

const PARTNERS = '{ partners(first: 2) { edges { node { id name } } } }';
const SERVED = { data: { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } } };
const CUSTOM_DOMAIN = 'pay.reseller.example';

type Answer = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

/**
 * What the gateway calls besides the query plan, on one server that can be stopped (connections refused) and started
 * again on the same port: the identity provider's JWKS, the tenants subgraph's API key check, white-label's custom-domain
 * list, and a subgraph answering every query.
 */
function standInDependencies(jwk: Record<string, unknown>) {
  const requests = new Map<string, number>();
  const server = restartableServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://stand-in').pathname;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    request.resume();
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      if (path === '/jwks') return response.end(JSON.stringify({ keys: [jwk] }));
      if (path === '/internal/api-keys/verify') return response.end(JSON.stringify({ partnerId: 'p-1' }));
      if (path === '/internal/custom-domains') return response.end(JSON.stringify({ hostnames: [{ hostname: CUSTOM_DOMAIN, partnerId: 'p-1' }] }));
      response.end(JSON.stringify(SERVED));
    });
  });
  return { requests: (path: string) => requests.get(path) ?? 0, start: () => server.start(), stop: () => server.stop() };
}

describe("the gateway's circuit breakers on the JWKS, API key verification and the custom-domain list", () => {
  const portal = generateSigningKeyPair();
  const jwk = { ...createPublicKey(portal.publicKeyPem).export({ format: 'jwk' }), alg: 'EdDSA', use: 'sig', kid: 'portal-1' };
  const dependencies = standInDependencies(jwk);
  const apiKey = generateApiKey().plaintext;
  let gateway: GatewayService;

  async function send(headers: Record<string, string>): Promise<Answer> {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: PARTNERS }),
    });
    return (await response.json()) as Answer;
  }
  /** node:http, since fetch does not let a caller set Host (a request arriving on a partner's custom domain). */
  async function sendOnHost(host: string, headers: Record<string, string>): Promise<Answer> {
    const body = JSON.stringify({ query: PARTNERS });
    return new Promise((resolve, reject) => {
      const sent = httpRequest(`${gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', host, ...headers } }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve(JSON.parse(text) as Answer));
      });
      sent.on('error', reject);
      sent.end(body);
    });
  }
  const withToken = async () => send({ authorization: `Bearer ${await signDevToken(portal.privateKeyPem, { role: 'platform-admin', subject: 'operator' })}` });
  const withKey = () => send({ 'x-api-key': apiKey });
  /** The whole HTTP answer: status and Retry-After besides the body. */
  async function httpAnswer(headers: Record<string, string>): Promise<{ status: number; retryAfter: string | null; body: Answer }> {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: PARTNERS }),
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Answer };
  }
  const tokenAnswer = (token: string) => httpAnswer({ authorization: `Bearer ${token}` });
  /** A graphql-ws connection with `token`: how the gateway closes it after connection_init. */
  function webSocketClose(token: string): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
      socket.addEventListener('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      socket.addEventListener('close', (event) => resolve({ code: event.code, reason: event.reason }));
      socket.addEventListener('error', () => undefined);
      setTimeout(() => reject(new Error('the gateway did not close the connection')), 10_000).unref();
    });
  }
  const validToken = () => signDevToken(portal.privateKeyPem, { role: 'platform-admin', subject: 'operator' });
  const reasons = (answer: Answer) =>
    answer.errors?.map((error) => [error.extensions?.['code'], error.extensions?.['dependency'], error.extensions?.['reason']]);
  const state = (dependency: string) => dependencyBreakers.read().find((reading) => reading.dependency === dependency)?.state;
  const codes = (answer: Answer) => answer.errors?.map((error) => [error.extensions?.['code'], error.extensions?.['dependency']]);

  before(async () => {
    const url = await dependencies.start();
    gateway = await startTestGateway({
      JWT_JWKS_URL: `${url}/jwks`,
      JWKS_BREAKER_FAILURES: '2',
      JWKS_BREAKER_HALF_OPEN_MS: '300',
      API_KEY_VERIFY_URL: `${url}/internal/api-keys/verify`,
      API_KEY_CACHE_TTL_MS: '0',
      API_KEY_BREAKER_FAILURES: '2',
      API_KEY_BREAKER_HALF_OPEN_MS: '300',
      CUSTOM_DOMAINS_URL: `${url}/internal/custom-domains`,
      CUSTOM_DOMAINS_REFRESH_MS: '1',
      CUSTOM_DOMAINS_BREAKER_FAILURES: '2',
      CUSTOM_DOMAINS_BREAKER_HALF_OPEN_MS: '300',
      SUBGRAPH_QUERY_DEDUP: 'false',
      SUBGRAPH_BREAKER_HALF_OPEN_MS: '300',
      ...subgraphUrlsUnder(url),
    });
  });

  after(async () => {
    await gateway?.stop();
    await dependencies.stop();
  });

  it('answers API-key requests DEPENDENCY_UNAVAILABLE at once while the key owner is down, and verifies keys again once it is back', async () => {
    assert.deepEqual(await withKey(), SERVED);
    assert.equal(state('api-keys'), 'closed');

    await dependencies.stop();
    // Each failed verification before the circuit opens is the same answer: the key may well be good.
    for (let i = 0; i < 2; i++) assert.deepEqual(codes(await withKey()), [['DEPENDENCY_UNAVAILABLE', 'api-keys']]);
    assert.equal(state('api-keys'), 'open');
    const refused = await httpAnswer({ 'x-api-key': apiKey });
    assert.equal(refused.status, 503);
    assert.deepEqual(codes(refused.body), [['DEPENDENCY_UNAVAILABLE', 'api-keys']]);

    await dependencies.start();
    const verified = dependencies.requests('/internal/api-keys/verify');
    assert.deepEqual(await waitUntil(async () => ((await withKey()).errors ? null : 'served'), 'the trial verification to close the circuit'), 'served');
    assert.equal(state('api-keys'), 'closed');
    assert.ok(dependencies.requests('/internal/api-keys/verify') > verified);
  });

  it('answers bearer tokens DEPENDENCY_UNAVAILABLE (503, never UNAUTHENTICATED) while the JWKS cannot be fetched, and verifies them once it can', async () => {
    // Nothing fetched the JWKS yet (API keys only so far): the first token needs it.
    await dependencies.stop();
    // Before the circuit opens each token costs a failed fetch: its keys cannot be had, so it cannot be checked. That is
    // the identity provider being down (503, retry), never bad credentials (401 would sign a good user out).
    for (let i = 0; i < 2; i++) {
      const failed = await tokenAnswer(await validToken());
      assert.equal(failed.status, 503);
      assert.deepEqual(reasons(failed.body), [['DEPENDENCY_UNAVAILABLE', 'jwks', 'failed']]);
    }
    assert.equal(state('jwks'), 'open');
    const refused = await tokenAnswer(await validToken());
    assert.equal(refused.status, 503);
    assert.deepEqual(reasons(refused.body), [['DEPENDENCY_UNAVAILABLE', 'jwks', 'circuit-open']]);
    assert.ok(Number(refused.retryAfter) >= 1, 'the open circuit says when to retry');
    // Subscriptions alike: SSE answers 503 with the code, and a WebSocket is closed 1013 Try Again Later (which
    // graphql-ws clients retry), not 4401 (which they take as final).
    const stream = await fetch(`${gateway.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${await validToken()}` },
      body: JSON.stringify({ query: 'subscription { __typename }' }),
    });
    assert.equal(stream.status, 503);
    assert.ok(Number(stream.headers.get('retry-after')) >= 1);
    assert.deepEqual(reasons((await stream.json()) as Answer), [['DEPENDENCY_UNAVAILABLE', 'jwks', 'circuit-open']]);
    assert.equal((await webSocketClose(await validToken())).code, 1013);
    // What is wrong whatever the keys say is still the caller's problem, decided without them.
    const garbage = await tokenAnswer('not.a.jwt');
    assert.equal(garbage.status, 401);
    assert.deepEqual(codes(garbage.body), [['UNAUTHENTICATED', undefined]]);

    await dependencies.start();
    assert.deepEqual(await waitUntil(async () => ((await withToken()).errors ? null : 'served'), 'the trial JWKS fetch to close the circuit'), 'served');
    assert.equal(state('jwks'), 'closed');
    assert.equal(dependencies.requests('/jwks'), 1, 'keys fetched once are reused');
    // With the keys at hand a token they do not verify is bad credentials again: 401, UNAUTHENTICATED.
    const forged = await tokenAnswer(await signDevToken(generateSigningKeyPair().privateKeyPem, { role: 'platform-admin', subject: 'operator' }));
    assert.equal(forged.status, 401);
    assert.deepEqual(codes(forged.body), [['UNAUTHENTICATED', undefined]]);
  });

  it('keeps serving custom-domain requests from the last list while white-label is down, its breaker opening and closing by itself', async () => {
    const onDomain = async () =>
      sendOnHost(CUSTOM_DOMAIN, { authorization: `Bearer ${await signDevToken(portal.privateKeyPem, { role: 'platform-admin', subject: 'operator' })}` });
    assert.deepEqual(await onDomain(), SERVED);
    await dependencies.stop();
    // The list is due for a refresh on every request (CUSTOM_DOMAINS_REFRESH_MS=1): each failed refresh counts.
    await waitUntil(async () => {
      await onDomain().catch(() => undefined);
      return state('custom-domains') === 'open' || null;
    }, 'the custom-domain breaker to open');
    await dependencies.start();
    await waitUntil(async () => {
      await onDomain();
      return state('custom-domains') === 'closed' || null;
    }, 'the trial refresh to close the custom-domain breaker');
    assert.deepEqual(await waitUntil(async () => ((await onDomain()).errors ? null : 'served'), 'the subgraph to serve again'), 'served');
  });
});
