import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { startSmtpSink, startWebhookReceiver, waitUntil, type SmtpSink, type WebhookReceiver } from '@saldo/testing';
import { wsTestClient, type WsTestClient } from './subscription-clients.js';
import { startTestStack, type TestStack } from './test-stack.js';

const NOTIFICATIONS = /* GraphQL */ `
  subscription Notes($tenantId: ID!) {
    notificationReceived(tenantId: $tenantId) {
      kind
      title
      dataJson
    }
  }
`;

interface Note {
  notificationReceived: { kind: string; title: string; dataJson: string };
}

describe('notifications across the platform', () => {
  let stack: TestStack;
  let smtp: SmtpSink;
  let receiver: WebhookReceiver;
  let client: WsTestClient;

  before(async () => {
    smtp = await startSmtpSink();
    receiver = await startWebhookReceiver();
    stack = await startTestStack('notify-e2e', { tenantsEnv: { SMTP_URL: smtp.url } });
  });

  after(async () => {
    await client?.dispose();
    await stack?.destroy();
    await receiver?.close();
    await smtp?.close();
  });

  async function ok<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const result = await stack.gql<T>(query, variables);
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return result.data as T;
  }

  let version = 0;
  async function post(tenantId: string, type: LedgerEntryType, amountMinor: bigint): Promise<void> {
    version += 1;
    await stack.billing.services.ledger.post({
      tenantId,
      currency: 'EUR',
      entries: [{ type, amountMinor, idempotencyKey: `e2e:${version}`, product: type === LedgerEntryType.USAGE ? 'inbound_minute' : null }],
    });
  }

  const lowMails = () => smtp.mails.filter((mail) => /Guthaben ist niedrig/.test(mail.parsed.subject ?? ''));
  const lowHooks = () => receiver.accepted.filter((hook) => hook.payload.type === 'balance.low');

  it('a balance crossing its threshold sends one mail, one webhook and one live notification; twenty debits below it send no more', async () => {
    const created = await ok<{ createTenant: { id: string } }>(
      'mutation { createTenant(input: { name: "Schwelle GmbH", currency: "EUR", country: "DE" }) { id } }',
    );
    const tenantId = created.createTenant.id;
    await stack.flushEvents();
    await ok(
      'mutation($id: ID!) { setNotificationSettings(tenantId: $id, input: { recipients: ["buchhaltung@schwelle.test"], lowBalanceThresholds: [{ amountMinor: 5000, currency: "EUR" }] }) { recipients } }',
      { id: tenantId },
    );
    const endpoint = await ok<{ createWebhookEndpoint: { secret: string } }>(
      'mutation($id: ID!, $url: String!) { createWebhookEndpoint(input: { tenantId: $id, url: $url, eventTypes: ["balance.low", "balance.depleted"] }) { secret } }',
      { id: tenantId, url: receiver.url },
    );
    receiver.secrets.push(endpoint.createWebhookEndpoint.secret);
    await stack.flushEvents(); // billing learns the thresholds (balance_alerts.configured)

    client = wsTestClient(stack.graphqlUrl, { authorization: `Bearer ${await stack.issueToken({ role: 'tenant-member', subject: 'member', tenantId })}` });
    const { collector } = client.subscribe<Note>(NOTIFICATIONS, { tenantId });
    // The feed has no first event: wait until the subscription reached the tenants subgraph, or an early crossing would
    // be published before anyone listens.
    await waitUntil(() => stack.tenants.services.notifications.feed.subscribers(tenantId) > 0, 'the live subscription');

    await post(tenantId, LedgerEntryType.TOP_UP, 6000n);
    await post(tenantId, LedgerEntryType.USAGE, -1500n); // 60.00 -> 45.00: crosses 50.00
    for (let debit = 0; debit < 20; debit += 1) await post(tenantId, LedgerEntryType.USAGE, -100n); // 45.00 -> 25.00, below all along
    await stack.flushEvents();

    while (lowMails().length === 0) await smtp.waitFor(smtp.mails.length + 1);
    await receiver.waitForAccepted(1);
    await collector.until((c) => c.data.some((note) => note.notificationReceived.kind === 'balance.low'), 'the live low-balance notification');
    await stack.flushEvents();
    await stack.tenants.services.notifications.dispatcher.idle();
    assert.equal(lowMails().length, 1, 'one mail');
    assert.equal(lowHooks().length, 1, 'one webhook');
    assert.ok(lowHooks()[0]!.verified);
    assert.deepEqual(
      { balance: lowHooks()[0]!.payload.data['balanceMinor'], threshold: lowHooks()[0]!.payload.data['thresholdMinor'] },
      { balance: '4500', threshold: '5000' },
    );
    assert.equal(collector.data.filter((note) => note.notificationReceived.kind === 'balance.low').length, 1);
    assert.equal(collector.data[0]!.notificationReceived.title, 'Ihr Guthaben ist niedrig');

    // A top-up lifts the balance above the threshold again: the next crossing is told again; hitting zero is "depleted".
    await post(tenantId, LedgerEntryType.TOP_UP, 5000n); // 25.00 -> 75.00
    await post(tenantId, LedgerEntryType.USAGE, -3000n); // -> 45.00: second crossing
    await post(tenantId, LedgerEntryType.USAGE, -4500n); // -> 0.00: depleted
    await stack.flushEvents();
    await receiver.waitForAccepted(3);
    // Other kinds may arrive as well (the forecast's depletion warning): wait for the depleted mail itself.
    while (!smtp.mails.some((mail) => /aufgebraucht/.test(mail.parsed.subject ?? ''))) await smtp.waitFor(smtp.mails.length + 1);
    await stack.tenants.services.notifications.dispatcher.idle();
    assert.deepEqual(
      receiver.accepted.map((hook) => hook.payload.type),
      ['balance.low', 'balance.low', 'balance.depleted'],
    );
    assert.equal(lowMails().length, 2);
    assert.ok(smtp.mails.some((mail) => /aufgebraucht/.test(mail.parsed.subject ?? '')));
  });

  it("refuses a subscription to another tenant's notifications", async () => {
    const created = await ok<{ createTenant: { id: string } }>(
      'mutation { createTenant(input: { name: "Fremd GmbH", currency: "EUR", country: "DE" }) { id } }',
    );
    const other = wsTestClient(stack.graphqlUrl, {
      authorization: `Bearer ${await stack.issueToken({ role: 'tenant-admin', subject: 'x', tenantId: '0190a0a0-0000-7000-8000-000000000001' })}`,
    });
    try {
      const { collector } = other.subscribe<Note>(NOTIFICATIONS, { tenantId: created.createTenant.id });
      await collector.until((c) => c.completed || c.results.some((result) => result.errors), 'a refusal');
      assert.equal(collector.results[0]?.errors?.[0]?.extensions?.['code'], 'FORBIDDEN');
    } finally {
      await other.dispose();
    }
  });
});
