import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { AutoTopUpFailed, InProcessEventBus, outboxRow, toEnvelope, type EventEnvelope } from '@saldo/events';
import { createLogger } from '@saldo/service';
import {
  startSmtpSink,
  startTestSubgraph,
  startWebhookReceiver,
  testLogger,
  waitUntil,
  type SmtpSink,
  type TestSubgraph,
  type WebhookReceiver,
} from '@saldo/testing';
import { loadTenantsConfig, type TenantsConfig } from '../config.js';
import { tenantsSubgraph } from '../definition.js';
import type { TenantsServices } from '../graphql/context.js';

type Tenants = TestSubgraph<TenantsServices, TenantsConfig>;

const ENV = {
  MAIL_FROM: 'notify@saldo.test',
  WEBHOOK_RETRY_BASE_SECONDS: '1',
  JOBS_POLLING_INTERVAL_SECONDS: '0.5',
};

let smtp: SmtpSink;
let receiver: WebhookReceiver;
let bus: InProcessEventBus;
let first: Tenants;
let second: Tenants | undefined;
/** Every line either instance logged at warn or above (JSON). */
const logged: Array<{ level: string; msg: string; service: string }> = [];
const recordingLogger = () =>
  createLogger({ service: 'test', level: 'warn', format: 'json', write: (line) => logged.push(JSON.parse(line) as (typeof logged)[number]) });

async function ok<T>(subgraph: Tenants, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await subgraph.query<T>(query, variables);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as T;
}

function declined(tenantId: string, n: number): EventEnvelope {
  const now = new Date().toISOString();
  return toEnvelope(
    outboxRow(AutoTopUpFailed, tenantId, {
      tenantId,
      attemptId: '0190a0a0-0000-7000-8000-' + String(n).padStart(12, '0'),
      amountMinor: '2000',
      currency: 'EUR',
      balanceMinor: '100',
      failureCode: 'card_declined',
      declineCode: 'insufficient_funds',
      message: `decline ${n}`,
      consecutiveFailures: n,
      nextAttemptAfter: now,
      failedAt: now,
    }),
  );
}

before(async () => {
  smtp = await startSmtpSink();
  receiver = await startWebhookReceiver();
  bus = new InProcessEventBus(testLogger());
  first = await startTestSubgraph(tenantsSubgraph, loadTenantsConfig, {
    label: 'notifystop',
    bus,
    env: { ...ENV, SMTP_URL: smtp.url },
    logger: recordingLogger(),
  });
});

after(async () => {
  await second?.service.stop();
  await first?.destroy();
  await receiver?.close();
  await smtp?.close();
});

it('stopping the service while deliveries are in flight logs no error and loses nothing: the next instance sends the rest, in order, once each', async () => {
  const { createTenant } = await ok<{ createTenant: { id: string } }>(
    first,
    'mutation { createTenant(input: { name: "Stopp GmbH", currency: "EUR", country: "DE" }) { id } }',
  );
  const tenantId = createTenant.id;
  await ok(first, 'mutation($tenantId: ID!) { setNotificationSettings(tenantId: $tenantId, input: { recipients: ["kasse@stopp.test"] }) { language } }', {
    tenantId,
  });
  const created = await ok<{ createWebhookEndpoint: { secret: string } }>(
    first,
    'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }',
    { input: { tenantId, url: receiver.url } },
  );
  receiver.secrets.push(created.createWebhookEndpoint.secret);

  // The receiver is slow: the first webhook stays in flight while the service stops, and is then refused (503).
  receiver.hold = true;
  const events = [1, 2, 3, 4, 5].map((n) => declined(tenantId, n));
  await bus.publish(events);
  await waitUntil(() => receiver.held === 1, 'the first webhook in flight');

  const health = `${first.service.url}/health`;
  const stopping = first.service.stop();
  // Answer only once the service no longer serves (it is stopping), so the failure is recorded during the shutdown.
  await waitUntil(
    () =>
      fetch(health).then(
        () => false,
        () => true,
      ),
    'the service to stop serving',
  );
  receiver.down = 503;
  receiver.release();
  await stopping;
  assert.deepEqual(
    logged.filter((line) => line.level === 'error'),
    [],
    'no error while stopping',
  );
  // Only the lane's head went out (once, or again if its one-second retry came due while the queue still ran), refused.
  assert.ok(
    receiver.requests.every((request) => request.id === events[0]!.id && !request.accepted),
    'the lane stopped at its failed head',
  );

  // The next instance (same databases) sends what is left once the receiver is back: every event, in order, once.
  receiver.down = null;
  second = await startTestSubgraph(tenantsSubgraph, loadTenantsConfig, {
    sharing: first,
    bus: new InProcessEventBus(testLogger()),
    env: { ...ENV, SMTP_URL: smtp.url },
    logger: recordingLogger(),
  });
  const accepted = await receiver.waitForAccepted(5);
  assert.deepEqual(
    accepted.map((hook) => hook.id),
    events.map((event) => event.id),
    'in order, once each',
  );
  assert.ok(accepted.every((hook) => hook.verified));
  await smtp.waitFor(5);
  await second.service.services.notifications.dispatcher.idle();
  assert.equal(receiver.accepted.length, 5, 'no webhook twice');
  assert.deepEqual(
    smtp.mails.map((mail) => mail.parsed.messageId).sort(),
    [...new Set(smtp.mails.map((mail) => mail.parsed.messageId))].sort(),
    'no mail twice',
  );
  assert.equal(smtp.mails.length, 5);
  const located = await second.service.runtime.db.emForTenant(tenantId);
  const statuses = await located!.em.execute<{ status: string; n: string }[]>('select status, count(*) as n from notification_delivery group by status');
  assert.deepEqual(
    statuses.map((row) => [row.status, Number(row.n)]),
    [['DELIVERED', 10]],
  );
  assert.deepEqual(
    logged.filter((line) => line.level === 'error'),
    [],
    'no error at all',
  );
});
