import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { waitUntil } from '@saldo/testing';
import { randomUUID } from 'node:crypto';
import {
  BALANCE_SUBSCRIPTION,
  Collector,
  rawWsSubscription,
  sseTestClient,
  wsTestClient,
  type BalanceUpdate,
  type SseTestClient,
  type WsTestClient,
} from './subscription-clients.js';
import { freePort, startTestStack, type TestStack } from './test-stack.js';

const RECORD_USAGE = /* GraphQL */ `
  mutation Record($input: RecordUsageInput!) {
    recordUsage(input: $input) {
      accepted
      balance {
        version
        available {
          amountMinor
        }
      }
    }
  }
`;

let usageSequence = 0;
async function recordUsage(stack: TestStack, tenantId: string, quantity = 1, identity?: Identity): Promise<number> {
  usageSequence += 1;
  const response = await stack.gql<{ recordUsage: { balance: { version: number } } }>(
    RECORD_USAGE,
    {
      input: {
        tenantId,
        events: [{ id: `sub-${process.pid}-${usageSequence}`, product: 'inbound_minute', quantity, occurredAt: new Date(Date.now() - 1000).toISOString() }],
      },
    },
    identity,
  );
  assert.equal(response.errors, undefined, JSON.stringify(response.errors));
  return response.data!.recordUsage.balance.version;
}

const versionOf = (update: BalanceUpdate | undefined) => update?.balanceChanged.balance.version ?? -1;

