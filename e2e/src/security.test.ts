import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { Identity } from '@saldo/graphql';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { errorCodes, graphql, waitUntil } from '@saldo/testing';
import { Collector, sseTestClient, wsTestClient } from './subscription-clients.js';
import { startTestStack, type TestStack } from './test-stack.js';

/**
 * The attacks of docs/security.md, each reproduced through the gateway (and directly against the subgraphs where it
 * applies), each asserting the refusal and that nothing changed. A new capability adds its attacks here and there.
 */

const BALANCE = /* GraphQL */ `subscription($t: ID!) { balanceChanged(tenantId: $t) { tenantId balance { version } } }`;
const CREATE_KEY = /* GraphQL */ `mutation($p: ID!) { createApiKey(partnerId: $p, name: "attacker") { secret } }`;

/** A hand-rolled graphql-transport-ws connection: a test sends exactly the messages an attacker would. */
class RawSocket {
  readonly socket: WebSocket;
  readonly messages: Array<{ id?: string; type: string; payload?: any }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly arrived = new Collector();

  constructor(url: string) {
    this.socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    this.socket.on('message', (raw: Buffer) => {
      const message = JSON.parse(raw.toString('utf8')) as { type: string };
      if (message.type === 'ping') this.socket.send(JSON.stringify({ type: 'pong' }));
      this.messages.push(message);
      this.arrived.push({});
    });
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.closed.then(() => this.arrived.complete(), () => undefined);
  }

