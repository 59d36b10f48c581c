import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AutoTopUpFailed, Topic, decode, type EventEnvelope } from '@saldo/events';
import type { Identity } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import type { SubgraphDefinition } from '@saldo/subgraph';
import { errorCodes, startStripeStandIn, startTestSubgraph, waitUntil, type StripeStandIn, type TestSubgraph } from '@saldo/testing';
import { loadBillingConfig, type BillingConfig } from '../config.js';
import { billingSubgraph, createBillingServices, type BillingServices } from '../definition.js';
import { AutoTopUpAttemptStatus, AutoTopUpMode } from './entities/auto-top-up.js';
import { LedgerEntryType } from '../ledger/index.js';
import { backoffSeconds } from './services/auto-top-up-service.js';

/** "Now" for every billing service, movable by tests (backoff windows, the daily cap's UTC day). */
let now = new Date('2026-03-15T12:00:00.000Z');
const clock = { now: () => now };
const definition: SubgraphDefinition<BillingServices, BillingConfig> = {
  ...billingSubgraph,
  createServices: (runtime) => createBillingServices(runtime, { clock }),
};

let standIn: StripeStandIn;
let subgraph: TestSubgraph<BillingServices, BillingConfig>;
let services: BillingServices;
let db: ShardedDatabase;
const notifications: EventEnvelope[] = [];

const BACKOFF_BASE = 600;
const BACKOFF_MAX = 3600;

const SET_AUTO_TOP_UP = /* GraphQL */ `
  mutation Set($input: SetAutoTopUpInput!) {
    setAutoTopUp(input: $input) {
      enabled
      mode
      stripeCustomerId
      paymentMethodId
      consecutiveFailures
      backoffUntil
      threshold {
        amountMinor
        currency
      }
      amount {
        amountMinor
        currency
      }
      dailyCap {
        amountMinor
        currency
      }
      lastFailure {
        code
        message
        at
      }
    }
  }
`;

const READ_AUTO_TOP_UP = /* GraphQL */ `
  query Read($representations: [_Any!]!) {
    _entities(representations: $representations) {
      ... on Tenant {
        id
        autoTopUp {
          enabled
          mode
          threshold {
            amountMinor
          }
        }
      }
    }
  }
`;

const tenantAdmin = (tenantId: string): Identity => ({ role: 'tenant-admin', subject: 'admin@tenant', tenantId });

interface RuleSpec {
  threshold?: number;
  mode?: AutoTopUpMode;
  amount?: number;
  dailyCap?: number;
  paymentMethodId?: string;
}

/** A rule input with a card the tenant saved on its own Stripe customer (the stand-in's end state of the setup flow). */
function ruleInput(tenantId: string, spec: RuleSpec = {}) {
  const saved = standIn.savePaymentMethod(tenantId, spec.paymentMethodId ?? 'pm_card_visa');
  return {
    tenantId,
    threshold: { amountMinor: spec.threshold ?? 5_000, currency: 'EUR' },
    mode: spec.mode ?? AutoTopUpMode.FIXED_AMOUNT,
    amount: { amountMinor: spec.amount ?? 2_000, currency: 'EUR' },
    dailyCap: { amountMinor: spec.dailyCap ?? 50_000, currency: 'EUR' },
    stripeCustomerId: saved.customerId,
    paymentMethodId: saved.paymentMethodId,
  };
}

async function newTenant(startMinor: bigint, spec?: RuleSpec): Promise<string> {
  const tenantId = randomUUID();
  await services.accounts.open(tenantId, 'EUR');
  if (startMinor > 0n)
    await services.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: startMinor, idempotencyKey: `test:start:${tenantId}` }] });
  if (spec) {
    const response = await subgraph.query(SET_AUTO_TOP_UP, { input: ruleInput(tenantId, spec) }, tenantAdmin(tenantId));
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
  }
  return tenantId;
}

