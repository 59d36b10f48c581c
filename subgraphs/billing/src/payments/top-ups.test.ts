import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { errorCodes, startStripeStandIn, startTestSubgraph, type StandInEvent, type StripeStandIn, type TestSubgraph } from '@saldo/testing';
import { loadBillingConfig, type BillingConfig } from '../config.js';
import { billingSubgraph, createBillingServices, type BillingServices } from '../definition.js';
import { LedgerEntryType } from '../ledger/index.js';
import { TopUpStatus } from './entities/top-up.js';

let standIn: StripeStandIn;
let subgraph: TestSubgraph<BillingServices, BillingConfig>;
let services: BillingServices;
let db: ShardedDatabase;

const CREATE_TOP_UP = /* GraphQL */ `
  mutation Create($input: CreateTopUpInput!) {
    createTopUp(input: $input) {
      id
      tenantId
      idempotencyKey
      status
      checkoutUrl
      sessionId
      expiresAt
      amount {
        amountMinor
        currency
      }
      credit {
        amountMinor
        currency
      }
      exchangeRate {
        from
        to
        rate
        source
      }
    }
  }
`;

const tenantAdmin = (tenantId: string): Identity => ({ role: 'tenant-admin', subject: 'admin@tenant', tenantId });

async function newTenant(currency = 'EUR'): Promise<string> {
  const tenantId = randomUUID();
  await services.accounts.open(tenantId, currency);
  return tenantId;
}

function createTopUp(tenantId: string, amountMinor: number, currency: string, idempotencyKey: string, identity: Identity = tenantAdmin(tenantId)) {
  return subgraph.query(CREATE_TOP_UP, { input: { tenantId, amount: { amountMinor, currency }, idempotencyKey } }, identity);
}

async function shardOf(tenantId: string) {
  const located = await db.emForTenant(tenantId);
  assert.ok(located);
  return located.em;
}

/** Everything a top-up or webhook may write for a tenant, plus the control database's event log. */
async function footprint(tenantId: string) {
  const em = await shardOf(tenantId);
  const [row] = await em.execute<{ entries: string; balance: string; version: number; top_ups: string; events: string }[]>(
    `select (select count(*) from ledger_entry where tenant_id = ?) as entries, a.balance_minor as balance, a.version,
            (select count(*) from top_up where tenant_id = ?) as top_ups, (select count(*) from outbox_event where key = ?) as events
       from account a where a.tenant_id = ?`,
    [tenantId, tenantId, tenantId, tenantId],
  );
  const [stripeEvents] = await db.globalEm().execute<{ count: string }[]>('select count(*) from stripe_event');
  return { ...row, stripeEvents: stripeEvents?.count };
}

async function balance(tenantId: string): Promise<bigint> {
  const em = await shardOf(tenantId);
  const [row] = await em.execute<{ balance_minor: string }[]>('select balance_minor from account where tenant_id = ?', [tenantId]);
  return BigInt(row!.balance_minor);
}

async function entries(tenantId: string) {
  const em = await shardOf(tenantId);
  return em.execute<{ type: string; amount_minor: string; idempotency_key: string; external_ref: string | null; metadata: any }[]>(
    'select type, amount_minor, idempotency_key, external_ref, metadata from ledger_entry where tenant_id = ? order by account_version',
    [tenantId],
  );
}

async function stripeEvent(id: string) {
  const [row] = await db
    .globalEm()
    .execute<{ status: string; deliveries: number; tenant_id: string | null; result: any; type: string }[]>(
      'select status, deliveries, tenant_id, result, type from stripe_event where id = ?',
      [id],
    );
  return row;
}

async function consistent(tenantId: string) {
  assert.equal((await services.ledger.verify(tenantId)).consistent, true, 'ledger chain consistent');
}

/** A top-up created through GraphQL and paid at the stand-in; returns its events (not delivered yet). */
async function paidTopUp(tenantId: string, amountMinor: number, currency = 'EUR') {
  const created = await createTopUp(tenantId, amountMinor, currency, `key-${randomUUID()}`);
  assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  const topUp = created.data!.createTopUp;
  return { topUp, ...standIn.completeCheckout(topUp.sessionId) };
}

