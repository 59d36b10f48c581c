import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IDENTITY_HEADER, IdentitySigner } from '@saldo/identity';
import { TEST_ADMIN } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

/** A bad request as sent, and the status and code it must get back. */
interface BadRequest {
  title: string;
  path: string;
  init?: RequestInit;
  status: number;
  code: string;
}

const json = (body: string, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body,
});
/** 1 MB is every endpoint's default limit: this is just over it. */
const OVERSIZED = JSON.stringify({ query: '{ __typename }', padding: 'x'.repeat(1024 * 1024) });

/** Every bad HTTP request gets a GraphQL-shaped JSON error: a stable code, the right status, no HTML, stack or path. */
async function assertCleanError(base: string, request: BadRequest): Promise<void> {
  const response = await fetch(`${base}${request.path}`, request.init);
  const text = await response.text();
  const where = `${request.title}: ${response.status} ${text.slice(0, 300)}`;
  assert.equal(response.status, request.status, where);
  assert.match(response.headers.get('content-type') ?? '', /^application\/(graphql-response\+)?json/, where);
  const body = JSON.parse(text) as { errors?: Array<{ message?: unknown; extensions?: { code?: unknown } }>; data?: unknown };
  assert.equal(body.errors?.length, 1, where);
  assert.equal(body.errors[0]?.extensions?.code, request.code, where);
  assert.equal(typeof body.errors[0]?.message, 'string', where);
  assert.equal(body.data, undefined, where);
  assert.doesNotMatch(text, /<html|<pre|<!DOCTYPE/i, where);
  assert.doesNotMatch(text, /\bat [\w.<>]+ \(|node_modules|\/work\/|file:\/\/|\.js:\d+/, where);
}

describe('bad HTTP requests get clean JSON errors', () => {
  let stack: TestStack;
  let identity: Record<string, string>;

  before(async () => {
    stack = await startTestStack('badhttp', { shardsPerSubgraph: 1 });
    identity = { [IDENTITY_HEADER]: await (await IdentitySigner.fromPem(stack.keys.identity.privateKeyPem, 30)).sign(TEST_ADMIN) };
  });

  after(async () => {
    await stack?.destroy();
  });

  it('at the gateway: malformed JSON, wrong content type, oversized body, unknown paths', async () => {
    const base = stack.gateway.url;
    const cases: BadRequest[] = [
      { title: 'malformed JSON', path: '/graphql', init: json('{"query": "{ __typename }"'), status: 400, code: 'BAD_REQUEST' },
      { title: 'a JSON string instead of an object', path: '/graphql', init: json('"{ __typename }"'), status: 400, code: 'BAD_REQUEST' },
      {
        title: 'text/plain',
        path: '/graphql',
        init: { method: 'POST', headers: { 'content-type': 'text/plain', 'apollo-require-preflight': 'true' }, body: '{"query":"{ __typename }"}' },
        status: 400,
        code: 'BAD_REQUEST',
      },
      {
        title: 'a form post (CSRF-prone content type)',
        path: '/graphql',
        init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=x' },
        status: 400,
        code: 'BAD_REQUEST',
      },
      { title: 'a body over the limit', path: '/graphql', init: json(OVERSIZED), status: 413, code: 'PAYLOAD_TOO_LARGE' },
      { title: 'malformed JSON on the SSE endpoint', path: '/graphql/stream', init: json('{"query": '), status: 400, code: 'BAD_REQUEST' },
      { title: 'a body over the limit on the SSE endpoint', path: '/graphql/stream', init: json(OVERSIZED), status: 413, code: 'PAYLOAD_TOO_LARGE' },
      { title: 'an unknown GET path', path: '/admin/../etc/passwd', status: 404, code: 'NOT_FOUND' },
      { title: 'an unknown POST path', path: '/graphq', init: json('{"query":"{ __typename }"}'), status: 404, code: 'NOT_FOUND' },
      { title: 'a download path that does not decode', path: '/documents/%E0%A4%A', status: 400, code: 'BAD_REQUEST' },
    ];
    for (const request of cases) await assertCleanError(base, request);
    // and the gateway still answers a good request
    const good = await stack.gql('{ __typename }');
    assert.deepEqual(good.data, { __typename: 'Query' });
  });

  it("at every subgraph: the same, behind the gateway's identity and without it", async () => {
    const subgraphs = { tenants: stack.tenants.url, billing: stack.billing.url, usageForecast: stack.usageForecast.url, whiteLabel: stack.whiteLabel.url };
    for (const [name, base] of Object.entries(subgraphs)) {
      const cases: BadRequest[] = [
        { title: `${name}: malformed JSON`, path: '/graphql', init: json('{"query": ', identity), status: 400, code: 'BAD_REQUEST' },
        {
          title: `${name}: text/plain`,
          path: '/graphql',
          init: {
            method: 'POST',
            headers: { 'content-type': 'text/plain', 'apollo-require-preflight': 'true', ...identity },
            body: '{"query":"{ __typename }"}',
          },
          status: 400,
          code: 'BAD_REQUEST',
        },
        { title: `${name}: a body over the limit`, path: '/graphql', init: json(OVERSIZED, identity), status: 413, code: 'PAYLOAD_TOO_LARGE' },
        { title: `${name}: no identity`, path: '/graphql', init: json('{"query": '), status: 401, code: 'UNAUTHENTICATED' },
        { title: `${name}: an unknown path`, path: '/graphql/../internal/nothing', status: 404, code: 'NOT_FOUND' },
        { title: `${name}: an unknown POST path`, path: '/nothing', init: json('{}'), status: 404, code: 'NOT_FOUND' },
      ];
      for (const request of cases) await assertCleanError(base, request);
    }
    await assertCleanError(stack.tenants.url, {
      title: 'tenants: internal API key check with malformed JSON',
      path: '/internal/api-keys/verify',
      init: json('{"keyId": ', identity),
      status: 400,
      code: 'BAD_REQUEST',
    });
    await assertCleanError(stack.tenants.url, {
      title: 'tenants: internal API key check without identity',
      path: '/internal/api-keys/verify',
      init: json('{}'),
      status: 401,
      code: 'UNAUTHENTICATED',
    });
  });

  it("at billing's Stripe webhook: oversized, malformed and unsigned bodies", async () => {
    const base = stack.billing.url;
    const cases: BadRequest[] = [
      {
        title: 'webhook: a body over the limit',
        path: '/webhooks/stripe',
        init: json(OVERSIZED, { 'stripe-signature': 't=1,v1=00' }),
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      },
      {
        title: 'webhook: malformed JSON',
        path: '/webhooks/stripe',
        init: json('{"id": ', { 'stripe-signature': 't=1,v1=00' }),
        status: 400,
        code: 'INVALID_SIGNATURE',
      },
      {
        title: 'webhook: no signature',
        path: '/webhooks/stripe',
        init: json('{"id":"evt_1","type":"payment_intent.succeeded"}'),
        status: 400,
        code: 'INVALID_SIGNATURE',
      },
      { title: 'webhook: GET', path: '/webhooks/stripe', status: 404, code: 'NOT_FOUND' },
    ];
    for (const request of cases) await assertCleanError(base, request);
  });
});