let debitCounter = 0;
function debit(tenantId: string, amountMinor: bigint) {
  debitCounter += 1;
  return services.ledger.post({
    tenantId,
    entries: [{ type: LedgerEntryType.USAGE, amountMinor: -amountMinor, idempotencyKey: `usage:test-${debitCounter}-${randomUUID()}` }],
  });
}

async function balance(tenantId: string): Promise<bigint> {
  return (await services.ledger.verify(tenantId)).cachedBalanceMinor;
}

function intentsOf(tenantId: string) {
  return [...standIn.paymentIntents.values()].filter((intent) => intent['metadata']?.['tenantId'] === tenantId);
}

/** Runs the worker until nothing is due and no attempt of the tenant is in flight (the background worker may hold one). */
async function settle(tenantId: string): Promise<void> {
  await waitUntil(async () => {
    await services.autoTopUp.drain();
    const inFlight = (await services.autoTopUp.attempts(tenantId)).filter(
      (attempt) => attempt.status === AutoTopUpAttemptStatus.PENDING || (attempt.status === AutoTopUpAttemptStatus.PROCESSING && !attempt.paymentIntentId),
    );
    return inFlight.length === 0;
  }, 'auto-top-up attempts to settle');
  await subgraph.service.runtime.relay.flush();
}

