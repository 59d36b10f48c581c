import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AnomalyDetected, BrandingChanged, DepletionSoon, FraudCaseOpened, InProcessEventBus, outboxRow, toEnvelope, type EventEnvelope } from '@saldo/events';
import {
  startSmtpSink,
  startTestSubgraph,
  startWebhookReceiver,
  testLogger,
  type ReceivedMail,
  type SmtpSink,
  type TestSubgraph,
  type WebhookReceiver,
} from '@saldo/testing';
import { loadTenantsConfig, type TenantsConfig } from '../config.js';
import { tenantsSubgraph } from '../definition.js';
import type { TenantsServices } from '../graphql/context.js';

/** The notification kinds usage-forecast produces: depletion ahead, anomalies (tenants) and fraud cases (operators). */

let subgraph: TestSubgraph<TenantsServices, TenantsConfig>;
let bus: InProcessEventBus;
let smtp: SmtpSink;
let receiver: WebhookReceiver;
let partnerId: string;

const ok = async <T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
  const result = await subgraph.query<T>(query, variables);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as T;
};

/** A tenant of the branded partner with a mail recipient, its runway threshold and its own webhook endpoint. */
async function tenant(name: string, country: string, settings: Record<string, unknown>): Promise<string> {
  const created = await ok<{ createTenant: { id: string } }>('mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }', {
    input: { name, currency: 'EUR', country, partnerId },
  });
  const tenantId = created.createTenant.id;
  await ok('mutation($tenantId: ID!, $input: NotificationSettingsInput!) { setNotificationSettings(tenantId: $tenantId, input: $input) { language } }', {
    tenantId,
    input: settings,
  });
  const endpoint = await ok<{ createWebhookEndpoint: { secret: string } }>(
    'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }',
    { input: { tenantId, url: receiver.url } },
  );
  receiver.secrets.push(endpoint.createWebhookEndpoint.secret);
  return tenantId;
}

function depletionSoon(tenantId: string, daysLeft: number): EventEnvelope {
  return toEnvelope(
    outboxRow(DepletionSoon, tenantId, {
      tenantId,
      currency: 'EUR',
      balanceMinor: '123456',
      depletionDate: '2026-12-08',
      earliest: '2026-12-06',
      latest: '2026-12-11',
      daysLeft,
      confidence: 0.8,
      modelVersion: 3,
      computedAt: new Date().toISOString(),
    }),
  );
}

function anomaly(tenantId: string): EventEnvelope {
  return toEnvelope(
    outboxRow(AnomalyDetected, tenantId, {
      anomalyId: randomUUID(),
      tenantId,
      granularity: 'HOUR',
      periodStart: '2026-11-29T03:00:00.000Z',
      observed: 1250,
      expected: 80.5,
      score: 9.4,
      severity: 'HIGH',
      detectedAt: new Date().toISOString(),
    }),
  );
}

/** Mails and webhooks that arrived for one event (a mail names its notification, not the event: matched by recipient). */
async function arrivals(
  recipient: string,
  eventId: string,
  mails: number,
  hooks: number,
): Promise<{ mails: ReceivedMail[]; hooks: WebhookReceiver['accepted'] }> {
  await subgraph.service.services.notifications.dispatcher.idle();
  const mailList = smtp.mails.filter((mail) => mail.to.includes(recipient));
  const hookList = receiver.accepted.filter((hook) => hook.id === eventId);
  assert.equal(mailList.length, mails, `${mails} mail(s) to ${recipient}`);
  assert.equal(hookList.length, hooks, `${hooks} webhook(s) of ${eventId}`);
  return { mails: mailList, hooks: hookList };
}

before(async () => {
  smtp = await startSmtpSink();
  receiver = await startWebhookReceiver();
  bus = new InProcessEventBus(testLogger());
  subgraph = await startTestSubgraph(tenantsSubgraph, loadTenantsConfig, {
    label: 'notifykinds',
    bus,
    env: { SMTP_URL: smtp.url, MAIL_FROM: 'notify@saldo.test', NOTIFY_OPERATOR_EMAILS: 'risk@platform.test, oncall@platform.test' },
  });
  const data = await ok<{ createPartner: { id: string } }>(
    'mutation { createPartner(input: { name: "Voxly", country: "DE", contactEmail: "ops@voxly.test" }) { id } }',
  );
  partnerId = data.createPartner.id;
  await bus.publish([
    toEnvelope(
      outboxRow(BrandingChanged, partnerId, {
        level: 'PARTNER',
        partnerId,
        tenantId: null,
        values: {
          displayName: 'Voxly',
          primaryColor: '#223344',
          accentColor: '#AA5500',
          logoUrl: 'https://cdn.voxly.test/logo.png',
          supportEmail: 'help@voxly.test',
        },
        changedAt: new Date().toISOString(),
      }),
    ),
  ]);
});

after(async () => {
  await subgraph?.destroy();
  await receiver?.close();
  await smtp?.close();
});