describe('live balances: federated subscriptions through the gateway', () => {
  let stack: TestStack;
  let tenantA: string;
  let tenantB: string;
  let partnerId: string;
  const clients: Array<{ dispose(): unknown }> = [];
  const memberOf = (tenantId: string, subject = 'member'): Identity => ({ role: 'tenant-member', subject, tenantId });
  const ws = async (identity: Identity): Promise<WsTestClient> => {
    const client = wsTestClient(stack.graphqlUrl, { authorization: `Bearer ${await stack.issueToken(identity)}` });
    clients.push(client);
    return client;
  };
  const sse = async (identity: Identity, options: { retryAttempts?: number } = {}): Promise<SseTestClient> => {
    const client = sseTestClient(`${stack.gateway.url}/graphql/stream`, await stack.authHeaders(identity), options);
    clients.push(client);
    return client;
  };
  const codes = (collector: Collector) => collector.results.flatMap((result) => (result.errors ?? []).map((error) => error.extensions?.['code']));

  before(async () => {
    // Fixed ports for the gateway and billing: tests restart them and clients reconnect to the same address.
    stack = await startTestStack('subscriptions', { ports: { gateway: await freePort(), billing: await freePort() } });
    await stack.billing.services.rates.publish({
      product: 'inbound_minute',
      currency: 'EUR',
      unitPriceMinor: '1.25',
      validFrom: new Date(Date.now() - 86_400_000),
    });
    const partner = await stack.tenants.services.partners.create({ name: 'Subscriptions partner', country: 'DE' });
    partnerId = partner.id;
    tenantA = (await stack.tenants.services.tenants.create({ name: 'Live A', currency: 'EUR', country: 'DE', partnerId })).id;
    tenantB = (await stack.tenants.services.tenants.create({ name: 'Live B', currency: 'EUR', country: 'FR' })).id;
    await stack.flushEvents();
    for (const tenantId of [tenantA, tenantB]) {
      await stack.billing.services.ledger.post({
        tenantId,
        entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 1_000_000n, idempotencyKey: `seed:${tenantId}` }],
      });
    }
    await stack.flushEvents();
  });

  after(async () => {
    for (const client of clients) await client.dispose();
    await stack?.destroy();
  });

  it('graphql-ws: the current balance first, then each recorded usage with fields of billing, tenants and usage-forecast', async () => {
    const client = await ws(memberOf(tenantA));
    const { collector, unsubscribe } = client.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await collector.count(1);
    const first = collector.last!.balanceChanged;
    assert.equal(first.tenantId, tenantA);
    assert.equal(first.entry, null, 'the snapshot has no entry');
    assert.equal(first.previousBalance, null);
    assert.equal(first.tenant.name, 'Live A');
    assert.equal(first.tenant.status, 'ACTIVE');
    assert.ok(Array.isArray(first.tenant.usage));
    const before = first.balance.available.amountMinor;

    const version = await recordUsage(stack, tenantA, 4);
    await collector.until((c) => versionOf(c.last) === version, `version ${version}`);
    const update = collector.last!.balanceChanged;
    assert.equal(update.balance.available.amountMinor, before - 5, '4 minutes at 1.25');
    assert.equal(update.previousBalance?.amountMinor, before);
    assert.deepEqual(
      {
        type: update.entry?.type,
        product: update.entry?.product,
        quantity: update.entry?.quantity,
        amount: update.entry?.amount.amountMinor,
        version: update.entry?.version,
      },
      { type: 'USAGE', product: 'inbound_minute', quantity: 4, amount: -5, version },
    );
    assert.equal(update.entry?.balanceAfter.amountMinor, update.balance.available.amountMinor);
    assert.equal(update.tenant.name, 'Live A');
    assert.ok(
      collector.results.every((result) => !result.errors),
      JSON.stringify(collector.results),
    );
    unsubscribe();
  });

  it('an update announced by an event without its entry (written before events carried it) still shows the entry, read from the ledger', async () => {
    const client = await ws(memberOf(tenantA, 'upgrade-reader'));
    const { collector, unsubscribe } = client.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await collector.count(1);
    // The event waits in the outbox while the relay is stopped; strip its entry as an older billing wrote it.
    const billing = stack.billing.runtime;
    await billing.relay.stop();
    let version: number;
    try {
      version = await recordUsage(stack, tenantA, 3);
      let stripped = 0;
      for (const shardId of billing.db.shardIds) {
        const result = (await billing.db
          .em(shardId)
          .execute(`update outbox_event set payload = payload - 'entry' where type = 'balance.changed' and published_at is null`, [], 'run')) as unknown as {
          affectedRows: number;
        };
        stripped += result.affectedRows;
      }
      assert.equal(stripped, 1, 'one balance.changed waited in the outbox');
    } finally {
      billing.relay.start();
    }
    await stack.flushEvents();
    await collector.until((c) => versionOf(c.last) === version, `version ${version}`);
    const update = collector.last!.balanceChanged;
    assert.deepEqual(
      { type: update.entry?.type, quantity: update.entry?.quantity, version: update.entry?.version, balanceAfter: update.entry?.balanceAfter.amountMinor },
      { type: 'USAGE', quantity: 3, version, balanceAfter: update.balance.available.amountMinor },
    );
    unsubscribe();
  });

  it('GraphQL over SSE: the same stream at /graphql/stream', async () => {
    const client = await sse(memberOf(tenantA, 'sse-reader'));
    const { collector, unsubscribe } = client.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await collector.count(1);
    assert.equal(collector.last!.balanceChanged.entry, null);
    assert.equal(collector.last!.balanceChanged.tenant.name, 'Live A');
    const version = await recordUsage(stack, tenantA, 2);
    await collector.until((c) => versionOf(c.last) === version, `version ${version} over SSE`);
    const update = collector.last!.balanceChanged;
    assert.equal(update.entry?.quantity, 2);
    assert.equal(update.entry?.product, 'inbound_minute');
    assert.ok(Array.isArray(update.tenant.usage));
    unsubscribe();
  });

  it('queries keep working over HTTP, and also run over the WebSocket; a subscription over plain HTTP is refused with directions', async () => {
    const http = await stack.gql<{ tenant: { name: string } }>(`query($id: ID!) { tenant(id: $id) { name } }`, { id: tenantA });
    assert.equal(http.data?.tenant.name, 'Live A');
    const overHttp = await stack.gql(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    assert.equal(overHttp.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(overHttp.errors?.[0]?.message ?? '', /graphql-ws/);
    const client = await ws(memberOf(tenantA));
    const { collector } = client.subscribe<{ tenant: { name: string; balance: { version: number } } }>(
      `query($id: ID!) { tenant(id: $id) { name balance { version } } }`,
      { id: tenantA },
    );
    await collector.until((c) => c.completed, 'query over graphql-ws');
    assert.equal(collector.last?.tenant.name, 'Live A');
  });

  it('scope: the same rules as queries (forbidden and unknown tenants, anonymous callers, bad tokens)', async () => {
    // A tenant member subscribing to another tenant.
    const member = (await ws(memberOf(tenantA))).subscribe(BALANCE_SUBSCRIPTION, { tenantId: tenantB });
    // A partner: its own tenant yes, a direct customer no.
    const partner = await ws({ role: 'partner', subject: 'partner-user', partnerId });
    const own = partner.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    const foreign = partner.subscribe(BALANCE_SUBSCRIPTION, { tenantId: tenantB });
    // A platform admin asking for a tenant nobody knows, and a malformed id.
    const admin = await ws({ role: 'platform-admin', subject: 'admin' });
    const unknown = admin.subscribe(BALANCE_SUBSCRIPTION, { tenantId: randomUUID() });
    const malformed = admin.subscribe(BALANCE_SUBSCRIPTION, { tenantId: 'not-a-uuid' });
    // Over SSE too.
    const sseForbidden = (await sse(memberOf(tenantB))).subscribe(BALANCE_SUBSCRIPTION, { tenantId: tenantA });

    for (const [collector, code] of [
      [member.collector, 'FORBIDDEN'],
      [foreign.collector, 'FORBIDDEN'],
      [unknown.collector, 'TENANT_NOT_FOUND'],
      [malformed.collector, 'INVALID_ID'],
      [sseForbidden.collector, 'FORBIDDEN'],
    ] as const) {
      await collector.until((c) => c.completed, `${code} and completion`);
      assert.deepEqual(codes(collector), [code], JSON.stringify(collector.results));
      assert.equal(collector.data.length, 0);
    }
    await own.collector.count(1);
    assert.equal(own.collector.last?.balanceChanged.tenantId, tenantA);

    // No credentials: the connection is accepted (introspection), subscriptions are not.
    const anonymous = wsTestClient(stack.graphqlUrl, {});
    clients.push(anonymous);
    const refused = anonymous.subscribe(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await refused.collector.until((c) => c.completed, 'anonymous refusal');
    assert.equal((refused.collector.error as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code, 'UNAUTHENTICATED');

    // A forged token closes the connection with 4401 (final: graphql-ws clients do not retry it).
    const forged = wsTestClient(stack.graphqlUrl, { authorization: 'Bearer not.a.token' });
    clients.push(forged);
    const closed = forged.subscribe(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await closed.collector.until((c) => c.completed, 'close 4401');
    assert.equal(forged.closes[0]?.code, 4401);

    // SSE with a forged token: HTTP 401 with a GraphQL error body.
    const response = await fetch(`${stack.gateway.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: 'Bearer not.a.token' },
      body: JSON.stringify({ query: BALANCE_SUBSCRIPTION, variables: { tenantId: tenantA } }),
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code, 'UNAUTHENTICATED');
  });

  it('identical subscriptions share one upstream subscription and one set of entity fetches per event', async () => {
    const before = stack.gateway.subscriptionMetrics();
    const billingBefore = stack.billing.metrics().subscriptions;
    // Four members of tenant B (different users, same scope) over both transports, and one admin of B (another scope).
    const subscribers = [
      (await ws(memberOf(tenantB, 'm1'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantB }),
      (await ws(memberOf(tenantB, 'm2'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantB }),
      (await ws(memberOf(tenantB, 'm3'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantB }),
      (await sse(memberOf(tenantB, 'm4'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantB }),
    ];
    const admin = (await ws({ role: 'tenant-admin', subject: 'boss', tenantId: tenantB })).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, {
      tenantId: tenantB,
    });
    for (const { collector } of [...subscribers, admin]) await collector.count(1);

    const during = stack.gateway.subscriptionMetrics();
    assert.equal(during.upstreamOpened - before.upstreamOpened, 2, 'one upstream per scope');
    assert.equal(during.shared - before.shared, 2);
    assert.equal(during.subscribers - before.subscribers, 5);
    assert.equal(stack.billing.metrics().subscriptions.active - billingBefore.active, 2, 'billing serves two subscriptions');

    const tenantsRequests = stack.tenants.metrics().httpRequests;
    const forecastRequests = stack.usageForecast.metrics().httpRequests;
    const version = await recordUsage(stack, tenantB, 3);
    for (const { collector } of [...subscribers, admin]) await collector.until((c) => versionOf(c.last) === version, `version ${version}`);
    // One _entities fetch per subgraph and shared subscription for the event, whatever the number of subscribers.
    assert.equal(stack.tenants.metrics().httpRequests - tenantsRequests, 2);
    assert.equal(stack.usageForecast.metrics().httpRequests - forecastRequests, 2);
    assert.equal(stack.gateway.subscriptionMetrics().events - during.events, 2);

    // A late joiner gets the latest result first, from the shared subscription (no new upstream).
    const late = (await ws(memberOf(tenantB, 'm5'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantB });
    await late.collector.count(1);
    assert.equal(versionOf(late.collector.last), version);
    assert.equal(stack.gateway.subscriptionMetrics().upstreamOpened - before.upstreamOpened, 2);

    // When every subscriber of a scope leaves, its upstream subscription closes.
    for (const { unsubscribe } of [...subscribers, late]) unsubscribe();
    await waitUntil(() => stack.billing.metrics().subscriptions.active - billingBefore.active === 1, 'upstream closed');
    admin.unsubscribe();
  });

  it('updates arrive in order, one per posting, with no duplicates', async () => {
    const { collector, unsubscribe } = (await ws(memberOf(tenantA, 'order'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await collector.count(1);
    const start = versionOf(collector.last);
    const versions = await Promise.all(Array.from({ length: 12 }, () => recordUsage(stack, tenantA, 1)));
    const last = Math.max(...versions);
    await collector.until((c) => versionOf(c.last) === last, `version ${last}`);
    const seen = collector.data.map(versionOf);
    assert.deepEqual(seen, [start, ...Array.from({ length: 12 }, (_, index) => start + index + 1)]);
    unsubscribe();
  });

  it('a slow subscriber never stalls the others', async () => {
    const token = `Bearer ${await stack.issueToken(memberOf(tenantA, 'slow'))}`;
    const slow = await rawWsSubscription(stack.graphqlUrl, token, BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    const fast = (await ws(memberOf(tenantA, 'fast'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await slow.collector.count(1);
    await fast.collector.count(1);
    slow.pause();
    let last = 0;
    for (let index = 0; index < 25; index += 1) last = await recordUsage(stack, tenantA, 1);
    // The fast subscriber got every update while the slow one read nothing.
    await fast.collector.until((c) => versionOf(c.last as BalanceUpdate) === last, `fast subscriber at ${last}`);
    assert.equal(fast.collector.results.length, 26);
    assert.equal(slow.collector.results.length, 1);
    // Once it reads again, the slow one converges on the latest balance.
    slow.resume();
    await slow.collector.until((c) => versionOf(c.last as BalanceUpdate) === last, `slow subscriber at ${last}`);
    fast.unsubscribe();
    slow.close();
  });

  it('an expiring token ends the subscription with UNAUTHENTICATED / TOKEN_EXPIRED at expiry', async () => {
    const token = await stack.issueToken(memberOf(tenantA, 'short-lived'), 2);
    const subscription = await rawWsSubscription(stack.graphqlUrl, `Bearer ${token}`, BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    const { collector } = subscription;
    await collector.count(1);
    await collector.until((c) => c.completed, 'expiry');
    const final = collector.results.at(-1)!;
    assert.equal(final.errors?.[0]?.extensions?.['code'], 'UNAUTHENTICATED');
    assert.equal(final.errors?.[0]?.extensions?.['reason'], 'TOKEN_EXPIRED');
    // Then the connection goes (4403: a graphql-ws client reconnects and may send a fresh token).
    assert.equal((await subscription.closed).code, 4403);

    const sseClient = sseTestClient(
      `${stack.gateway.url}/graphql/stream`,
      { authorization: `Bearer ${await stack.issueToken(memberOf(tenantA, 'short-sse'), 2)}` },
      { retryAttempts: 0 },
    );
    clients.push(sseClient);
    const overSse = sseClient.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await overSse.collector.until((c) => c.completed, 'expiry over SSE');
    assert.equal(overSse.collector.results.at(-1)?.errors?.[0]?.extensions?.['reason'], 'TOKEN_EXPIRED');
  });

  it('billing restarts: the subscription resumes (current balance again, then updates); a gateway that cannot reach it in time ends it with SUBGRAPH_UNAVAILABLE', async () => {
    const impatient = await stack.startGateway({ SUBSCRIPTION_UPSTREAM_RETRY_MS: '300' });
    try {
      const resumes = (await ws(memberOf(tenantA, 'restart'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
      const overSse = (await sse(memberOf(tenantA, 'restart-sse'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
      const ends = wsTestClient(impatient.url + '/graphql', { authorization: `Bearer ${await stack.issueToken(memberOf(tenantA, 'impatient'))}` });
      clients.push(ends);
      const ended = ends.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
      for (const { collector } of [resumes, overSse, ended]) await collector.count(1);

      await stack.billing.stop();
      await ended.collector.until((c) => c.completed, 'SUBGRAPH_UNAVAILABLE');
      assert.equal(ended.collector.results.at(-1)?.errors?.[0]?.extensions?.['code'], 'SUBGRAPH_UNAVAILABLE');

      const seenBefore = resumes.collector.results.length;
      const sseBefore = overSse.collector.results.length;
      await stack.billing.start();
      // Reopened upstream: the current balance (no entry) arrives again, then new updates.
      await resumes.collector.until((c) => c.results.length > seenBefore, 'resumed snapshot');
      assert.equal(resumes.collector.last?.balanceChanged.entry, null);
      const version = await recordUsage(stack, tenantA, 1);
      await resumes.collector.until((c) => versionOf(c.last) === version, `version ${version} after restart`);
      await overSse.collector.until((c) => c.results.length > sseBefore && versionOf(c.last) === version, `SSE version ${version} after restart`);
      assert.equal(resumes.collector.completed, false);
      resumes.unsubscribe();
      overSse.unsubscribe();
    } finally {
      await impatient.stop();
    }
  });

  it('gateway shutdown closes WebSockets with 1001 and ends SSE streams; clients reconnect and resubscribe', async () => {
    const wsClient = await ws(memberOf(tenantA, 'reconnect'));
    const viaWs = wsClient.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    const viaSse = (await sse(memberOf(tenantA, 'reconnect-sse'))).subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId: tenantA });
    await viaWs.collector.count(1);
    await viaSse.collector.count(1);

    await stack.gateway.stop();
    assert.ok(
      wsClient.closes.some((close) => close.code === 1001),
      JSON.stringify(wsClient.closes),
    );
    await stack.gateway.start();

    const version = await recordUsage(stack, tenantA, 1);
    await viaWs.collector.until((c) => versionOf(c.last) === version, `version ${version} after reconnect`);
    await viaSse.collector.until((c) => versionOf(c.last) === version, `SSE version ${version} after reconnect`);
    assert.equal(viaWs.collector.completed, false);
    assert.equal(viaSse.collector.completed, false);
    viaWs.unsubscribe();
    viaSse.unsubscribe();
  });
});