describe('Stripe top-ups and webhooks', () => {
  before(async () => {
    standIn = await startStripeStandIn();
    subgraph = await startTestSubgraph(billingSubgraph, loadBillingConfig, { label: 'topups', env: { ...standIn.env(), DATABASE_POOL_MAX: '10' } });
    standIn.setWebhookUrl(`${subgraph.service.url}/webhooks/stripe`);
    services = subgraph.service.services;
    db = subgraph.service.runtime.db;
  });

  after(async () => {
    await subgraph?.destroy();
    await standIn?.close();
  });

  describe('createTopUp', () => {
    it('creates a Checkout Session with the tenant and key in metadata and a Stripe idempotency key derived from ours', async () => {
      const tenantId = await newTenant();
      const response = await createTopUp(tenantId, 5_000, 'EUR', 'order-2026-001');
      assert.equal(response.errors, undefined, JSON.stringify(response.errors));
      const topUp = response.data!.createTopUp;
      assert.equal(topUp.status, 'OPEN');
      assert.match(topUp.sessionId, /^cs_test_/);
      assert.equal(topUp.checkoutUrl, `${standIn.url}/checkout/${topUp.sessionId}`);
      assert.deepEqual(topUp.amount, { amountMinor: 5000, currency: 'EUR' });
      assert.deepEqual(topUp.credit, { amountMinor: 5000, currency: 'EUR' });
      assert.equal(topUp.exchangeRate, null);
      assert.ok(topUp.expiresAt);
      const session = standIn.checkoutSessions.get(topUp.sessionId)!;
      assert.equal(session['mode'], 'payment');
      assert.equal(session['amount_total'], 5000);
      assert.equal(session['currency'], 'eur');
      assert.deepEqual(session['metadata'], { tenantId, topUpId: topUp.id, idempotencyKey: 'order-2026-001', kind: 'saldo_top_up' });
      assert.equal(session['payment_intent_data']['metadata']['tenantId'], tenantId);
      assert.ok(standIn.idempotencyKeys.has(`top-up:${tenantId}:order-2026-001`));
    });

    it('returns one Checkout Session to 50 concurrent calls with the same key', async () => {
      const tenantId = await newTenant();
      const before = standIn.counts.checkoutSessions;
      standIn.latencyMs = 100;
      try {
        const responses = await Promise.all(Array.from({ length: 50 }, () => createTopUp(tenantId, 2_500, 'EUR', 'same-key')));
        for (const response of responses) assert.equal(response.errors, undefined, JSON.stringify(response.errors));
        const sessionIds = new Set(responses.map((response) => response.data!.createTopUp.sessionId));
        assert.equal(sessionIds.size, 1);
        assert.equal(new Set(responses.map((response) => response.data!.createTopUp.id)).size, 1);
      } finally {
        standIn.latencyMs = 0;
      }
      assert.equal(standIn.counts.checkoutSessions - before, 1, 'one Checkout Session at Stripe');
      assert.equal((await footprint(tenantId))!.top_ups, '1');
      // Later, the same key still answers with the same session.
      const again = await createTopUp(tenantId, 2_500, 'EUR', 'same-key');
      assert.equal(
        again.data!.createTopUp.sessionId,
        [...standIn.checkoutSessions.values()].find((session) => session['metadata']['tenantId'] === tenantId)!['id'],
      );
      assert.equal(standIn.counts.checkoutSessions - before, 1);
    });

    it('lets one of 50 concurrent top-ups with different keys proceed and refuses the rest with TOPUP_IN_PROGRESS', async () => {
      const tenantId = await newTenant();
      const before = standIn.counts.checkoutSessions;
      standIn.latencyMs = 300;
      let responses;
      try {
        responses = await Promise.all(Array.from({ length: 50 }, (_, index) => createTopUp(tenantId, 1_000, 'EUR', `key-${index}`)));
      } finally {
        standIn.latencyMs = 0;
      }
      const succeeded = responses.filter((response) => !response.errors);
      const refused = responses.filter((response) => response.errors);
      assert.equal(succeeded.length, 1);
      assert.equal(refused.length, 49);
      for (const response of refused) assert.deepEqual(errorCodes(response), ['TOPUP_IN_PROGRESS']);
      assert.equal(standIn.counts.checkoutSessions - before, 1);
      assert.equal((await footprint(tenantId))!.top_ups, '1', 'the refused ones wrote nothing');
      // Once the first is done, the lock is free again.
      const next = await createTopUp(tenantId, 1_000, 'EUR', 'key-after');
      assert.equal(next.errors, undefined);
    });

    it('refuses bad input with a stable code and writes nothing', async () => {
      const tenantId = await newTenant();
      const beforeFootprint = await footprint(tenantId);
      const beforeSessions = standIn.counts.checkoutSessions;
      const cases: Array<[string, Promise<any>]> = [
        ['AMOUNT_TOO_SMALL', createTopUp(tenantId, 499, 'EUR', 'k1')],
        ['AMOUNT_TOO_LARGE', createTopUp(tenantId, 1_000_001, 'EUR', 'k2')],
        ['INVALID_AMOUNT', createTopUp(tenantId, 0, 'EUR', 'k3')],
        ['INVALID_AMOUNT', createTopUp(tenantId, -500, 'EUR', 'k4')],
        ['INVALID_CURRENCY', createTopUp(tenantId, 5_000, 'EUX', 'k5')],
        ['INVALID_CURRENCY', createTopUp(tenantId, 5_000, 'HUF', 'k6')], // a real currency without top-up limits
        ['EXCHANGE_RATE_NOT_FOUND', createTopUp(tenantId, 5_000, 'JPY', 'k7')], // limits, but no JPY/EUR rate
        ['INVALID_ID', createTopUp(tenantId, 5_000, 'EUR', 'not a key!')],
        ['INVALID_ID', createTopUp(tenantId, 5_000, 'EUR', 'x'.repeat(129))],
        ['INVALID_ID', subgraph.query(CREATE_TOP_UP, { input: { tenantId: 'nope', amount: { amountMinor: 5000, currency: 'EUR' }, idempotencyKey: 'k8' } })],
        ['ACCOUNT_NOT_FOUND', createTopUp(randomUUID(), 5_000, 'EUR', 'k9', { role: 'platform-admin', subject: 'ops' })],
        ['FORBIDDEN', createTopUp(tenantId, 5_000, 'EUR', 'k10', { role: 'tenant-member', subject: 'member', tenantId })],
        ['FORBIDDEN', createTopUp(tenantId, 5_000, 'EUR', 'k11', tenantAdmin(randomUUID()))],
      ];
      for (const [code, pending] of cases) assert.deepEqual(errorCodes(await pending), [code], code);
      assert.deepEqual(await footprint(tenantId), beforeFootprint);
      assert.equal(standIn.counts.checkoutSessions, beforeSessions);

      const first = await createTopUp(tenantId, 5_000, 'EUR', 'reused');
      assert.equal(first.errors, undefined);
      assert.deepEqual(errorCodes(await createTopUp(tenantId, 6_000, 'EUR', 'reused')), ['IDEMPOTENCY_KEY_REUSED']);
      assert.deepEqual(errorCodes(await createTopUp(tenantId, 5_000, 'USD', 'reused')), ['IDEMPOTENCY_KEY_REUSED']);
    });

    it('refuses with STRIPE_NOT_CONFIGURED when billing has no Stripe account, and the webhook endpoint answers 503', async () => {
      const unconfigured = createBillingServices(subgraph.service.runtime, { stripe: null });
      const tenantId = await newTenant();
      await assert.rejects(
        unconfigured.topUps.createTopUp({ tenantId, amount: { amountMinor: 5000n, currency: 'EUR' }, idempotencyKey: 'k' }),
        (error: any) => error.extensions.code === 'STRIPE_NOT_CONFIGURED',
      );
      const response = await unconfigured.webhooks.receive(Buffer.from('{}'), 'sig');
      assert.equal(response.httpStatus, 503);
      assert.equal((await footprint(tenantId))!.top_ups, '0');
    });

    it('quotes a top-up in another currency at the stored rate and credits exactly that', async () => {
      const tenantId = await newTenant('EUR');
      const response = await createTopUp(tenantId, 1_001, 'USD', 'usd-1');
      assert.equal(response.errors, undefined, JSON.stringify(response.errors));
      const topUp = response.data!.createTopUp;
      // 10.01 USD x 0.925 = 9.25925 EUR -> 9.26 EUR (half up, once)
      assert.deepEqual(topUp.amount, { amountMinor: 1001, currency: 'USD' });
      assert.deepEqual(topUp.credit, { amountMinor: 926, currency: 'EUR' });
      assert.deepEqual(topUp.exchangeRate, { from: 'USD', to: 'EUR', rate: '0.925', source: 'saldo-default-table' });
      assert.equal(standIn.checkoutSessions.get(topUp.sessionId)!['currency'], 'usd');

      const paid = standIn.completeCheckout(topUp.sessionId);
      assert.equal((await standIn.deliver(paid.checkoutCompleted)).status, 200);
      assert.equal(await balance(tenantId), 926n);
      const [entry] = await entries(tenantId);
      assert.equal(entry!.type, LedgerEntryType.TOP_UP);
      assert.equal(entry!.amount_minor, '926');
      assert.deepEqual(entry!.metadata.paid, { amountMinor: '1001', currency: 'USD' });
      assert.deepEqual(entry!.metadata.fx, {
        from: 'USD',
        to: 'EUR',
        rate: '0.925',
        source: 'saldo-default-table',
        asOf: null,
        originalAmountMinor: '1001',
        originalCurrency: 'USD',
        convertedAmountMinor: '926',
        rounding: 'HALF_UP',
      });

      // A full refund takes back exactly what was credited; two partial ones add up to exactly the same.
      const refunded = standIn.refund(paid.paymentIntent['id'], 500);
      assert.equal((await standIn.deliver(refunded.chargeRefunded)).status, 200);
      const rest = standIn.refund(paid.paymentIntent['id']);
      assert.equal((await standIn.deliver(rest.chargeRefunded)).status, 200);
      const refunds = (await entries(tenantId)).filter((row) => row.type === LedgerEntryType.REFUND);
      // 5.00 USD = 4.625 -> 4.63 EUR; all 10.01 USD = 9.26 EUR, so the second takes 4.63 EUR
      assert.deepEqual(
        refunds.map((row) => row.amount_minor),
        ['-463', '-463'],
      );
      assert.equal(await balance(tenantId), 0n);
      await consistent(tenantId);
    });
  });

  describe('webhooks', () => {
    it('credits once when the same event is delivered 5 times concurrently', async () => {
      const tenantId = await newTenant();
      const { topUp, checkoutCompleted, paymentIntent } = await paidTopUp(tenantId, 2_000);
      const responses = await Promise.all(Array.from({ length: 5 }, () => standIn.deliver(checkoutCompleted)));
      assert.deepEqual(
        responses.map((response) => response.status),
        [200, 200, 200, 200, 200],
      );
      assert.equal(await balance(tenantId), 2_000n);
      const credits = (await entries(tenantId)).filter((row) => row.idempotency_key === `stripe:pi:${paymentIntent['id']}`);
      assert.equal(credits.length, 1);
      assert.equal(credits[0]!.external_ref, paymentIntent['id']);
      assert.equal(credits[0]!.metadata.topUpId, topUp.id);
      assert.equal(credits[0]!.metadata.stripe.checkoutSessionId, topUp.sessionId);
      const recorded = await stripeEvent(checkoutCompleted.id);
      assert.equal(recorded!.status, 'PROCESSED');
      assert.equal(recorded!.deliveries, 5);
      assert.equal(recorded!.tenant_id, tenantId);
      const row = await services.topUps.get(tenantId, topUp.id);
      assert.equal(row!.status, TopUpStatus.COMPLETED);
      assert.equal(row!.paymentIntentId, paymentIntent['id']);
      assert.ok(row!.ledgerEntryId);
      await consistent(tenantId);
    });

    it('credits once when checkout.session.completed and payment_intent.succeeded both announce the payment, in either order or at once', async () => {
      for (const order of ['checkout-first', 'intent-first', 'concurrent'] as const) {
        const tenantId = await newTenant();
        const { checkoutCompleted, paymentIntentSucceeded } = await paidTopUp(tenantId, 3_000);
        if (order === 'checkout-first') {
          await standIn.deliver(checkoutCompleted);
          await standIn.deliver(paymentIntentSucceeded);
        } else if (order === 'intent-first') {
          await standIn.deliver(paymentIntentSucceeded);
          await standIn.deliver(checkoutCompleted);
        } else {
          await Promise.all([
            standIn.deliver(checkoutCompleted),
            standIn.deliver(paymentIntentSucceeded),
            standIn.deliver(checkoutCompleted),
            standIn.deliver(paymentIntentSucceeded),
          ]);
        }
        assert.equal(await balance(tenantId), 3_000n, order);
        assert.equal((await entries(tenantId)).length, 1, order);
        const results = [(await stripeEvent(checkoutCompleted.id))!.result.credit, (await stripeEvent(paymentIntentSucceeded.id))!.result.credit].sort();
        assert.deepEqual(results, ['CREDITED', 'DUPLICATE'], order);
        await consistent(tenantId);
      }
    });

    it('handles a refund that arrives before the payment succeeded: the refund proves the payment, the late success credits nothing', async () => {
      const tenantId = await newTenant();
      const { checkoutCompleted, paymentIntent } = await paidTopUp(tenantId, 4_000);
      const { chargeRefunded, refund } = standIn.refund(paymentIntent['id']);
      assert.equal((await standIn.deliver(chargeRefunded)).status, 200);
      assert.equal(await balance(tenantId), 0n);
      assert.deepEqual(
        (await entries(tenantId)).map((row) => [row.type, row.amount_minor, row.idempotency_key]),
        [
          ['TOP_UP', '4000', `stripe:pi:${paymentIntent['id']}`],
          ['REFUND', '-4000', `stripe:re:${refund['id']}`],
        ],
      );
      assert.equal((await standIn.deliver(checkoutCompleted)).status, 200);
      assert.equal((await standIn.deliver(chargeRefunded)).status, 200);
      assert.equal(await balance(tenantId), 0n);
      assert.equal((await entries(tenantId)).length, 2);
      assert.equal((await stripeEvent(checkoutCompleted.id))!.result.credit, 'DUPLICATE');
      await consistent(tenantId);
    });

    it('books partial refunds once per refund id, also when the balance is spent already (overdraft ignored)', async () => {
      const tenantId = await newTenant();
      const { checkoutCompleted, paymentIntent } = await paidTopUp(tenantId, 5_000);
      await standIn.deliver(checkoutCompleted);
      await services.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.USAGE, amountMinor: -4_500n, idempotencyKey: 'usage:spend' }] });
      const first = standIn.refund(paymentIntent['id'], 1_000);
      const second = standIn.refund(paymentIntent['id'], 2_000);
      // The first event is delivered late: by then Stripe lists both refunds, and each is booked once.
      await Promise.all([standIn.deliver(second.chargeRefunded), standIn.deliver(first.chargeRefunded), standIn.deliver(second.chargeRefunded)]);
      const refunds = (await entries(tenantId)).filter((row) => row.type === LedgerEntryType.REFUND);
      assert.deepEqual(
        refunds.map((row) => [row.amount_minor, row.external_ref]).sort(),
        [
          ['-1000', first.refund['id']],
          ['-2000', second.refund['id']],
        ].sort(),
      );
      assert.equal(await balance(tenantId), 5_000n - 4_500n - 3_000n);
      await consistent(tenantId);
    });

    it('rejects a bad signature with 400, logs it and writes nothing', async () => {
      const tenantId = await newTenant();
      const { checkoutCompleted } = await paidTopUp(tenantId, 2_000);
      const before = await footprint(tenantId);
      const url = `${subgraph.service.url}/webhooks/stripe`;
      const payload = JSON.stringify(checkoutCompleted);
      const post = (body: string, signature?: string) =>
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) }, body });
      const attempts = [
        await post(payload), // no signature
        await post(payload, standIn.sign(payload, { secret: 'whsec_wrongsecret' })),
        await post(payload.replace('"amount_total":2000', '"amount_total":2000000'), standIn.sign(payload)), // body changed after signing
        await post(payload, standIn.sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 })), // outside the 300 s tolerance
        await post(payload, 't=1,v1=deadbeef'),
      ];
      for (const response of attempts) {
        assert.equal(response.status, 400);
        assert.equal(((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code, 'INVALID_SIGNATURE');
      }
      assert.deepEqual(await footprint(tenantId), before);
      assert.equal(await stripeEvent(checkoutCompleted.id), undefined);
      // Within the tolerance it is accepted.
      assert.equal((await standIn.deliver(checkoutCompleted, { timestamp: Math.floor(Date.now() / 1000) - 200 })).status, 200);
      assert.equal(await balance(tenantId), 2_000n);
    });

    it('acknowledges and ignores unknown event types, foreign payments and unknown tenants', async () => {
      const tenantId = await newTenant();
      const before = await footprint(tenantId);
      const unknownType = standIn.event('customer.created', { id: 'cus_123', object: 'customer', metadata: { tenantId } });
      const foreign = standIn.event('payment_intent.succeeded', {
        id: 'pi_foreign',
        object: 'payment_intent',
        amount: 999,
        currency: 'eur',
        created: 1,
        metadata: {},
      });
      const malformed = standIn.event('payment_intent.succeeded', {
        id: 'pi_bad',
        object: 'payment_intent',
        amount: 999,
        currency: 'eur',
        created: 1,
        metadata: { tenantId: 'robert"); drop table' },
      });
      const stranger = randomUUID();
      const unknownTenant = standIn.event('payment_intent.succeeded', {
        id: 'pi_stranger',
        object: 'payment_intent',
        amount: 999,
        currency: 'eur',
        created: 1,
        metadata: { tenantId: stranger },
      });
      const expected: Array<[StandInEvent, string]> = [
        [unknownType, 'IGNORED'],
        [foreign, 'IGNORED'],
        [malformed, 'IGNORED'],
        [unknownTenant, 'TENANT_UNKNOWN'],
      ];
      for (const [event, status] of expected) {
        const response = await standIn.deliver(event);
        assert.equal(response.status, 200, event.type);
        assert.equal((await stripeEvent(event.id))!.status, status);
      }
      assert.equal((await stripeEvent(unknownTenant.id))!.tenant_id, stranger);
      const after = await footprint(tenantId);
      assert.deepEqual({ ...after, stripeEvents: undefined }, { ...before, stripeEvents: undefined });
      // A redelivery of a handled event is acknowledged without work.
      const again = await standIn.deliver(unknownType);
      assert.deepEqual(again.body, { received: true, duplicate: true, status: 'IGNORED' });
      assert.equal((await stripeEvent(unknownType.id))!.deliveries, 2);
    });

    it('marks a top-up EXPIRED when its session expires unpaid', async () => {
      const tenantId = await newTenant();
      const created = (await createTopUp(tenantId, 2_000, 'EUR', 'to-expire')).data!.createTopUp;
      const session = { ...standIn.checkoutSessions.get(created.sessionId)!, status: 'expired' };
      assert.equal((await standIn.deliver(standIn.event('checkout.session.expired', session))).status, 200);
      assert.equal((await services.topUps.get(tenantId, created.id))!.status, TopUpStatus.EXPIRED);
      assert.equal(await balance(tenantId), 0n);
    });

    it('does not credit a completed session whose payment is still pending', async () => {
      const tenantId = await newTenant();
      const created = (await createTopUp(tenantId, 2_000, 'EUR', 'async-pay')).data!.createTopUp;
      const session = { ...standIn.checkoutSessions.get(created.sessionId)!, status: 'complete', payment_status: 'unpaid' };
      const event = standIn.event('checkout.session.completed', session);
      assert.equal((await standIn.deliver(event)).status, 200);
      assert.equal((await stripeEvent(event.id))!.status, 'IGNORED');
      assert.equal(await balance(tenantId), 0n);
    });
  });
});