  async open(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN) return;
    await new Promise<void>((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
  }

  async init(payload: Record<string, unknown>): Promise<void> {
    await this.open();
    this.send({ type: 'connection_init', payload });
    await this.arrived.until(() => this.messages.some((message) => message.type === 'connection_ack') || this.arrived.completed, 'connection_ack');
  }

  send(message: unknown): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Sends an operation and resolves with its first answer (next or error), or null when the socket closed first. */
  async operation(id: string, query: string, variables: Record<string, unknown> = {}): Promise<{ type: string; payload?: any } | null> {
    this.send({ id, type: 'subscribe', payload: { query, variables } });
    const answer = () => this.messages.find((message) => message.id === id && (message.type === 'next' || message.type === 'error'));
    await this.arrived.until(() => Boolean(answer()) || this.arrived.completed, `an answer to ${id}`);
    return answer() ?? null;
  }

  close(): void {
    this.socket.close();
  }
}

const payloadCodes = (answer: { type: string; payload?: any } | null): unknown[] =>
  answer === null ? ['CLOSED'] : answer.type === 'error' ? (answer.payload ?? []).map((error: any) => error.extensions?.code) : (answer.payload?.errors ?? []).map((error: any) => error.extensions?.code);

describe('security: the attacks of docs/security.md', () => {
  let stack: TestStack;
  let partnerId: string;
  let tenantId: string;
  let partnerUser: Identity;
  const closers: Array<() => unknown> = [];

  before(async () => {
    stack = await startTestStack('security', { apiKeyCacheTtlMs: 500 });
    partnerId = (await stack.tenants.services.partners.create({ name: 'Security partner', country: 'DE' })).id;
    tenantId = (await stack.tenants.services.tenants.create({ name: 'Security tenant', currency: 'EUR', country: 'DE', partnerId })).id;
    await stack.flushEvents();
    await stack.billing.services.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 100_000n, idempotencyKey: `seed:${tenantId}` }] });
    await stack.flushEvents();
    partnerUser = { role: 'partner', subject: 'security-partner-user', partnerId };
  });

  after(async () => {
    for (const close of closers) await close();
    await stack?.destroy();
  });

  const issueKey = async (): Promise<{ secret: string; id: string }> => {
    const result = await stack.gql(`mutation($p: ID!) { createApiKey(partnerId: $p, name: "integration") { secret apiKey { id } } }`, { p: partnerId }, partnerUser);
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return { secret: result.data?.createApiKey.secret, id: result.data?.createApiKey.apiKey.id };
  };
  const keyCount = async (): Promise<number> =>
    (await stack.gql(`query($p: ID!) { partner(id: $p) { apiKeys { id } } }`, { p: partnerId })).data?.partner.apiKeys.length;
  const httpWithKey = (secret: string) => graphql(stack.graphqlUrl, `{ tenants(first: 5) { edges { cursor } } }`, {}, { 'x-api-key': secret });
  const endedRevoked = (collector: Collector) =>
    collector.until(
      (c) => c.completed && c.results.some((result) => result.errors?.some((error) => error.extensions?.['code'] === 'UNAUTHENTICATED' && error.extensions?.['reason'] === 'CREDENTIAL_REVOKED')),
      'the subscription to end with UNAUTHENTICATED (CREDENTIAL_REVOKED)',
    );

  describe('1. a revoked or expired partner API key ends its live connections', () => {
    it('revocation: WebSocket and SSE subscriptions end, the socket closes 4403, the reconnect gets 4401, and no mutation gets through', async () => {
      const { secret, id } = await issueKey();
      const ws = wsTestClient(stack.graphqlUrl, { 'x-api-key': secret }, { retryAttempts: 1 });
      closers.push(() => ws.dispose());
      const sse = sseTestClient(`${stack.gateway.url}/graphql/stream`, { 'x-api-key': secret }, { retryAttempts: 0 });
      closers.push(() => sse.dispose());
      const raw = new RawSocket(stack.graphqlUrl);
      closers.push(() => raw.close());
      await raw.init({ 'x-api-key': secret });

      const overWs = ws.subscribe(BALANCE, { t: tenantId });
      const overSse = sse.subscribe(BALANCE, { t: tenantId });
      await overWs.collector.count(1);
      await overSse.collector.count(1);
      assert.equal((await raw.operation('before', `{ tenants(first: 1) { edges { cursor } } }`))?.type, 'next', 'the key works on the socket before revocation');
      const keysBefore = await keyCount();

      const revoked = await stack.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id }, partnerUser);
      assert.equal(revoked.errors, undefined);
      // HTTP refuses the key within the cache TTL; from then on the old socket must refuse it too (or be gone).
      await waitUntil(async () => errorCodes(await httpWithKey(secret)).includes('UNAUTHENTICATED'), 'HTTP to refuse the revoked key');
      const attempt = await raw.operation('after', CREATE_KEY, { p: partnerId });
      assert.ok(['UNAUTHENTICATED', 'CLOSED'].includes(String(payloadCodes(attempt)[0])), `createApiKey on the old socket: ${JSON.stringify(attempt)}`);

      await endedRevoked(overWs.collector);
      await endedRevoked(overSse.collector);
      assert.equal((await raw.closed).code, 4403);
      // A new connection with the key is refused with 4401 (final for graphql-ws clients).
      const again = wsTestClient(stack.graphqlUrl, { 'x-api-key': secret }, { retryAttempts: 0 });
      closers.push(() => again.dispose());
      const refused = again.subscribe(BALANCE, { t: tenantId });
      await refused.collector.until((c) => c.completed, 'the refused connection');
      assert.deepEqual(again.closes.map((close) => close.code), [4401]);
      assert.equal(await keyCount(), keysBefore, 'no key was created with the revoked one');
    });

    it('rotation: the old key\'s connections end when its grace period is over', async () => {
      const { secret, id } = await issueKey();
      const ws = wsTestClient(stack.graphqlUrl, { 'x-api-key': secret }, { retryAttempts: 0 });
      closers.push(() => ws.dispose());
      const live = ws.subscribe(BALANCE, { t: tenantId });
      const raw = new RawSocket(stack.graphqlUrl);
      closers.push(() => raw.close());
      await raw.init({ 'x-api-key': secret });
      await live.collector.count(1);
      const rotated = await stack.gql(`mutation($id: ID!) { rotateApiKey(id: $id, graceSeconds: 1) { secret } }`, { id }, partnerUser);
      assert.equal(rotated.errors, undefined);
      assert.equal(live.collector.completed, false, 'the old key still works during its grace period');
      await endedRevoked(live.collector);
      assert.equal((await raw.closed).code, 4403);
      assert.equal((await httpWithKey(rotated.data?.rotateApiKey.secret)).errors, undefined, 'the new key works');
    });
  });
});
