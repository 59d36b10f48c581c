import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import { errorCodes, waitUntil } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

const TENANT = /* GraphQL */ `
  query Tenant($id: ID!) {
    tenant(id: $id) {
      balance {
        available {
          amountMinor
          currency
        }
      }
      transactions(type: TOP_UP) {
        edges {
          node {
            amount {
              amountMinor
              currency
            }
            externalRef
          }
        }
      }
      autoTopUp {
        enabled
        mode
        threshold {
          amountMinor
          currency
        }
        amount {
          amountMinor
        }
      }
    }
  }
`;

describe('top-ups through the gateway, with the embedded Stripe stand-in', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack('topup');
  });

  after(async () => {
    await stack?.destroy();
  });

  it('starts a development stand-in (no Stripe account) that billing pays through, end to end', async () => {
    assert.ok(stack.stripeStandIn, 'the embedded default runs the stand-in');
    const created = await stack.gql(`mutation { createTenant(input: { name: "Praxis Dr. Weber", currency: "EUR", country: "DE" }) { id } }`);
    const tenantId = created.data!.createTenant.id as string;
    await stack.flushEvents();
    const admin: Identity = { role: 'tenant-admin', subject: 'owner@praxis.example', tenantId };

    const response = await stack.gql(
      `mutation($input: CreateTopUpInput!) { createTopUp(input: $input) { status checkoutUrl sessionId amount { amountMinor currency } } }`,
      { input: { tenantId, amount: { amountMinor: 5000, currency: 'EUR' }, idempotencyKey: 'first-top-up' } },
      admin,
    );
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    const topUp = response.data!.createTopUp;
    assert.equal(topUp.status, 'OPEN');
    assert.ok(topUp.checkoutUrl.startsWith(`${stack.stripeStandIn!.url}/checkout/`));

    const page = await fetch(topUp.checkoutUrl);
    assert.match(await page.text(), /this is NOT Stripe/);
    const paid = await fetch(`${topUp.checkoutUrl}/pay`, { method: 'POST', redirect: 'manual' });
    assert.equal(paid.status, 303);
    // Back to the customer portal (served by the stack's gateway), which waits for the balance to arrive live.
    assert.match(paid.headers.get('location')!, /\/portal\/top-up\/done\?session_id=cs_test_/);

    // The stand-in delivers checkout.session.completed and payment_intent.succeeded to billing: one credit, whichever
    // handles the payment first; the other credits nothing. Wait until billing has answered both.
    const sessionId = new URL(paid.headers.get('location')!, stack.stripeStandIn!.url).searchParams.get('session_id')!;
    const paymentIntentId = stack.stripeStandIn!.checkoutSessions.get(sessionId)!['payment_intent'] as string;
    const acknowledged = (type: string, objectId: string) =>
      stack.stripeStandIn!.deliveries.some((d) => d.type === type && d.objectId === objectId && d.status === 200);
    await waitUntil(
      () => acknowledged('checkout.session.completed', sessionId) && acknowledged('payment_intent.succeeded', paymentIntentId),
      'billing to acknowledge both payment events',
    );
    let tenant = (await stack.gql(TENANT, { id: tenantId }, admin)).data!.tenant;
    assert.deepEqual(tenant.balance.available, { amountMinor: 5000, currency: 'EUR' });
    assert.equal(tenant.transactions.edges.length, 1);
    assert.match(tenant.transactions.edges[0].node.externalRef, /^pi_/);
    assert.equal(tenant.autoTopUp, null);

    const card = stack.stripeStandIn!.savePaymentMethod(tenantId);
    const rule = await stack.gql(
      `mutation($input: SetAutoTopUpInput!) { setAutoTopUp(input: $input) { enabled } }`,
      {
        input: {
          tenantId,
          threshold: { amountMinor: 1000, currency: 'EUR' },
          mode: 'FIXED_AMOUNT',
          amount: { amountMinor: 2000, currency: 'EUR' },
          dailyCap: { amountMinor: 10000, currency: 'EUR' },
          stripeCustomerId: card.customerId,
          paymentMethodId: card.paymentMethodId,
        },
      },
      admin,
    );
    assert.equal(rule.errors, undefined, JSON.stringify(rule.errors));
    tenant = (await stack.gql(TENANT, { id: tenantId }, admin)).data!.tenant;
    assert.deepEqual(tenant.autoTopUp, {
      enabled: true,
      mode: 'FIXED_AMOUNT',
      threshold: { amountMinor: 1000, currency: 'EUR' },
      amount: { amountMinor: 2000 },
    });

    // A tenant member reads the balance but not the payment settings, and cannot pay.
    const member: Identity = { role: 'tenant-member', subject: 'staff@praxis.example', tenantId };
    assert.equal((await stack.gql(TENANT, { id: tenantId }, member)).data!.tenant.autoTopUp, null);
    const refused = await stack.gql(
      `mutation($input: CreateTopUpInput!) { createTopUp(input: $input) { status } }`,
      { input: { tenantId, amount: { amountMinor: 5000, currency: 'EUR' }, idempotencyKey: 'member' } },
      member,
    );
    assert.deepEqual(errorCodes(refused), ['FORBIDDEN']);
  });

  it('serves the Stripe webhook on billing itself, not through the gateway', async () => {
    const viaGateway = await fetch(`${stack.gateway.url}/webhooks/stripe`, { method: 'POST', body: '{}' });
    assert.notEqual(viaGateway.status, 200);
    const direct = await fetch(`${stack.billing.url}/webhooks/stripe`, { method: 'POST', body: '{}' });
    assert.equal(direct.status, 400);
  });
});
