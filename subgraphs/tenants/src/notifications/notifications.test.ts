import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AutoTopUpFailed,
  BalanceLow,
  BrandingChanged,
  DocumentIssued,
  InProcessEventBus,
  outboxRow,
  toEnvelope,
  type EventContract,
  type EventEnvelope,
} from '@saldo/events';
import { ShardMover } from '@saldo/sharding';
import type { z } from 'zod';
import {
  errorCodes,
  startSmtpSink,
  startTestSubgraph,
  startWebhookReceiver,
  testLogger,
  type SmtpSink,
  type TestSubgraph,
  type WebhookReceiver,
} from '@saldo/testing';
import { loadTenantsConfig, type TenantsConfig } from '../config.js';
import { tenantsSubgraph } from '../definition.js';
import type { TenantsServices } from '../graphql/context.js';

let subgraph: TestSubgraph<TenantsServices, TenantsConfig>;
let bus: InProcessEventBus;
let smtp: SmtpSink;
let partnerId: string;

const ok = async <T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
  const result = await subgraph.query<T>(query, variables);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as T;
};

async function createTenant(name: string, country: string): Promise<string> {
  const data = await ok<{ createTenant: { id: string } }>('mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }', {
    input: { name, currency: 'EUR', country, partnerId },
  });
  return data.createTenant.id;
}

const SET_SETTINGS = `mutation($tenantId: ID!, $input: NotificationSettingsInput!) {
  setNotificationSettings(tenantId: $tenantId, input: $input) { language recipients lowBalanceThresholds { amountMinor currency } emailKinds liveKinds }
}`;
const CREATE_ENDPOINT = `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id url eventTypes enabled } } }`;

async function endpointFor(tenantId: string, receiver: WebhookReceiver): Promise<{ id: string; secret: string }> {
  const data = await ok<{ createWebhookEndpoint: { secret: string; endpoint: { id: string } } }>(CREATE_ENDPOINT, { input: { tenantId, url: receiver.url } });
  receiver.secrets.push(data.createWebhookEndpoint.secret);
  return { id: data.createWebhookEndpoint.endpoint.id, secret: data.createWebhookEndpoint.secret };
}

/** Publishes events as their producers' relays would; resolves once the notifier committed them. */
async function publish(...events: EventEnvelope[]): Promise<void> {
  await bus.publish(events);
}

function event<C extends EventContract<string, z.ZodType>>(contract: C, key: string, payload: z.input<C['payload']>): EventEnvelope {
  return toEnvelope(outboxRow(contract, key, payload));
}

function lowBalance(tenantId: string, balanceMinor: string): EventEnvelope {
  return event(BalanceLow, tenantId, {
    tenantId,
    currency: 'EUR',
    thresholdMinor: '5000',
    balanceMinor,
    previousBalanceMinor: '5100',
    version: 7,
    crossedAt: new Date().toISOString(),
  });
}

function declined(tenantId: string, n: number): EventEnvelope {
  const now = new Date().toISOString();
  return event(AutoTopUpFailed, tenantId, {
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
  });
}

before(async () => {
  smtp = await startSmtpSink();
  bus = new InProcessEventBus(testLogger());
  subgraph = await startTestSubgraph(tenantsSubgraph, loadTenantsConfig, {
    label: 'notify',
    bus,
    env: {
      SMTP_URL: smtp.url,
      MAIL_FROM: 'notify@saldo.test',
      WEBHOOK_RETRY_BASE_SECONDS: '1',
      WEBHOOK_RETRY_WINDOW_SECONDS: '2',
      JOBS_POLLING_INTERVAL_SECONDS: '0.5',
    },
  });
  const data = await ok<{ createPartner: { id: string } }>(
    'mutation { createPartner(input: { name: "Acme Voice", country: "DE", contactEmail: "ops@acme.test" }) { id } }',
  );
  partnerId = data.createPartner.id;
  // The partner's branding, as white-label announces it.
  await publish(
    event(BrandingChanged, partnerId, {
      level: 'PARTNER',
      partnerId,
      tenantId: null,
      values: {
        displayName: 'Acme <Voice>',
        primaryColor: '#112233',
        accentColor: '#445566',
        logoUrl: 'https://cdn.acme.test/logo.png',
        supportEmail: 'help@acme.test',
      },
      changedAt: new Date().toISOString(),
    }),
  );
});

after(async () => {
  await subgraph?.destroy();
  await smtp?.close();
});