describe('forecast.depletion_soon', () => {
  it("mails a German tenant in German with its partner's branding and sends the signed webhook; a forecast beyond the tenant's runway days tells no one", async () => {
    const tenantId = await tenant('Laufzeit GmbH', 'DE', { recipients: ['kasse@laufzeit.test'], runwayDaysThreshold: 7 });
    const soon = depletionSoon(tenantId, 5);
    const [mailsBefore, hooksBefore] = [smtp.mails.length, receiver.accepted.length];
    await bus.publish([soon, depletionSoon(tenantId, 12)]);
    await smtp.waitFor(mailsBefore + 1);
    await receiver.waitForAccepted(hooksBefore + 1);
    const { mails, hooks } = await arrivals('kasse@laufzeit.test', soon.id, 1, 1);

    const mail = mails[0]!;
    assert.equal(mail.parsed.subject, 'Voxly: Ihr Guthaben reicht nicht mehr lange');
    assert.equal(mail.parsed.from?.value[0]?.name, 'Voxly');
    assert.equal(mail.parsed.replyTo?.value[0]?.address, 'help@voxly.test');
    assert.match(mail.parsed.text ?? '', /noch etwa 5 Tage \(bis 2026-12-08\)/);
    assert.match(mail.parsed.text ?? '', /Guthaben: 1\.234,56\s€/);
    assert.match(mail.parsed.text ?? '', /Verbleibende Tage: 5/);
    const html = String(mail.parsed.html);
    assert.match(html, /<html lang="de">/);
    assert.match(html, /background:#223344/);
    assert.match(html, /<img src="https:\/\/cdn\.voxly\.test\/logo\.png"/);

    const hook = hooks[0]!;
    assert.ok(hook.verified, 'signed (verified by the standardwebhooks package)');
    assert.deepEqual(
      { type: hook.payload.type, version: hook.payload.version, tenantId: hook.payload.tenantId },
      { type: 'forecast.depletion_soon', version: 1, tenantId },
    );
    assert.equal(hook.payload.data['daysLeft'], 5);
    assert.equal(hook.payload.data['depletionDate'], '2026-12-08');
    assert.equal(receiver.accepted.filter((accepted) => accepted.payload.tenantId === tenantId).length, 1, '12 days left is beyond the 7-day runway');
  });
});

describe('anomaly.detected', () => {
  it('mails an English tenant in English with the branding and sends the signed webhook, once whatever the redeliveries', async () => {
    const tenantId = await tenant('Spike Ltd', 'GB', { recipients: ['ops@spike.test'] });
    const detected = anomaly(tenantId);
    await bus.publish([detected]);
    await receiver.waitForAccepted(receiver.accepted.length + 1);
    await bus.publish([detected, detected]);
    const { mails, hooks } = await arrivals('ops@spike.test', detected.id, 1, 1);

    const mail = mails[0]!;
    assert.equal(mail.parsed.subject, 'Voxly: Unusual usage detected');
    assert.match(mail.parsed.text ?? '', /Your usage looks unusual \(1,250 in one hour where about 80\.5 was expected\)/);
    assert.match(mail.parsed.text ?? '', /Severity: HIGH/);
    assert.match(String(mail.parsed.html), /<html lang="en">/);
    assert.match(String(mail.parsed.html), /border-top:4px solid #AA5500/);

    const hook = hooks[0]!;
    assert.ok(hook.verified);
    assert.deepEqual({ type: hook.payload.type, version: hook.payload.version }, { type: 'anomaly.detected', version: 1 });
    assert.equal(hook.payload.data['severity'], 'HIGH');
    assert.equal(hook.payload.data['observed'], 1250);
  });
});

describe('fraud.case_opened', () => {
  it("goes to the platform's operators only: one English mail in the platform's branding, no tenant mail, no webhook", async () => {
    const tenantId = await tenant('Verdacht GmbH', 'DE', { recipients: ['chef@verdacht.test'] });
    const opened = toEnvelope(
      outboxRow(FraudCaseOpened, tenantId, {
        caseId: randomUUID(),
        tenantId,
        partnerId,
        score: 93.25,
        severity: 'CRITICAL',
        signals: [
          { kind: 'velocity', score: 95, detail: '40x the usual calls per hour' },
          { kind: 'destinations', score: 80, detail: 'premium-rate numbers' },
        ],
        suspendUsage: false,
        openedAt: '2026-11-29T04:00:00.000Z',
      }),
    );
    const before = smtp.mails.length;
    await bus.publish([opened]);
    await smtp.waitFor(before + 1);
    await subgraph.service.services.notifications.dispatcher.idle();

    const mails = smtp.mails.slice(before);
    assert.equal(mails.length, 1, 'one mail for all operators');
    const mail = mails[0]!;
    assert.deepEqual(mail.to.sort(), ['oncall@platform.test', 'risk@platform.test']);
    assert.equal(mail.parsed.subject, `Saldo: Fraud case opened for tenant ${tenantId}`);
    assert.equal(mail.parsed.from?.value[0]?.name, 'Saldo', "the platform's name, not the tenant's partner's");
    assert.match(mail.parsed.text ?? '', /severity CRITICAL, score 93\.3\): velocity: 40x the usual calls per hour; destinations: premium-rate numbers/);
    assert.doesNotMatch(String(mail.parsed.html), /voxly/i, "no partner branding in the operators' mail");
    assert.equal(smtp.mails.filter((received) => received.to.includes('chef@verdacht.test')).length, 0, 'the tenant is not told');
    assert.equal(receiver.accepted.filter((hook) => hook.id === opened.id).length, 0, 'fraud cases are not webhook events');
  });
});
