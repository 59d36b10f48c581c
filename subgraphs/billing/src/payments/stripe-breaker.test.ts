import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import { errorCodes, startStripeStandIn, startTestSubgraph, waitUntil, type StripeStandIn, type TestSubgraph } from '@saldo/testing';
import { loadBillingConfig, type BillingConfig } from '../config.js';
import { billingSubgraph, type BillingServices } from '../definition.js';

let standIn: StripeStandIn;
let subgraph: TestSubgraph<BillingServices, BillingConfig>;

const CREATE_TOP_UP = /* GraphQL */ `
  mutation Create($input: CreateTopUpInput!) {
    createTopUp(input: $input) {
      id
      status
      sessionId
    }
  }
`;

const tenantAdmin = (tenantId: string): Identity => ({ role: 'tenant-admin', subject: 'admin@tenant', tenantId });

function createTopUp(tenantId: string, idempotencyKey: string) {
  return subgraph.query<{ createTopUp: { id: string; status: string; sessionId: string } }>(
    CREATE_TOP_UP,
    { input: { tenantId, amount: { amountMinor: 5_000, currency: 'EUR' }, idempotencyKey } },
    tenantAdmin(tenantId),
  );
}

async function ledger(tenantId: string) {
  const located = await subgraph.service.runtime.db.emForTenant(tenantId);
  assert.ok(located);
  const [account] = await located.em.execute<{ balance_minor: string }[]>('select balance_minor from account where tenant_id = ?', [tenantId]);
  const topUps = await located.em.execute<{ amount_minor: string }[]>("select amount_minor from ledger_entry where tenant_id = ? and type = 'TOP_UP'", [
    tenantId,
  ]);
  return { balance: BigInt(account!.balance_minor), topUps: topUps.map((entry) => BigInt(entry.amount_minor)) };
}

describe("Stripe's circuit breaker", () => {
  before(async () => {
    standIn = await startStripeStandIn();
    subgraph = await startTestSubgraph(billingSubgraph, loadBillingConfig, {
      label: 'stripebreaker',
      env: {
        ...standIn.env(),
        // No retries inside stripe-node: each GraphQL call is one failed request while Stripe is down.
        STRIPE_MAX_NETWORK_RETRIES: '0',
        STRIPE_BREAKER_FAILURES: '2',
        STRIPE_BREAKER_HALF_OPEN_MS: '300',
      },
    });
    standIn.setWebhookUrl(`${subgraph.service.url}/webhooks/stripe`);
  });

  after(async () => {
    await subgraph?.destroy();
    await standIn?.close();
  });

  it('opens when the stand-in Stripe stops (fast DEPENDENCY_UNAVAILABLE), closes when it starts again, and no money moves twice', async () => {
    const tenantId = randomUUID();
    await subgraph.service.services.accounts.open(tenantId, 'EUR');
    const guard = subgraph.service.services.stripe!.guard;
    assert.equal(guard.state, 'closed');

    await standIn.stop();
    // Stripe unreachable: each call fails on its own (nothing charged, retry with the same key) until the circuit opens.
    for (let i = 0; i < 2; i++) assert.deepEqual(errorCodes(await createTopUp(tenantId, 'order-1')), ['PAYMENT_PROVIDER_UNAVAILABLE']);
    assert.equal(guard.state, 'open');
    const requestsBefore = { ...standIn.counts.requests };
    const refused = await createTopUp(tenantId, 'order-1');
    assert.deepEqual(errorCodes(refused), ['DEPENDENCY_UNAVAILABLE']);
    assert.equal(refused.errors![0]!.extensions!['dependency'], 'stripe');
    assert.equal(refused.errors![0]!.extensions!['reason'], 'circuit-open', 'refused without asking Stripe');
    assert.deepEqual(standIn.counts.requests, requestsBefore);

    await standIn.start();
    // After the open period one trial call goes through, succeeds and closes the circuit.
    const created = await waitUntil(async () => {
      const response = await createTopUp(tenantId, 'order-1');
      if (response.errors) {
        assert.deepEqual(errorCodes(response), ['DEPENDENCY_UNAVAILABLE']);
        return null;
      }
      return response.data!.createTopUp;
    }, 'the circuit to close once Stripe answers again');
    assert.equal(guard.state, 'closed');
    assert.equal(created.status, 'OPEN');

    // The same key again: the same top-up and session, nothing new at Stripe.
    const sessionsBefore = standIn.counts.checkoutSessions;
    const again = await createTopUp(tenantId, 'order-1');
    assert.equal(again.data!.createTopUp.sessionId, created.sessionId);
    assert.equal(standIn.counts.checkoutSessions, sessionsBefore);
    assert.equal([...standIn.checkoutSessions.values()].filter((session) => session['metadata']['tenantId'] === tenantId).length, 1);

    // Paid once, webhooks delivered twice each: credited once.
    const paid = standIn.completeCheckout(created.sessionId);
    for (const event of [paid.checkoutCompleted, paid.paymentIntentSucceeded, paid.checkoutCompleted, paid.paymentIntentSucceeded]) {
      assert.equal((await standIn.deliver(event)).status, 200);
    }
    assert.deepEqual(await ledger(tenantId), { balance: 5_000n, topUps: [5_000n] });
    assert.equal((await subgraph.service.services.ledger.verify(tenantId)).consistent, true);
  });
});