describe('notification settings', () => {
  it('keeps recipients, language, thresholds and kinds; refuses bad input with stable codes and changes nothing', async () => {
    const tenantId = await createTenant('Settings GmbH', 'DE');
    const READ =
      'query($id: ID!) { tenant(id: $id) { notificationSettings { language recipients lowBalanceThresholds { amountMinor currency } emailKinds } } }';
    const defaults = await ok<{ tenant: { notificationSettings: { language: string; recipients: string[]; emailKinds: string[] } } }>(READ, { id: tenantId });
    assert.equal(defaults.tenant.notificationSettings.language, 'DE', 'a German tenant defaults to German');
    assert.deepEqual(defaults.tenant.notificationSettings.recipients, []);
    assert.ok(defaults.tenant.notificationSettings.emailKinds.includes('balance.low'));

    const input = {
      language: 'EN',
      recipients: ['Billing@Settings.test'],
      lowBalanceThresholds: [
        { amountMinor: 2000, currency: 'EUR' },
        { amountMinor: 500, currency: 'EUR' },
      ],
      emailKinds: ['balance.low'],
    };
    const saved = await ok<{ setNotificationSettings: Record<string, unknown> }>(SET_SETTINGS, { tenantId, input });
    assert.deepEqual(saved.setNotificationSettings, {
      language: 'EN',
      recipients: ['billing@settings.test'],
      lowBalanceThresholds: [
        { amountMinor: 500, currency: 'EUR' },
        { amountMinor: 2000, currency: 'EUR' },
      ],
      emailKinds: ['balance.low'],
      liveKinds: saved.setNotificationSettings['liveKinds'],
    });

    const refused = async (change: Record<string, unknown>) => errorCodes(await subgraph.query(SET_SETTINGS, { tenantId, input: change }))[0];
    assert.equal(await refused({ recipients: ['not-an-address'] }), 'INVALID_EMAIL');
    assert.equal(await refused({ lowBalanceThresholds: [{ amountMinor: 1000, currency: 'USD' }] }), 'INVALID_CURRENCY');
    assert.equal(await refused({ emailKinds: ['balance.lowish'] }), 'UNKNOWN_EVENT_TYPE');
    assert.equal(await refused({ lowBalanceThresholds: [{ amountMinor: -5, currency: 'EUR' }] }), 'BAD_USER_INPUT');
    const createRefused = async (endpoint: Record<string, unknown>) =>
      errorCodes(await subgraph.query(CREATE_ENDPOINT, { input: { tenantId, ...endpoint } }))[0];
    assert.equal(await createRefused({ url: 'not a url' }), 'INVALID_URL');
    assert.equal(await createRefused({ url: 'ftp://example.com/hook' }), 'INVALID_URL');
    assert.equal(await createRefused({ url: 'https://example.com/hook', eventTypes: ['balance.changed'] }), 'UNKNOWN_EVENT_TYPE');

    const after = await ok<{ tenant: { notificationSettings: unknown; webhookEndpoints?: unknown } }>(READ, { id: tenantId });
    assert.deepEqual(after.tenant.notificationSettings, {
      language: 'EN',
      recipients: ['billing@settings.test'],
      lowBalanceThresholds: [
        { amountMinor: 500, currency: 'EUR' },
        { amountMinor: 2000, currency: 'EUR' },
      ],
      emailKinds: ['balance.low'],
    });
    const endpoints = await ok<{ tenant: { webhookEndpoints: unknown[] } }>('query($id: ID!) { tenant(id: $id) { webhookEndpoints { id } } }', {
      id: tenantId,
    });
    assert.deepEqual(endpoints.tenant.webhookEndpoints, [], 'no refused endpoint was stored');
  });

  it('lets a tenant member read but not change settings, and hides other tenants', async () => {
    const tenantId = await createTenant('Scope AG', 'CH');
    const other = await createTenant('Other AG', 'CH');
    const member = { role: 'tenant-member' as const, subject: 'm', tenantId };
    assert.deepEqual(errorCodes(await subgraph.query(SET_SETTINGS, { tenantId, input: { language: 'EN' } }, member)), ['FORBIDDEN']);
    assert.deepEqual(errorCodes(await subgraph.query(SET_SETTINGS, { tenantId: other, input: { language: 'EN' } }, { ...member, role: 'tenant-admin' })), [
      'FORBIDDEN',
    ]);
    assert.deepEqual(
      errorCodes(await subgraph.query(CREATE_ENDPOINT, { input: { tenantId: other, url: 'https://example.com/h' } }, { ...member, role: 'tenant-admin' })),
      ['FORBIDDEN'],
    );
  });
});

