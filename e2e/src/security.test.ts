import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import WebSocket from 'ws';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, IdentitySigner } from '@saldo/identity';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { errorCodes, graphql, waitUntil } from '@saldo/testing';
import { Collector, sseTestClient, wsTestClient } from './subscription-clients.js';
import { startTestStack, type TestStack } from './test-stack.js';

/**
 * The attacks of docs/security.md, each reproduced through the gateway (and directly against the subgraphs where it
 * applies), each asserting the refusal and that nothing changed. A new capability adds its attacks here and there.
 */

const BALANCE = /* GraphQL */ `
  subscription ($t: ID!) {
    balanceChanged(tenantId: $t) {
      tenantId
      balance {
        version
      }
    }
  }
`;
const CREATE_KEY = /* GraphQL */ `
  mutation ($p: ID!) {
    createApiKey(partnerId: $p, name: "attacker") {
      secret
    }
  }
`;

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
    this.closed.then(
      () => this.arrived.complete(),
      () => undefined,
    );
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
  answer === null
    ? ['CLOSED']
    : answer.type === 'error'
      ? (answer.payload ?? []).map((error: any) => error.extensions?.code)
      : (answer.payload?.errors ?? []).map((error: any) => error.extensions?.code);

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
    await stack.billing.services.ledger.post({
      tenantId,
      entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 100_000n, idempotencyKey: `seed:${tenantId}` }],
    });
    await stack.flushEvents();
    partnerUser = { role: 'partner', subject: 'security-partner-user', partnerId };
  });

  after(async () => {
    for (const close of closers) await close();
    await stack?.destroy();
  });

  const issueKey = async (): Promise<{ secret: string; id: string }> => {
    const result = await stack.gql(
      `mutation($p: ID!) { createApiKey(partnerId: $p, name: "integration") { secret apiKey { id } } }`,
      { p: partnerId },
      partnerUser,
    );
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return { secret: result.data?.createApiKey.secret, id: result.data?.createApiKey.apiKey.id };
  };
  const keyCount = async (): Promise<number> =>
    (await stack.gql(`query($p: ID!) { partner(id: $p) { apiKeys { id } } }`, { p: partnerId })).data?.partner.apiKeys.length;
  const httpWithKey = (secret: string) =>
    graphql(
      stack.graphqlUrl,
      `
        {
          tenants(first: 5) {
            edges {
              cursor
            }
          }
        }
      `,
      {},
      { 'x-api-key': secret },
    );
  const endedRevoked = (collector: Collector) =>
    collector.until(
      (c) =>
        c.completed &&
        c.results.some((result) =>
          result.errors?.some((error) => error.extensions?.['code'] === 'UNAUTHENTICATED' && error.extensions?.['reason'] === 'CREDENTIAL_REVOKED'),
        ),
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
      assert.equal(
        (await raw.operation('before', `{ tenants(first: 1) { edges { cursor } } }`))?.type,
        'next',
        'the key works on the socket before revocation',
      );
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
      assert.deepEqual(
        again.closes.map((close) => close.code),
        [4401],
      );
      assert.equal(await keyCount(), keysBefore, 'no key was created with the revoked one');
    });

    it("rotation: the old key's connections end when its grace period is over", async () => {
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

  describe('2. setAutoTopUp charges only cards the tenant saved on its own Stripe customer', () => {
    const SET = /* GraphQL */ `
      mutation ($input: SetAutoTopUpInput!) {
        setAutoTopUp(input: $input) {
          enabled
          stripeCustomerId
          paymentMethodId
        }
      }
    `;
    const SETUP = /* GraphQL */ `
      mutation ($t: ID!) {
        createPaymentMethodSetup(tenantId: $t) {
          url
          stripeCustomerId
          checkoutSessionId
        }
      }
    `;
    const STATE = /* GraphQL */ `
      query ($t: ID!) {
        tenant(id: $t) {
          balance {
            available {
              amountMinor
            }
            version
          }
          autoTopUp {
            stripeCustomerId
            paymentMethodId
            enabled
          }
        }
      }
    `;
    const rule = (tenant: string, customer: string, method: string) => ({
      tenantId: tenant,
      threshold: { amountMinor: 5_000, currency: 'EUR' },
      mode: 'FIXED_AMOUNT',
      amount: { amountMinor: 2_000, currency: 'EUR' },
      dailyCap: { amountMinor: 10_000, currency: 'EUR' },
      stripeCustomerId: customer,
      paymentMethodId: method,
    });
    const adminOf = (tenant: string): Identity => ({ role: 'tenant-admin', subject: `admin-${tenant}`, tenantId: tenant });
    /** The tenant's own setup flow: a setup-mode Checkout Session on its customer, where the payer saves a card. */
    const saveCard = async (tenant: string) => {
      const setup = await stack.gql(SETUP, { t: tenant }, adminOf(tenant));
      assert.equal(setup.errors, undefined, JSON.stringify(setup.errors));
      const { stripeCustomerId, checkoutSessionId, url } = setup.data!.createPaymentMethodSetup;
      assert.ok(url.startsWith(stack.stripeStandIn!.url));
      const saved = stack.stripeStandIn!.completeSetup(checkoutSessionId);
      return { customer: stripeCustomerId as string, method: saved.paymentMethod['id'] as string };
    };

    it("refuses another customer's ids (and unsaved test cards) with PAYMENT_METHOD_NOT_OWNED, through the gateway and at billing, and changes nothing", async () => {
      const victim = (await stack.tenants.services.tenants.create({ name: 'Victim', currency: 'EUR', country: 'DE' })).id;
      const attacker = (await stack.tenants.services.tenants.create({ name: 'Attacker', currency: 'EUR', country: 'DE' })).id;
      await stack.flushEvents();
      const victimCard = await saveCard(victim);
      const attackerCard = await saveCard(attacker);
      assert.equal((await stack.gql(SET, { input: rule(victim, victimCard.customer, victimCard.method) }, adminOf(victim))).errors, undefined);
      const before = { attacker: (await stack.gql(STATE, { t: attacker })).data?.tenant, victim: (await stack.gql(STATE, { t: victim })).data?.tenant };
      assert.equal(before.attacker.autoTopUp, null);
      const intents = stack.stripeStandIn!.counts.paymentIntents;

      const attempts = {
        "the victim's customer and card": rule(attacker, victimCard.customer, victimCard.method),
        "its own customer with the victim's card": rule(attacker, attackerCard.customer, victimCard.method),
        'an unsaved test card on its own customer': rule(attacker, attackerCard.customer, 'pm_card_visa'),
        'made-up ids': rule(attacker, 'cus_madeup', 'pm_madeup'),
      };
      for (const [attempt, input] of Object.entries(attempts)) {
        assert.deepEqual(errorCodes(await stack.gql(SET, { input }, adminOf(attacker))), ['PAYMENT_METHOD_NOT_OWNED'], attempt);
      }
      // Directly at billing, with a validly signed identity of the attacker's admin: the same refusal.
      const signer = await IdentitySigner.fromPem(stack.keys.identity.privateKeyPem, 30);
      const direct = await fetch(`${stack.billing.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [IDENTITY_HEADER]: await signer.sign(adminOf(attacker)) },
        body: JSON.stringify({ query: SET, variables: { input: attempts["the victim's customer and card"] } }),
      });
      assert.deepEqual(errorCodes((await direct.json()) as never), ['PAYMENT_METHOD_NOT_OWNED']);

      assert.deepEqual((await stack.gql(STATE, { t: attacker })).data?.tenant, before.attacker, 'no rule, same balance');
      assert.deepEqual((await stack.gql(STATE, { t: victim })).data?.tenant, before.victim, "the victim's rule and balance untouched");
      assert.equal(stack.stripeStandIn!.counts.paymentIntents, intents, 'nothing charged');

      // Its own saved card is accepted.
      const own = await stack.gql(SET, { input: rule(attacker, attackerCard.customer, attackerCard.method) }, adminOf(attacker));
      assert.deepEqual(own.data?.setAutoTopUp, { enabled: true, stripeCustomerId: attackerCard.customer, paymentMethodId: attackerCard.method });
    });

    it("reads a saved card back only from the tenant's own setup session (savedPaymentMethod), so a new rule can be set from scratch", async () => {
      const SAVED = /* GraphQL */ `
        query ($t: ID!, $s: String!) {
          savedPaymentMethod(tenantId: $t, checkoutSessionId: $s) {
            stripeCustomerId
            paymentMethodId
            brand
            last4
          }
        }
      `;
      const owner = (await stack.tenants.services.tenants.create({ name: 'Card Owner', currency: 'EUR', country: 'DE' })).id;
      const other = (await stack.tenants.services.tenants.create({ name: 'Card Snoop', currency: 'EUR', country: 'DE' })).id;
      await stack.flushEvents();
      const setup = await stack.gql(SETUP, { t: owner }, adminOf(owner));
      const { checkoutSessionId, stripeCustomerId } = setup.data!.createPaymentMethodSetup;
      const open = await stack.gql(SAVED, { t: owner, s: checkoutSessionId }, adminOf(owner));
      assert.equal(open.errors, undefined, JSON.stringify(open.errors));
      assert.equal(open.data?.savedPaymentMethod, null, 'nothing saved while the session is open');

      const method = stack.stripeStandIn!.completeSetup(checkoutSessionId).paymentMethod['id'] as string;
      const saved = await stack.gql(SAVED, { t: owner, s: checkoutSessionId }, adminOf(owner));
      assert.deepEqual(saved.data?.savedPaymentMethod, { stripeCustomerId, paymentMethodId: method, brand: 'visa', last4: '4242' });
      const { stripeCustomerId: customer, paymentMethodId } = saved.data!.savedPaymentMethod;
      assert.equal(
        (await stack.gql(SET, { input: rule(owner, customer, paymentMethodId) }, adminOf(owner))).errors,
        undefined,
        'the rule from the read-back ids',
      );

      // Another tenant asking for that session (through its own id, or the owner's): nothing to see.
      assert.deepEqual(errorCodes(await stack.gql(SAVED, { t: other, s: checkoutSessionId }, adminOf(other))), ['PAYMENT_METHOD_SETUP_NOT_FOUND']);
      assert.deepEqual(errorCodes(await stack.gql(SAVED, { t: owner, s: checkoutSessionId }, adminOf(other))), ['FORBIDDEN']);
      assert.deepEqual(errorCodes(await stack.gql(SAVED, { t: owner, s: 'cs_test_madeup' }, adminOf(owner))), ['PAYMENT_METHOD_SETUP_NOT_FOUND']);
      // A payment-mode top-up session is no setup session either.
      const topUp = await stack.gql(
        `mutation($input: CreateTopUpInput!) { createTopUp(input: $input) { sessionId } }`,
        {
          input: { tenantId: owner, amount: { amountMinor: 2_000, currency: 'EUR' }, idempotencyKey: 'saved-card-check' },
        },
        adminOf(owner),
      );
      assert.deepEqual(errorCodes(await stack.gql(SAVED, { t: owner, s: topUp.data!.createTopUp.sessionId }, adminOf(owner))), [
        'PAYMENT_METHOD_SETUP_NOT_FOUND',
      ]);
    });

    it("sends Checkout payers back only to the platform's origin or the custom domain the request came through: no open redirect", async () => {
      const tenant = (await stack.tenants.services.tenants.create({ name: 'Redirect Target', currency: 'EUR', country: 'DE' })).id;
      await stack.flushEvents();
      const sessions = stack.stripeStandIn!.counts.checkoutSessions;
      const CREATE = `mutation($input: CreateTopUpInput!) { createTopUp(input: $input) { id } }`;
      for (const returnOrigin of ['https://evil.example', 'https://portal.voxly.example', 'http://localhost:4000/phish', 'javascript:alert(1)']) {
        const input = { tenantId: tenant, amount: { amountMinor: 2_000, currency: 'EUR' }, idempotencyKey: `redirect-${sessions}`, returnOrigin };
        assert.deepEqual(errorCodes(await stack.gql(CREATE, { input }, adminOf(tenant))), ['RETURN_ORIGIN_NOT_ALLOWED'], returnOrigin);
        assert.deepEqual(
          errorCodes(
            await stack.gql(
              `mutation($t: ID!, $o: String) { createPaymentMethodSetup(tenantId: $t, returnOrigin: $o) { url } }`,
              { t: tenant, o: returnOrigin },
              adminOf(tenant),
            ),
          ),
          ['RETURN_ORIGIN_NOT_ALLOWED'],
          returnOrigin,
        );
      }
      assert.equal(stack.stripeStandIn!.counts.checkoutSessions, sessions, 'no Checkout Session created');
    });
  });

  describe('6. a rejected input changes nothing: control characters are refused up front', () => {
    const placements = async (subgraph: string): Promise<number> => {
      const client = new pg.Client({ connectionString: stack.databases[subgraph]!.control });
      await client.connect();
      try {
        return Number((await client.query('select count(*)::int as n from tenant_placement')).rows[0].n);
      } finally {
        await client.end();
      }
    };

    it('createTenant with a NUL in its name: INVALID_CHARACTERS through the gateway and at the subgraph, no placement left behind', async () => {
      const before = await placements('tenants');
      const tenantsBefore = (await stack.gql(`{ tenants(first: 100) { edges { cursor } } }`)).data?.tenants.edges.length;
      const create = `mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }`;
      for (const name of ['Evil\u0000Corp', 'Bell\u0007', 'Escape \u001b[31mred']) {
        const refused = await stack.gql(create, { input: { name, currency: 'EUR', country: 'DE' } });
        assert.deepEqual(errorCodes(refused), ['INVALID_CHARACTERS'], JSON.stringify(name));
      }
      // In a string literal rather than a variable.
      assert.deepEqual(errorCodes(await stack.gql(`mutation { createTenant(input: { name: "Evil\\u0000Corp", currency: "EUR", country: "DE" }) { id } }`)), [
        'INVALID_CHARACTERS',
      ]);
      // Directly at the tenants subgraph with a validly signed identity.
      const signer = await IdentitySigner.fromPem(stack.keys.identity.privateKeyPem, 30);
      const direct = await fetch(`${stack.tenants.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [IDENTITY_HEADER]: await signer.sign({ role: 'platform-admin', subject: 'ops' }) },
        body: JSON.stringify({ query: create, variables: { input: { name: 'Evil\u0000Corp', currency: 'EUR', country: 'DE' } } }),
      });
      assert.deepEqual(errorCodes((await direct.json()) as never), ['INVALID_CHARACTERS']);
      // And below GraphQL, at the service.
      await assert.rejects(
        stack.tenants.services.tenants.create({ name: 'Evil\u0000Corp', currency: 'EUR', country: 'DE' }),
        (error: any) => error.extensions?.code === 'INVALID_CHARACTERS',
      );

      assert.equal(await placements('tenants'), before, 'no orphan placement');
      assert.equal((await stack.gql(`{ tenants(first: 100) { edges { cursor } } }`)).data?.tenants.edges.length, tenantsBefore);
    });

    it('updateTenant with a control character: INVALID_CHARACTERS and the tenant unchanged', async () => {
      const refused = await stack.gql(`mutation($id: ID!, $input: UpdateTenantInput!) { updateTenant(id: $id, input: $input) { name } }`, {
        id: tenantId,
        input: { name: 'Renamed\u0000' },
      });
      assert.deepEqual(errorCodes(refused), ['INVALID_CHARACTERS']);
      assert.equal((await stack.gql(`query($id: ID!) { tenant(id: $id) { name } }`, { id: tenantId })).data?.tenant.name, 'Security tenant');
    });
  });

  describe('8. rate-limit budgets are per issuer + subject + role + tenant, not per subject', () => {
    it('identities of other tenants or roles that share a subject keep their own budget', async () => {
      const gateway = await stack.startGateway({ RATE_LIMIT_BURST: '3', RATE_LIMIT_PER_MINUTE: '1' });
      closers.push(() => gateway.stop());
      const otherTenant = (await stack.tenants.services.tenants.create({ name: 'Same subject elsewhere', currency: 'EUR', country: 'DE' })).id;
      await stack.flushEvents();
      const ask = async (identity: Identity) =>
        graphql(
          `${gateway.url}/graphql`,
          `
            query ($id: ID!) {
              tenant(id: $id) {
                id
              }
            }
          `,
          { id: identity.role === 'tenant-member' || identity.role === 'tenant-admin' ? identity.tenantId : tenantId },
          await stack.authHeaders(identity),
        );
      const attacker: Identity = { role: 'tenant-member', subject: 'shared-subject', tenantId: otherTenant };
      // The attacker spends its whole budget...
      for (let request = 0; request < 3; request += 1) assert.equal((await ask(attacker)).errors, undefined);
      assert.deepEqual(errorCodes(await ask(attacker)), ['RATE_LIMITED']);
      // ...and identities with the same subject but another tenant or role still have theirs.
      for (const victim of [
        { role: 'tenant-member', subject: 'shared-subject', tenantId },
        { role: 'tenant-admin', subject: 'shared-subject', tenantId: otherTenant },
        { role: 'platform-admin', subject: 'shared-subject' },
      ] satisfies Identity[]) {
        const answer = await ask(victim);
        assert.equal(answer.errors, undefined, `${victim.role} ${JSON.stringify(answer.errors)}`);
      }
    });
  });

  describe("7. forwarded identities are bounded: lifetime at most the gateway's TTL, connections only while theirs is valid", () => {
    const ADMIN: Identity = { role: 'platform-admin', subject: 'ops' };
    const subgraphs = () => [stack.tenants, stack.billing, stack.usageForecast, stack.whiteLabel];

    it("every subgraph refuses an identity signed with the gateway's key but a lifetime above its TTL (30 s)", async () => {
      const longLived = await IdentitySigner.fromPem(stack.keys.identity.privateKeyPem, 3600);
      const normal = await IdentitySigner.fromPem(stack.keys.identity.privateKeyPem, 30);
      for (const subgraph of subgraphs()) {
        const post = async (token: string) =>
          fetch(`${subgraph.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', [IDENTITY_HEADER]: token },
            body: JSON.stringify({ query: '{ _service { sdl } }' }),
          });
        assert.equal((await post(await longLived.sign(ADMIN))).status, 401, `${subgraph.name} must refuse a one-hour identity`);
        assert.equal((await post(await normal.sign(ADMIN))).status, 200, `${subgraph.name} accepts the gateway's own`);
      }
    });

    it('a subgraph WebSocket whose opening identity expired accepts no new subscription on it (operations with a fresh identity still run)', async () => {
      const signer = await IdentitySigner.fromPem(stack.keys.identity.privateKeyPem, 30);
      const issuedAt = Date.now() - 29_000; // expires in about a second
      const socket = new RawSocket(`${stack.billing.url}/graphql`);
      closers.push(() => socket.close());
      await socket.init({ [IDENTITY_HEADER]: await signer.sign(ADMIN, undefined, issuedAt) });
      assert.ok(
        socket.messages.some((message) => message.type === 'connection_ack'),
        'accepted while valid',
      );
      const expiresAt = (Math.floor(issuedAt / 1000) + 30) * 1000;
      await waitUntil(() => Date.now() > expiresAt + 100, 'the connection identity to expire');

      const subscription = `subscription($t: ID!) { balanceChanged(tenantId: $t) { tenantId } }`;
      const refused = await socket.operation('late', subscription, { t: tenantId });
      assert.deepEqual(payloadCodes(refused), ['UNAUTHENTICATED']);
      // The gateway's way: every operation carries its own fresh identity.
      const token = await signer.sign({ ...ADMIN, subject: 'ops-fresh' });
      socket.send({ id: 'fresh', type: 'subscribe', payload: { query: subscription, variables: { t: tenantId }, extensions: { [IDENTITY_HEADER]: token } } });
      await waitUntil(() => socket.messages.some((message) => message.id === 'fresh'), 'an answer to the fresh operation');
      const answered = socket.messages.find((message) => message.id === 'fresh');
      assert.equal(answered?.type, 'next', JSON.stringify(answered));
    });
  });

  describe("5. errors leak nothing: bad input is BAD_USER_INPUT, never a subgraph's URL or a stack overflow", () => {
    const balance = async () =>
      (await stack.gql(`query($t: ID!) { tenant(id: $t) { balance { version available { amountMinor } } } }`, { t: tenantId })).data?.tenant.balance;

    it("a bad DateTimeISO or MinorUnits variable: BAD_USER_INPUT without the subgraph's URL or raw response, nothing recorded", async () => {
      const before = await balance();
      const usage = await stack.gql(`mutation($input: RecordUsageInput!) { recordUsage(input: $input) { accepted } }`, {
        input: { tenantId, events: [{ id: 'bad-date-1', product: 'inbound_minute', quantity: 1, occurredAt: 'yesterday at noon' }] },
      });
      const topUp = await stack.gql(
        `mutation($a: MinorUnits!) { createTopUp(input: { tenantId: "${tenantId}", amount: { amountMinor: $a, currency: "EUR" }, idempotencyKey: "bad-amount" }) { id } }`,
        { a: '12abc' },
      );
      for (const [name, response] of Object.entries({ usage, topUp })) {
        assert.deepEqual(errorCodes(response), ['BAD_USER_INPUT'], `${name}: ${JSON.stringify(response)}`);
        const text = JSON.stringify(response);
        for (const leak of [stack.billing.url, '127.0.0.1', '"response"', 'stacktrace']) assert.ok(!text.includes(leak), `${name} leaks ${leak}: ${text}`);
      }
      assert.deepEqual(await balance(), before);
    });

    it('deeply nested unused variables over a WebSocket: BAD_USER_INPUT, the connection stays open', async () => {
      const socket = new RawSocket(stack.graphqlUrl);
      closers.push(() => socket.close());
      await socket.init({ authorization: (await stack.authHeaders()).authorization });
      const depth = 100_000;
      socket.send(`{"id":"deep","type":"subscribe","payload":{"query":"{ __typename }","variables":{"unused":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}}`);
      await waitUntil(() => socket.messages.some((message) => message.id === 'deep'), 'an answer to the deep operation');
      assert.deepEqual(payloadCodes(socket.messages.find((message) => message.id === 'deep')!), ['BAD_USER_INPUT']);
      assert.equal((await socket.operation('after', `{ __typename }`))?.type, 'next', 'the socket still serves');
    });

    it('no field suggestions where introspection is off, over HTTP and WebSocket', async () => {
      const gateway = await stack.startGateway({ INTROSPECTION: 'false' });
      closers.push(() => gateway.stop());
      for (const headers of [{}, await stack.authHeaders()]) {
        const response = await graphql(
          `${gateway.url}/graphql`,
          `
            {
              tenantz {
                id
              }
            }
          `,
          {},
          headers,
        );
        assert.equal(response.errors?.length, 1);
        assert.doesNotMatch(response.errors![0]!.message, /Did you mean/, JSON.stringify(response.errors));
      }
      const socket = new RawSocket(`${gateway.url}/graphql`);
      closers.push(() => socket.close());
      await socket.init({ authorization: (await stack.authHeaders()).authorization });
      const answer = await socket.operation('typo', `subscription { balanceChangd(tenantId: "${tenantId}") { tenantId } }`);
      assert.equal(answer?.type, 'error');
      assert.doesNotMatch(JSON.stringify(answer), /Did you mean/);
    });

    it('a malformed or forged JWT is HTTP 401 UNAUTHENTICATED, like a bad API key', async () => {
      for (const authorization of ['Bearer not.a.jwt', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', `Bearer saldo_pk_0000000000000000_${'x'.repeat(43)}`]) {
        const response = await fetch(stack.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        assert.equal(response.status, 401, authorization);
        assert.deepEqual(errorCodes((await response.json()) as never), ['UNAUTHENTICATED']);
      }
    });

    it('a forged transactions cursor out of integer range is INVALID_CURSOR', async () => {
      const cursor = Buffer.from(JSON.stringify({ v: 1, k: '9999999999' })).toString('base64url');
      const response = await stack.gql(`query($t: ID!, $c: String) { tenant(id: $t) { transactions(first: 5, after: $c) { edges { cursor } } } }`, {
        t: tenantId,
        c: cursor,
      });
      assert.deepEqual(errorCodes(response), ['INVALID_CURSOR']);
    });
  });

  describe('9. logo URLs are stored normalised: no quotes or brackets to break out of an attribute or url(...)', () => {
    it('setPartnerBranding and setTenantBranding store the WHATWG serialisation with quotes and brackets encoded', async () => {
      const injected = `https://x.example/y.png');background:url('https://evil.example/a')`;
      const expected = 'https://x.example/y.png%27%29;background:url%28%27https://evil.example/a%27%29';
      const partner = await stack.gql(`mutation($p: ID!, $u: String) { setPartnerBranding(partnerId: $p, input: { logoUrl: $u }) { logoUrl } }`, {
        p: partnerId,
        u: injected,
      });
      assert.equal(partner.errors, undefined, JSON.stringify(partner.errors));
      assert.equal(partner.data?.setPartnerBranding.logoUrl, expected);
      const tenant = await stack.gql(`mutation($t: ID!, $u: String) { setTenantBranding(tenantId: $t, input: { logoUrl: $u }) { logoUrl } }`, {
        t: tenantId,
        u: 'HTTPS://CDN.Example:443/logo.png?v="1"',
      });
      assert.equal(tenant.data?.setTenantBranding.logoUrl, 'https://cdn.example/logo.png?v=%221%22');
      const read = await stack.gql(`query($t: ID!) { tenant(id: $t) { branding { logoUrl } } }`, { t: tenantId });
      assert.equal(read.data?.tenant.branding.logoUrl, 'https://cdn.example/logo.png?v=%221%22');
      for (const value of [expected, read.data?.tenant.branding.logoUrl]) assert.doesNotMatch(value, /['"()<>\s]/);
    });
  });

  describe('4. the WebSocket transport has bounds: message size, connections per address and credential, subscriptions per connection', () => {
    it('closes or refuses beyond each bound with a clear code, and runs nothing it refused', async () => {
      const gateway = await stack.startGateway({
        WS_MAX_MESSAGE_BYTES: '65536',
        WS_MAX_CONNECTIONS_PER_ADDRESS: '3',
        WS_MAX_CONNECTIONS_PER_CREDENTIAL: '2',
        WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
        WS_CONNECTION_INIT_TIMEOUT_MS: '1000',
        WS_ANONYMOUS_GRACE_MS: '1000',
      });
      closers.push(() => gateway.stop());
      const url = `${gateway.url}/graphql`;
      const open = async (): Promise<RawSocket> => {
        const socket = new RawSocket(url);
        closers.push(() => socket.close());
        await socket.open();
        return socket;
      };
      const member = async (subject: string) => ({ authorization: (await stack.authHeaders({ role: 'tenant-member', subject, tenantId })).authorization });

      // A message above the limit closes the socket with 1009 before anything runs (HTTP caps bodies likewise).
      const big = await open();
      await big.init(await member('big'));
      big.send({ id: 'big', type: 'subscribe', payload: { query: `{ __typename }`, variables: { padding: 'x'.repeat(100_000) } } });
      assert.equal((await big.closed).code, 1009);
      assert.equal(
        big.messages.some((message) => message.id === 'big'),
        false,
      );

      // Connections that have not authenticated count against their address: the fourth is refused with 1013...
      const idle = [await open(), await open()];
      const anonymous = await open();
      await anonymous.init({});
      assert.ok(
        anonymous.messages.some((message) => message.type === 'connection_ack'),
        'anonymous callers may connect (to introspect)',
      );
      const fourth = await open();
      assert.equal((await fourth.closed).code, 1013);
      // ...those that never send connection_init are closed with 4408; anonymous ones after their grace with 4401.
      for (const socket of idle) assert.equal((await socket.closed).code, 4408);
      assert.equal((await anonymous.closed).code, 4401);

      // Connections per credential: the third with the same credential gets 1013; another credential still connects.
      const first = await open();
      await first.init(await member('busy'));
      const second = await open();
      await second.init(await member('busy'));
      const third = await open();
      await third.init(await member('busy'));
      assert.equal((await third.closed).code, 1013);
      const other = await open();
      await other.init(await member('someone-else'));
      assert.ok(other.messages.some((message) => message.type === 'connection_ack'));

      // Subscriptions per connection: the third at once is refused with TOO_MANY_SUBSCRIPTIONS, nothing opened for it.
      assert.equal((await first.operation('s1', BALANCE, { t: tenantId }))?.type, 'next');
      assert.equal((await first.operation('s2', BALANCE, { t: tenantId }))?.type, 'next');
      const subscribersBefore = gateway.subscriptionMetrics().subscribers;
      assert.deepEqual(payloadCodes(await first.operation('s3', BALANCE, { t: tenantId })), ['TOO_MANY_SUBSCRIPTIONS']);
      assert.equal(gateway.subscriptionMetrics().subscribers, subscribersBefore);
      // Ending one makes room again.
      first.send({ id: 's1', type: 'complete' });
      await waitUntil(() => gateway.subscriptionMetrics().subscribers === subscribersBefore - 1, 'the completed subscription to end');
      assert.equal((await first.operation('s4', BALANCE, { t: tenantId }))?.type, 'next');
    });
  });
});