describe('auto-top-up', () => {
  before(async () => {
    standIn = await startStripeStandIn();
    subgraph = await startTestSubgraph(definition, loadBillingConfig, {
      label: 'autotopup',
      env: {
        ...standIn.env(),
        DATABASE_POOL_MAX: '12',
        AUTO_TOPUP_BACKOFF_BASE_SECONDS: String(BACKOFF_BASE),
        AUTO_TOPUP_BACKOFF_MAX_SECONDS: String(BACKOFF_MAX),
        AUTO_TOPUP_POLL_INTERVAL_MS: '100',
      },
    });
    standIn.setWebhookUrl(`${subgraph.service.url}/webhooks/stripe`);
    services = subgraph.service.services;
    db = subgraph.service.runtime.db;
    subgraph.service.runtime.bus.subscribe(Topic.NotificationEvents, 'test.notifications', async (event) => {
      notifications.push(event);
    });
  });

  after(async () => {
    await subgraph?.destroy();
    await standIn?.close();
  });

  it('computes the backoff as base x 2^(n-1), capped', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 40].map((n) => backoffSeconds(n, 600, 3600)),
      [600, 1200, 2400, 3600, 3600, 3600],
    );
  });

  it('sets and reads the rule through GraphQL with scope pay (tenant members and partners see null)', async () => {
    const tenantId = await newTenant(10_000n);
    const input = ruleInput(tenantId, { threshold: 3_000, amount: 2_500, dailyCap: 10_000 });
    const response = await subgraph.query(SET_AUTO_TOP_UP, { input }, tenantAdmin(tenantId));
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    assert.deepEqual(response.data!.setAutoTopUp, {
      enabled: true,
      mode: 'FIXED_AMOUNT',
      stripeCustomerId: input.stripeCustomerId,
      paymentMethodId: input.paymentMethodId,
      consecutiveFailures: 0,
      backoffUntil: null,
      threshold: { amountMinor: 3000, currency: 'EUR' },
      amount: { amountMinor: 2500, currency: 'EUR' },
      dailyCap: { amountMinor: 10000, currency: 'EUR' },
      lastFailure: null,
    });
    const representations = [{ __typename: 'Tenant', id: tenantId }];
    const asAdmin = await subgraph.query(READ_AUTO_TOP_UP, { representations }, tenantAdmin(tenantId));
    assert.deepEqual(asAdmin.data!._entities[0].autoTopUp, { enabled: true, mode: 'FIXED_AMOUNT', threshold: { amountMinor: 3000 } });
    const asMember = await subgraph.query(READ_AUTO_TOP_UP, { representations }, { role: 'tenant-member', subject: 'm', tenantId });
    assert.equal(asMember.data!._entities[0].autoTopUp, null);
    assert.deepEqual(errorCodes(await subgraph.query(SET_AUTO_TOP_UP, { input: ruleInput(tenantId) }, { role: 'tenant-member', subject: 'm', tenantId })), [
      'FORBIDDEN',
    ]);
    assert.deepEqual(
      errorCodes(await subgraph.query(SET_AUTO_TOP_UP, { input: ruleInput(tenantId) }, { role: 'partner', subject: 'p', partnerId: randomUUID() })),
      ['FORBIDDEN'],
    );

    const disabled = await subgraph.query(`mutation($id: ID!) { disableAutoTopUp(tenantId: $id) { enabled } }`, { id: tenantId }, tenantAdmin(tenantId));
    assert.deepEqual(disabled.data, { disableAutoTopUp: { enabled: false } });
    // A disabled rule never triggers.
    await debit(tenantId, 8_000n);
    await settle(tenantId);
    assert.equal((await services.autoTopUp.attempts(tenantId)).length, 0);
  });

  it('refuses bad rules with a stable code and writes nothing', async () => {
    const tenantId = await newTenant(10_000n);
    const cases: Array<[string, Record<string, unknown>]> = [
      ['INVALID_CURRENCY', { ...ruleInput(tenantId), threshold: { amountMinor: 1000, currency: 'USD' } }],
      [
        'INVALID_CURRENCY',
        {
          ...ruleInput(tenantId),
          amount: { amountMinor: 2000, currency: 'USD' },
          threshold: { amountMinor: 1000, currency: 'USD' },
          dailyCap: { amountMinor: 9000, currency: 'USD' },
        },
      ],
      ['AMOUNT_TOO_SMALL', ruleInput(tenantId, { amount: 100 })],
      ['AMOUNT_TOO_LARGE', ruleInput(tenantId, { amount: 2_000_000 })],
      ['AMOUNT_TOO_SMALL', ruleInput(tenantId, { mode: AutoTopUpMode.TOP_UP_TO, threshold: 5_000, amount: 5_200 })],
      ['AMOUNT_TOO_SMALL', ruleInput(tenantId, { amount: 2_000, dailyCap: 1_000 })],
      ['INVALID_AMOUNT', ruleInput(tenantId, { threshold: -1 })],
      ['INVALID_ID', { ...ruleInput(tenantId), stripeCustomerId: 'customer-1' }],
      ['INVALID_ID', { ...ruleInput(tenantId), paymentMethodId: 'card_123' }],
      // Cards the tenant did not save on its own customer (docs/security.md, attack 2): checked with Stripe.
      ['PAYMENT_METHOD_NOT_OWNED', { ...ruleInput(randomUUID()), tenantId }],
      ['PAYMENT_METHOD_NOT_OWNED', { ...ruleInput(tenantId), paymentMethodId: ruleInput(randomUUID()).paymentMethodId }],
      ['PAYMENT_METHOD_NOT_OWNED', { ...ruleInput(tenantId), paymentMethodId: 'pm_card_visa' }],
      ['PAYMENT_METHOD_NOT_OWNED', { ...ruleInput(tenantId), stripeCustomerId: 'cus_unknown', paymentMethodId: 'pm_unknown' }],
    ];
    const intentsBefore = standIn.counts.paymentIntents;
    for (const [code, input] of cases) assert.deepEqual(errorCodes(await subgraph.query(SET_AUTO_TOP_UP, { input }, tenantAdmin(tenantId))), [code], code);
    assert.equal(await services.autoTopUp.get(tenantId), null);
    assert.equal(standIn.counts.paymentIntents, intentsBefore, 'nothing charged');
  });

  it('charges exactly once when 20 concurrent debits cross the threshold, and credits through the stripe:pi path', async () => {
    const tenantId = await newTenant(10_000n, { threshold: 5_000, amount: 2_000 });
    const intentsBefore = standIn.counts.paymentIntents;
    const results = await Promise.all(Array.from({ length: 20 }, () => debit(tenantId, 300n)));
    assert.equal(results.filter((result) => result.posted.length === 1).length, 20);
    await settle(tenantId);

    const attempts = await services.autoTopUp.attempts(tenantId);
    assert.equal(attempts.length, 1, 'one attempt per crossing');
    assert.equal(attempts[0]!.status, AutoTopUpAttemptStatus.SUCCEEDED);
    assert.equal(attempts[0]!.amountMinor, 2_000n);
    assert.equal(standIn.counts.paymentIntents - intentsBefore, 1, 'one PaymentIntent at Stripe');
    const [intent] = intentsOf(tenantId);
    assert.equal(intent!['status'], 'succeeded');
    const rule = await services.autoTopUp.get(tenantId);
    assert.equal(intent!['customer'], rule!.stripeCustomerId);
    assert.equal(intent!['payment_method'], rule!.stripePaymentMethodId);
    assert.equal(intent!['metadata']['autoTopUpAttemptId'], attempts[0]!.id);
    assert.ok(standIn.idempotencyKeys.has(`auto-top-up:${attempts[0]!.id}`));
    assert.equal(await balance(tenantId), 10_000n - 6_000n + 2_000n);

    // Stripe's own payment_intent.succeeded for it finds the payment credited already.
    const response = await standIn.deliver(standIn.event('payment_intent.succeeded', intent!));
    assert.equal(response.status, 200);
    assert.equal(await balance(tenantId), 6_000n);
    const em = (await db.emForTenant(tenantId))!.em;
    const credits = await em.execute<{ count: string }[]>(`select count(*) from ledger_entry where tenant_id = ? and idempotency_key = ?`, [
      tenantId,
      `stripe:pi:${intent!['id']}`,
    ]);
    assert.equal(credits[0]!.count, '1');
    assert.equal((await services.ledger.verify(tenantId)).consistent, true);
  });

  it('tops up to the target in TOP_UP_TO mode', async () => {
    const tenantId = await newTenant(10_000n, { mode: AutoTopUpMode.TOP_UP_TO, threshold: 5_000, amount: 12_000 });
    await debit(tenantId, 6_500n);
    await settle(tenantId);
    const [attempt] = await services.autoTopUp.attempts(tenantId);
    assert.equal(attempt!.amountMinor, 12_000n - 3_500n);
    assert.equal(await balance(tenantId), 12_000n);
  });

  it('backs off after a decline, emits auto_top_up.failed, and retries once after the window', async () => {
    const tenantId = await newTenant(10_000n, { threshold: 5_000, amount: 2_000, paymentMethodId: 'pm_card_chargeDeclinedInsufficientFunds' });
    const intentsBefore = intentsOf(tenantId).length;
    await debit(tenantId, 6_000n);
    await settle(tenantId);

    let attempts = await services.autoTopUp.attempts(tenantId);
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]!.status, AutoTopUpAttemptStatus.FAILED);
    assert.equal(attempts[0]!.failureCode, 'card_declined');
    let rule = (await services.autoTopUp.get(tenantId))!;
    assert.equal(rule.consecutiveFailures, 1);
    assert.equal(rule.backoffUntil!.getTime(), now.getTime() + BACKOFF_BASE * 1000);
    assert.equal(rule.lastFailureCode, 'card_declined');
    const failed = notifications.filter((event) => event.key === tenantId).map((event) => decode(AutoTopUpFailed, event)!);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.attemptId, attempts[0]!.id);
    assert.equal(failed[0]!.failureCode, 'card_declined');
    assert.equal(failed[0]!.declineCode, 'insufficient_funds');
    assert.equal(failed[0]!.amountMinor, '2000');
    assert.equal(failed[0]!.consecutiveFailures, 1);
    assert.equal(failed[0]!.nextAttemptAfter, rule.backoffUntil!.toISOString());
    assert.equal(await balance(tenantId), 4_000n);

    // Inside the window: debits charge nothing and record nothing.
    await Promise.all(Array.from({ length: 5 }, () => debit(tenantId, 100n)));
    now = new Date(now.getTime() + (BACKOFF_BASE - 1) * 1000);
    await debit(tenantId, 100n);
    await settle(tenantId);
    assert.equal((await services.autoTopUp.attempts(tenantId)).length, 1);
    assert.equal(intentsOf(tenantId).length - intentsBefore, 1);

    // After it: the next debit retries once (even though it crosses nothing), and a second decline doubles the wait.
    now = new Date(now.getTime() + 2000);
    await Promise.all(Array.from({ length: 5 }, () => debit(tenantId, 100n)));
    await settle(tenantId);
    attempts = await services.autoTopUp.attempts(tenantId);
    assert.equal(attempts.length, 2);
    assert.equal(intentsOf(tenantId).length - intentsBefore, 2);
    rule = (await services.autoTopUp.get(tenantId))!;
    assert.equal(rule.consecutiveFailures, 2);
    assert.equal(rule.backoffUntil!.getTime(), now.getTime() + 2 * BACKOFF_BASE * 1000);
    assert.equal(notifications.filter((event) => event.key === tenantId).length, 2);

    // A new card (setting the rule again) clears the backoff; the balance is below the threshold, so the next debit charges it.
    const reset = await subgraph.query(SET_AUTO_TOP_UP, { input: ruleInput(tenantId, { threshold: 5_000, amount: 2_000 }) }, tenantAdmin(tenantId));
    assert.equal(reset.data!.setAutoTopUp.consecutiveFailures, 0);
    assert.equal(reset.data!.setAutoTopUp.lastFailure.code, 'card_declined');
    const before = await balance(tenantId);
    await debit(tenantId, 100n);
    await settle(tenantId);
    attempts = await services.autoTopUp.attempts(tenantId);
    assert.equal(attempts[0]!.status, AutoTopUpAttemptStatus.SUCCEEDED);
    assert.equal(await balance(tenantId), before - 100n + 2_000n);
    assert.equal((await services.autoTopUp.get(tenantId))!.consecutiveFailures, 0);
  });

  it('enforces the daily cap and retries the next UTC day', async () => {
    now = new Date('2026-03-20T09:00:00.000Z');
    const tenantId = await newTenant(6_000n, { threshold: 5_000, amount: 2_000, dailyCap: 4_000 });
    for (let crossing = 0; crossing < 2; crossing += 1) {
      await debit(tenantId, 2_000n);
      await settle(tenantId);
      assert.equal(await balance(tenantId), 6_000n);
    }
    // The third crossing today would exceed 4,000: no attempt, no charge.
    await debit(tenantId, 2_000n);
    await debit(tenantId, 100n);
    await settle(tenantId);
    assert.equal((await services.autoTopUp.attempts(tenantId)).length, 2);
    assert.equal(intentsOf(tenantId).length, 2);
    assert.equal(await balance(tenantId), 3_900n);

    now = new Date('2026-03-21T00:00:01.000Z');
    await debit(tenantId, 100n);
    await settle(tenantId);
    const attempts = await services.autoTopUp.attempts(tenantId);
    assert.equal(attempts.length, 3);
    assert.equal(attempts[0]!.status, AutoTopUpAttemptStatus.SUCCEEDED);
    assert.equal(await balance(tenantId), 5_800n);
  });

  it('charges only what is left of the daily cap when that is at least the minimum top-up', async () => {
    now = new Date('2026-03-22T09:00:00.000Z');
    const tenantId = await newTenant(6_000n, { threshold: 5_000, amount: 2_000, dailyCap: 3_000 });
    await debit(tenantId, 2_000n);
    await settle(tenantId);
    await debit(tenantId, 2_000n);
    await settle(tenantId);
    const attempts = await services.autoTopUp.attempts(tenantId);
    assert.deepEqual(
      attempts.map((attempt) => attempt.amountMinor),
      [1_000n, 2_000n],
    );
  });

  it('waits for the webhook when Stripe accepts the payment but it settles later, and fails it on payment_failed', async () => {
    const tenantId = await newTenant(10_000n, { threshold: 5_000, amount: 2_000, paymentMethodId: 'pm_standin_processing' });
    await debit(tenantId, 6_000n);
    await settle(tenantId);
    let [attempt] = await services.autoTopUp.attempts(tenantId);
    assert.equal(attempt!.status, AutoTopUpAttemptStatus.PROCESSING);
    assert.ok(attempt!.paymentIntentId);
    const intent = standIn.paymentIntents.get(attempt!.paymentIntentId!)!;
    assert.equal(await balance(tenantId), 4_000n);
    // More debits while it is in flight start nothing.
    await debit(tenantId, 100n);
    assert.equal((await services.autoTopUp.attempts(tenantId)).length, 1);

    const succeeded = standIn.event('payment_intent.succeeded', { ...intent, status: 'succeeded', amount_received: intent['amount'] });
    assert.equal((await standIn.deliver(succeeded)).status, 200);
    [attempt] = await services.autoTopUp.attempts(tenantId);
    assert.equal(attempt!.status, AutoTopUpAttemptStatus.SUCCEEDED);
    assert.equal(await balance(tenantId), 5_900n);

    // Another tenant's accepted payment fails later: the attempt fails, backs off and notifies, once.
    const other = await newTenant(10_000n, { threshold: 5_000, amount: 2_000, paymentMethodId: 'pm_standin_processing' });
    await debit(other, 6_000n);
    await settle(other);
    const [pending] = await services.autoTopUp.attempts(other);
    const failedIntent = {
      ...standIn.paymentIntents.get(pending!.paymentIntentId!)!,
      status: 'requires_payment_method',
      last_payment_error: { code: 'card_declined', decline_code: 'do_not_honor', message: 'Your card was declined.' },
    };
    const failedEvent = standIn.event('payment_intent.payment_failed', failedIntent);
    await Promise.all([standIn.deliver(failedEvent), standIn.deliver(failedEvent)]);
    await subgraph.service.runtime.relay.flush();
    const [failed] = await services.autoTopUp.attempts(other);
    assert.equal(failed!.status, AutoTopUpAttemptStatus.FAILED);
    assert.equal((await services.autoTopUp.get(other))!.consecutiveFailures, 1);
    const sent = notifications.filter((event) => event.key === other).map((event) => decode(AutoTopUpFailed, event)!);
    assert.deepEqual(
      sent.map((event) => event.declineCode),
      ['do_not_honor'],
    );

    // A third settles without any webhook reaching billing: the worker looks at the PaymentIntent again an hour later.
    const quiet = await newTenant(10_000n, { threshold: 5_000, amount: 2_000, paymentMethodId: 'pm_standin_processing' });
    await debit(quiet, 6_000n);
    await settle(quiet);
    const [settling] = await services.autoTopUp.attempts(quiet);
    Object.assign(standIn.paymentIntents.get(settling!.paymentIntentId!)!, { status: 'succeeded', amount_received: 2_000 });
    now = new Date(now.getTime() + 3_600_000 + 1000);
    await settle(quiet);
    const [settled] = await services.autoTopUp.attempts(quiet);
    assert.equal(settled!.status, AutoTopUpAttemptStatus.SUCCEEDED);
    assert.equal(await balance(quiet), 6_000n);
    assert.equal(intentsOf(quiet).length, 1, 'looked at, not charged again');
  });

  it('does not trigger on refunds or credits, only on debits that reach the threshold', async () => {
    const tenantId = await newTenant(10_000n, { threshold: 5_000, amount: 2_000 });
    await services.ledger.post({
      tenantId,
      overdraft: 'ignore',
      entries: [{ type: LedgerEntryType.REFUND, amountMinor: -6_000n, idempotencyKey: 'stripe:re:test' }],
    });
    await debit(tenantId, 100n); // below the threshold already, no crossing, nothing owed
    await settle(tenantId);
    assert.equal((await services.autoTopUp.attempts(tenantId)).length, 0);
  });
});