describe('delivery', () => {
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  it('sends one branded mail and one signed webhook per event, whatever the redeliveries', async () => {
    const tenantId = await createTenant('Einmal GmbH', 'DE');
    await ok(SET_SETTINGS, { tenantId, input: { recipients: ['kasse@einmal.test'], lowBalanceThresholds: [{ amountMinor: 5000, currency: 'EUR' }] } });
    const endpoint = await endpointFor(tenantId, receiver);
    const mailsBefore = smtp.mails.length;
    const hooksBefore = receiver.accepted.length;

    const low = lowBalance(tenantId, '4990');
    await publish(low);
    const [mail] = (await smtp.waitFor(mailsBefore + 1)).slice(mailsBefore);
    const [hook] = (await receiver.waitForAccepted(hooksBefore + 1)).slice(hooksBefore);
    await publish(low, low); // the bus delivers again (a relay or consumer restart)
    await subgraph.service.services.notifications.dispatcher.idle();
    assert.equal(smtp.mails.length, mailsBefore + 1, 'no second mail');
    assert.equal(receiver.accepted.length, hooksBefore + 1, 'no second webhook');

    // Mail: German (the tenant's language), the partner's branding, both parts, every value escaped.
    assert.deepEqual(mail!.to, ['kasse@einmal.test']);
    assert.equal(mail!.parsed.from?.value[0]?.name, 'Acme <Voice>');
    assert.equal(mail!.parsed.from?.value[0]?.address, 'notify@saldo.test');
    assert.equal(mail!.parsed.replyTo?.value[0]?.address, 'help@acme.test');
    assert.match(mail!.parsed.subject ?? '', /^Acme <Voice>: Ihr Guthaben ist niedrig$/);
    assert.match(mail!.parsed.text ?? '', /49,90\s€/);
    assert.match(mail!.parsed.text ?? '', /50,00\s€/);
    const html = String(mail!.parsed.html);
    assert.match(html, /background:#112233/);
    assert.match(html, /border-top:4px solid #445566/);
    assert.match(html, /<img src="https:\/\/cdn\.acme\.test\/logo\.png" alt="Acme &lt;Voice&gt;"/);
    assert.ok(!html.includes('Acme <Voice>'), 'the brand name is escaped in HTML');

    // Webhook: Standard Webhooks headers, verified by an independent implementation; versioned JSON payload.
    assert.ok(hook!.verified, 'signature verifies with the standardwebhooks package');
    assert.equal(hook!.id, low.id);
    assert.ok(Math.abs(Number(hook!.timestamp) * 1000 - hook!.receivedAt) < 5000, 'timestamp is the attempt time');
    assert.deepEqual(
      { type: hook!.payload.type, version: hook!.payload.version, tenantId: hook!.payload.tenantId },
      { type: 'balance.low', version: 1, tenantId },
    );
    assert.equal(hook!.payload.data['balanceMinor'], '4990');
    // The same check by hand: base64 HMAC-SHA256 over "id.timestamp.body" with the secret's bytes.
    const expected = createHmac('sha256', Buffer.from(endpoint.secret.slice('whsec_'.length), 'base64'))
      .update(`${hook!.id}.${hook!.timestamp}.${hook!.body}`)
      .digest('base64');
    assert.equal(hook!.signature, `v1,${expected}`);
    // A tampered body or timestamp no longer verifies.
    const tampered = createHmac('sha256', Buffer.from(endpoint.secret.slice('whsec_'.length), 'base64'))
      .update(`${hook!.id}.${Number(hook!.timestamp) - 600}.${hook!.body}`)
      .digest('base64');
    assert.notEqual(tampered, expected);
  });

  it('escapes what events carry and renders English for an English tenant', async () => {
    const tenantId = await createTenant('Plain Ltd', 'GB');
    await ok(SET_SETTINGS, { tenantId, input: { recipients: ['ops@plain.test'] } });
    const before = smtp.mails.length;
    const now = new Date().toISOString();
    await publish(
      event(AutoTopUpFailed, tenantId, {
        tenantId,
        attemptId: '0190a0a0-0000-7000-8000-000000000abc',
        amountMinor: '2000',
        currency: 'EUR',
        balanceMinor: '100',
        failureCode: 'card_declined',
        declineCode: null,
        message: '<script>alert(1)</script>',
        consecutiveFailures: 1,
        nextAttemptAfter: now,
        failedAt: now,
      }),
    );
    const [mail] = (await smtp.waitFor(before + 1)).slice(before);
    assert.equal(mail!.parsed.subject, 'Acme <Voice>: Automatic top-up declined');
    assert.ok(String(mail!.parsed.html).includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(!String(mail!.parsed.html).includes('<script>'));
    assert.match(mail!.parsed.text ?? '', /<script>alert\(1\)<\/script>/, 'the plain-text part carries the text as it is');
  });

  it("attaches an issued document's PDF fetched through the event's link; retries while billing cannot answer; without it when the link is refused for good", async () => {
    // Billing's download endpoint as the notifier sees it: a PDF per path, or a status to answer with (once or always).
    const pdf = Buffer.from('%PDF-1.7\n% a document\n%%EOF\n');
    const refuse = new Map<string, { status: number; times: number }>();
    const served: Array<{ path: string; status: number }> = [];
    const server: Server = createServer((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      const refusal = refuse.get(path);
      const status = refusal && refusal.times > 0 ? refusal.status : 200;
      if (refusal) refusal.times -= 1;
      served.push({ path, status });
      if (status !== 200) res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"no"}');
      else res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const tenantId = await createTenant('Beleg GmbH', 'DE');
      await ok(SET_SETTINGS, { tenantId, input: { recipients: ['buchhaltung@beleg.test'] } });
      const issued = (number: string, path: string) =>
        event(DocumentIssued, tenantId, {
          documentId: randomUUID(),
          tenantId,
          kind: 'INVOICE',
          number,
          issuerId: 'platform',
          issueDate: '2026-11-29',
          servicePeriod: { from: '2026-11-29', to: '2026-11-29' },
          currency: 'EUR',
          totals: { netMinor: '10000', vatMinor: '1900', grossMinor: '11900' },
          language: 'de',
          corrects: null,
          issuedAt: new Date().toISOString(),
          pdfUrl: `${base}${path}?tenant=${tenantId}&expires=1&signature=s`,
        });
      const ours = () => smtp.mails.filter((mail) => mail.to.includes('buchhaltung@beleg.test'));
      const mailOf = async (subject: RegExp) => {
        while (!ours().some((mail) => subject.test(mail.parsed.subject ?? ''))) await smtp.waitFor(smtp.mails.length + 1);
        return ours().find((mail) => subject.test(mail.parsed.subject ?? ''))!;
      };

      // 1. The link works: the PDF is attached, byte for byte, and the mail says so.
      await publish(issued('RE-2026-000501', '/documents/a.pdf'));
      const attached = await mailOf(/Rechnung RE-2026-000501/);
      assert.match(attached.parsed.text ?? '', /Das PDF finden Sie im Anhang/);
      assert.equal(attached.parsed.attachments.length, 1);
      assert.equal(attached.parsed.attachments[0]!.filename, 'RE-2026-000501.pdf');
      assert.equal(attached.parsed.attachments[0]!.contentType, 'application/pdf');
      assert.ok(attached.parsed.attachments[0]!.content.equals(pdf));

      // 2. Billing answers 503 at first: the delivery fails and is retried (the tenant's next mail waits behind it);
      //    then the document's mail goes out with its PDF, and the next one after it.
      refuse.set('/documents/b.pdf', { status: 503, times: 1 });
      await publish(issued('RE-2026-000502', '/documents/b.pdf'), lowBalance(tenantId, '4000'));
      const retried = await mailOf(/RE-2026-000502/);
      const low = await mailOf(/Guthaben ist niedrig/);
      assert.deepEqual(
        served.filter((request) => request.path === '/documents/b.pdf').map((request) => request.status),
        [503, 200],
      );
      assert.ok(retried.parsed.attachments[0]!.content.equals(pdf));
      assert.ok(ours().indexOf(low) > ours().indexOf(retried), 'the next mail waited for the retried one');

      // 3. The link is refused for good (expired, altered): the mail goes out at once without the PDF, pointing to the
      //    portal, instead of blocking the tenant's later mail for days.
      refuse.set('/documents/c.pdf', { status: 410, times: 100 });
      await publish(issued('RE-2026-000503', '/documents/c.pdf'));
      const without = await mailOf(/RE-2026-000503/);
      assert.equal(without.parsed.attachments.length, 0);
      assert.match(without.parsed.text ?? '', /Das PDF finden Sie in Ihrem Portal/);
      assert.doesNotMatch(without.parsed.text ?? '', /Anhang/);
      assert.equal(served.filter((request) => request.path === '/documents/c.pdf').length, 1, 'asked once, not retried');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("sends a tenant's next mail as soon as the one ahead of it in its lane went out, without waiting for the sweep", async () => {
    // A document mail still fetching its PDF holds the tenant's mail lane when a low-balance mail arrives (a burst
    // right after top-ups): the fast path cannot claim the second one, and the pass holding the lane sends it next.
    const pdf = Buffer.from('%PDF-1.7\n%%EOF\n');
    let requested!: () => void;
    const pdfRequested = new Promise<void>((resolve) => (requested = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const server: Server = createServer((_req, res) => {
      requested();
      void released.then(() => res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const tenantId = await createTenant('Lane GmbH', 'DE');
      await ok(SET_SETTINGS, { tenantId, input: { recipients: ['kasse@lane.test'] } });
      const notifications = subgraph.service.services.notifications;
      await publish(
        event(DocumentIssued, tenantId, {
          documentId: randomUUID(),
          tenantId,
          kind: 'INVOICE',
          number: 'RE-2026-000701',
          issuerId: 'platform',
          issueDate: '2026-11-29',
          servicePeriod: { from: '2026-11-29', to: '2026-11-29' },
          currency: 'EUR',
          totals: { netMinor: '5000', vatMinor: '950', grossMinor: '5950' },
          language: 'de',
          corrects: null,
          issuedAt: new Date().toISOString(),
          pdfUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/documents/held.pdf?tenant=${tenantId}&expires=1&signature=s`,
        }),
      );
      await pdfRequested; // the document mail is being sent: its lane is held
      await publish(lowBalance(tenantId, '4000'));
      // The low-balance mail's own fast-path pass, as the notifier starts it: the lane is held, nothing is claimed.
      const [store, open] = await notifications.db.forTenant(
        tenantId,
        async (em, shardId) =>
          [
            `shard:${shardId}`,
            await em.execute<{ id: string; lane: string }[]>(
              `select d.id, d.lane from notification_delivery d join notification n on n.id = d.notification_id
            where n.tenant_id = ? and n.kind = 'balance.low' and d.channel = 'EMAIL'`,
              [tenantId],
            ),
          ] as const,
      );
      assert.equal(open.length, 1);
      assert.deepEqual(await notifications.dispatcher.dispatch(store, open), { delivered: 0, failed: 0, cancelled: 0 });

      release();
      await notifications.dispatcher.idle();
      const ours = smtp.mails.filter((mail) => mail.to.includes('kasse@lane.test'));
      assert.equal(ours.length, 2, 'both mails went out once the lane was free');
      assert.match(ours[0]!.parsed.subject ?? '', /RE-2026-000701/);
      assert.match(ours[1]!.parsed.subject ?? '', /Guthaben ist niedrig/);
    } finally {
      release();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('delivers everything a receiver missed while down, in order per tenant, once each', async () => {
    const down = await startWebhookReceiver();
    try {
      const first = await createTenant('Reihenfolge GmbH', 'DE');
      const second = await createTenant('Nebenan GmbH', 'DE');
      await endpointFor(first, down);
      await endpointFor(second, down);
      down.down = 503;
      const events = [1, 2, 3, 4, 5].map((n) => declined(first, n));
      await publish(...events.slice(0, 3));
      // The first attempt fails; the tenant's later deliveries wait behind it (no request for them yet).
      await down.waitForRequests(1);
      await publish(...events.slice(3), declined(second, 9));
      down.down = null;
      const accepted = await down.waitForAccepted(6);
      const ofFirst = accepted.filter((hook) => hook.payload.tenantId === first).map((hook) => hook.id);
      assert.deepEqual(
        ofFirst,
        events.map((e) => e.id),
        'in order, once each',
      );
      assert.equal(accepted.filter((hook) => hook.payload.tenantId === second).length, 1);
      const retried = down.requests.filter((request) => request.id === events[0]!.id);
      assert.ok(retried.length >= 2 && retried.every((request) => request.verified), 'the retry keeps its webhook-id and a fresh, valid signature');
      await subgraph.service.services.notifications.dispatcher.idle();
      assert.equal(down.accepted.length, 6, 'nothing delivered twice');

      const log = await ok<{
        tenant: {
          webhookEndpoints: Array<{
            deliveries: Array<{ status: string; attempts: number; responseCode: number; attemptLog: Array<{ responseCode: number }> }>;
          }>;
        };
      }>('query($id: ID!) { tenant(id: $id) { webhookEndpoints { deliveries(first: 10) { status attempts responseCode attemptLog { responseCode } } } } }', {
        id: first,
      });
      const deliveries = log.tenant.webhookEndpoints[0]!.deliveries;
      assert.equal(deliveries.length, 5);
      assert.ok(deliveries.every((delivery) => delivery.status === 'DELIVERED' && delivery.responseCode === 204));
      const head = deliveries.at(-1)!;
      assert.deepEqual(head.attemptLog.map((attempt) => attempt.responseCode).slice(0, 1), [503]);
    } finally {
      await down.close();
    }
  });

  it("moves a tenant's notifications, deliveries and attempt log with it: nothing sent again, its lane keeps its order on the new shard", async () => {
    const hooks = await startWebhookReceiver();
    try {
      const { db, relay } = subgraph.service.runtime;
      const dispatcher = subgraph.service.services.notifications.dispatcher;
      const moving = await createTenant('Umzug GmbH', 'DE');
      await endpointFor(moving, hooks);
      const before = [1, 2, 3].map((n) => declined(moving, 100 + n));
      await publish(...before);
      await hooks.waitForAccepted(3);
      await dispatcher.idle();
      const source = (await db.directory.lookupOne(moving))!;
      const target = 1 - source;
      const rows = async (shardId: number) => {
        const [row] = await db.em(shardId).execute<{ notifications: string; deliveries: string; attempts: string }[]>(
          `select (select count(*) from notification where tenant_id = ?)::text as notifications,
                  (select count(*) from notification_delivery where tenant_id = ?)::text as deliveries,
                  (select count(*) from notification_delivery_attempt where tenant_id = ?)::text as attempts`,
          [moving, moving, moving],
        );
        return row!;
      };
      const atSource = await rows(source);
      assert.deepEqual(atSource, { notifications: '3', deliveries: '3', attempts: '3' });
      // The target numbers its deliveries itself: give it rows (another tenant's) holding the moving deliveries' numbers.
      await db.em(target).execute(
        `insert into notification_delivery (id, seq, notification_id, tenant_id, channel, target, lane, status, attempts, next_attempt_at, created_at)
         select gen_random_uuid(), seq, gen_random_uuid(), gen_random_uuid(), 'WEBHOOK', 'elsewhere', 'elsewhere', 'DELIVERED', 1, now(), now()
           from unnest(?::bigint[]) as s(seq) on conflict do nothing`,
        [
          `{${(await db.em(source).execute<{ seq: string }[]>('select seq::text from notification_delivery where tenant_id = ?', [moving])).map((row) => row.seq).join(',')}}`,
        ],
      );
      // As if the target's own sequence had numbered them.
      await db.em(target).execute("select setval(pg_get_serial_sequence('notification_delivery', 'seq'), (select max(seq) from notification_delivery))");
      const mover = new ShardMover(db, testLogger(), { graceMs: 0, drainOutbox: async () => void (await relay.flush()) });
      const { move } = await mover.run((await mover.start(moving, target)).id);
      assert.equal(move.state, 'CLEANED', move.error ?? '');
      assert.deepEqual(await rows(target), atSource, 'every notification, delivery and attempt moved');
      assert.deepEqual(await rows(source), { notifications: '0', deliveries: '0', attempts: '0' });

      // A redelivered event sends nothing again; new ones are sent once each, after the moved ones in their lane.
      await publish(before[0]!);
      const later = [1, 2].map((n) => declined(moving, 300 + n));
      await publish(...later);
      await hooks.waitForAccepted(5);
      await dispatcher.idle();
      assert.equal(hooks.accepted.length, 5, 'nothing sent twice');
      assert.deepEqual(
        hooks.accepted.map((hook) => hook.id),
        [...before, ...later].map((event) => event.id),
      );
      const lane = await db
        .em(target)
        .execute<{ event_id: string }[]>(
          'select n.event_id from notification_delivery d join notification n on n.id = d.notification_id where d.tenant_id = ? order by d.seq',
          [moving],
        );
      assert.deepEqual(
        lane.map((row) => row.event_id),
        [...before, ...later].map((event) => event.id),
        'the lane keeps its order on the new shard',
      );
    } finally {
      await hooks.close();
    }
  });

  it('disables an endpoint that keeps failing past the retry window and tells its owner', async () => {
    const broken = await startWebhookReceiver();
    try {
      const tenantId = await createTenant('Kaputt GmbH', 'DE');
      await ok(SET_SETTINGS, { tenantId, input: { recipients: ['admin@kaputt.test'], emailKinds: ['webhook_endpoint.disabled'] } });
      const endpoint = await endpointFor(tenantId, broken);
      broken.down = 500;
      const before = smtp.mails.length;
      await publish(declined(tenantId, 1));
      const [mail] = (await smtp.waitFor(before + 1)).slice(before);
      assert.equal(mail!.parsed.subject, 'Acme <Voice>: Webhook-Endpunkt deaktiviert');
      assert.ok((mail!.parsed.text ?? '').includes(broken.url));
      const state = await ok<{
        tenant: { webhookEndpoints: Array<{ id: string; enabled: boolean; disabledReason: string; deliveries: Array<{ id: string; status: string }> }> };
      }>('query($id: ID!) { tenant(id: $id) { webhookEndpoints { id enabled disabledReason deliveries { id status } } } }', { id: tenantId });
      const [disabled] = state.tenant.webhookEndpoints;
      assert.equal(disabled!.id, endpoint.id);
      assert.equal(disabled!.enabled, false);
      assert.match(disabled!.disabledReason, /HTTP 500/);
      assert.equal(disabled!.deliveries[0]!.status, 'FAILED');

      // Fixed and enabled again: redeliverWebhook sends the failed one now, with the same webhook-id.
      broken.down = null;
      const REDELIVER = 'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { status attempts responseCode } }';
      assert.deepEqual(errorCodes(await subgraph.query(REDELIVER, { id: disabled!.deliveries[0]!.id })), ['INVALID_STATE']);
      await ok('mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: true }) { enabled } }', { id: endpoint.id });
      const redelivered = await ok<{ redeliverWebhook: { status: string; responseCode: number } }>(REDELIVER, { id: disabled!.deliveries[0]!.id });
      assert.deepEqual(
        { status: redelivered.redeliverWebhook.status, responseCode: redelivered.redeliverWebhook.responseCode },
        { status: 'DELIVERED', responseCode: 204 },
      );
      assert.equal(broken.accepted.length, 1);
    } finally {
      await broken.close();
    }
  });

  it('signs with both secrets while a rotated one overlaps, then with the new one only', async () => {
    const rotating = await startWebhookReceiver();
    try {
      const tenantId = await createTenant('Rotation GmbH', 'DE');
      const endpoint = await endpointFor(tenantId, rotating);
      const ROTATE = 'mutation($id: ID!, $overlap: Int) { rotateWebhookSecret(id: $id, overlapSeconds: $overlap) { secret endpoint { activeSecrets } } }';
      const rotated = await ok<{ rotateWebhookSecret: { secret: string; endpoint: { activeSecrets: number } } }>(ROTATE, { id: endpoint.id, overlap: 3600 });
      assert.equal(rotated.rotateWebhookSecret.endpoint.activeSecrets, 2);
      rotating.secrets = [endpoint.secret]; // a receiver that has not switched yet
      await publish(lowBalance(tenantId, '4000'));
      const [during] = await rotating.waitForAccepted(1);
      assert.ok(during!.verified, 'the old secret still verifies during the overlap');
      assert.equal(during!.signature.split(' ').length, 2);
      rotating.secrets = [rotated.rotateWebhookSecret.secret];
      await ok(ROTATE, { id: endpoint.id, overlap: 0 });
      const latest = await ok<{ rotateWebhookSecret: { secret: string } }>(ROTATE, { id: endpoint.id, overlap: 0 });
      rotating.secrets = [latest.rotateWebhookSecret.secret];
      await publish(lowBalance(tenantId, '3000'));
      const [afterwards] = (await rotating.waitForAccepted(2)).slice(1);
      assert.ok(afterwards!.verified);
      assert.equal(afterwards!.signature.split(' ').length, 1, 'an overlap of 0 retires the old secret at once');
    } finally {
      await rotating.close();
    }
  });
});
