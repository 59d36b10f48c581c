import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { startWebhookReceiver, waitUntil } from '@saldo/testing';
import { axeViolations, launchBrowser, saveScreenshot, type TestBrowser } from '@saldo/testing/browser';
import { startTestStack, type TestStack } from './test-stack.js';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

/** The roles' groups on the development sign-in page. */
const GROUP = {
  'platform-admin': 'Platform operators',
  partner: 'Partners (resellers)',
  'tenant-admin': 'Tenant administrators',
  'tenant-member': 'Tenant members (read only)',
} as const;

describe('customer portal: served by the gateway, signed in through the development sign-in, in a real browser', () => {
  let stack: TestStack;
  let browser: TestBrowser;
  let portal: string;
  let partnerId: string;
  let tenantA: string;
  let tenantB: string;
  let usage = 0;

  /** Runs `body` on a fresh page; a failure leaves a screenshot in e2e/artifacts/. */
  const onPage = async (name: string, body: (page: Page) => Promise<void>, options: { viewport?: { width: number; height: number } } = {}) => {
    const page = await browser.newPage();
    if (options.viewport) await page.setViewportSize(options.viewport);
    try {
      await body(page);
    } catch (error) {
      const path = await saveScreenshot(page, ARTIFACTS, `portal-${name}`);
      throw Object.assign(error as Error, { message: `${(error as Error).message} (screenshot: ${path})` });
    } finally {
      await page.close();
    }
  };

  /** Signs in from the portal's sign-in page as the demo user `label` of `role` on the development sign-in. */
  const signIn = async (page: Page, role: keyof typeof GROUP, label: string, path = '') => {
    await page.goto(`${portal}${path}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sign in as' }).waitFor();
    const group = page.locator('section', { has: page.getByRole('heading', { name: GROUP[role] }) });
    await group.getByRole('button', { name: label, exact: true }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/portal/') && !url.pathname.startsWith('/portal/callback'));
    await page.getByTestId('who').waitFor();
  };

  const recordUsage = async (tenantId: string, quantity: number) => {
    usage += 1;
    const response = await stack.gql(`mutation($input: RecordUsageInput!) { recordUsage(input: $input) { balance { available { amountMinor } version } } }`, {
      input: { tenantId, events: [{ id: `portal-${process.pid}-${usage}`, product: 'inbound_minute', quantity, occurredAt: new Date().toISOString() }] },
    });
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    return response.data!['recordUsage']['balance'] as { available: { amountMinor: number }; version: number };
  };

  before(async () => {
    stack = await startTestStack('portal');
    assert.ok(stack.portalUrl, 'the portal is built (pnpm build) and served');
    portal = stack.portalUrl;
    await stack.billing.services.rates.publish({
      product: 'inbound_minute',
      currency: 'EUR',
      unitPriceMinor: '2',
      validFrom: new Date(Date.now() - 86_400_000),
    });
    const partner = await stack.tenants.services.partners.create({ name: 'Portal Partner GmbH', country: 'DE' });
    partnerId = partner.id;
    await stack.whiteLabel.services.partnerBranding.set(partnerId, { displayName: 'Portal Partner Phone', primaryColor: '#1D4ED8', accentColor: '#F97316' });
    tenantA = (await stack.tenants.services.tenants.create({ name: 'Praxis Alpha', currency: 'EUR', country: 'DE', partnerId })).id;
    tenantB = (await stack.tenants.services.tenants.create({ name: 'Kanzlei Beta', currency: 'EUR', country: 'DE' })).id;
    await stack.flushEvents();
    for (const tenantId of [tenantA, tenantB]) {
      await stack.billing.services.ledger.post({
        tenantId,
        entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 250_000n, idempotencyKey: `seed:${tenantId}` }],
      });
    }
    await stack.flushEvents();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await stack?.destroy();
  });

  it('serves the single-page app at /portal with its sign-in configuration, a Content-Security-Policy and gzip assets', async () => {
    const origin = new URL(portal).origin;
    const bare = await fetch(`${origin}/portal`, { redirect: 'manual' });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get('location'), '/portal/');
    for (const path of ['/portal/', '/portal/tenants/anything']) {
      const page = await fetch(`${origin}${path}`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.equal(page.headers.get('cache-control'), 'no-store');
      const html = await page.text();
      const config = JSON.parse(/<script type="application\/json" id="portal-config">([\s\S]*?)<\/script>/.exec(html)![1]!);
      assert.equal(config.oidc.authorizationEndpoint, stack.devSignIn.authorizationEndpoint);
      assert.equal(config.oidc.tokenEndpoint, stack.devSignIn.tokenEndpoint);
      assert.equal(config.development, true);
      const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)![1]!;
      const asset = await fetch(`${origin}${script}`, { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(asset.status, 200);
      assert.equal(asset.headers.get('content-encoding'), 'gzip');
      assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    }
    const missing = await fetch(`${origin}/portal/assets/nothing.js`);
    assert.equal(missing.status, 404);
  });

  it('a tenant administrator signs in and watches the balance move on screen when usage is recorded elsewhere', async () => {
    await onPage('live-balance', async (page) => {
      await signIn(page, 'tenant-admin', 'Praxis Alpha');
      await page.getByRole('heading', { name: 'Praxis Alpha' }).waitFor();
      // Its partner's branding (the token names the partner, as a production provider's claims would).
      await waitUntil(async () => (await page.getByTestId('brand-name').textContent()) === 'Portal Partner Phone', "the partner's branding");
      const balance = page.getByTestId('balance');
      await page.getByText('Live', { exact: true }).waitFor();
      const before = await balance.textContent();
      assert.match(before ?? '', /2,500\.00/);
      const after = await recordUsage(tenantA, 5);
      await waitUntil(async () => (await balance.getAttribute('data-version')) === String(after.version), 'the new balance on screen');
      assert.match((await balance.textContent()) ?? '', /2,499\.90/);
      // The chart and the depletion date are there (the forecast's baseline answers before any model is trained).
      await page.getByRole('img', { name: /units in the last 30 days/ }).waitFor();
      await page.getByTestId('depletion').waitFor();
    });
  });

  it('each role sees only what it may: a tenant user not another tenant, a partner only its tenants, an operator all', async () => {
    await onPage('scope-member', async (page) => {
      await signIn(page, 'tenant-member', 'Praxis Alpha', `tenants/${tenantB}`);
      await page.getByText('This tenant does not exist or is not yours.').waitFor();
      assert.equal(await page.getByTestId('balance').count(), 0);
      assert.equal(await page.getByTestId('who').textContent(), 'Member');
    });
    await onPage('scope-partner', async (page) => {
      await signIn(page, 'partner', 'Portal Partner GmbH');
      await page.getByRole('heading', { name: 'Tenants' }).waitFor();
      await page.getByRole('link', { name: 'Praxis Alpha' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Kanzlei Beta' }).count(), 0);
      await page.getByRole('link', { name: 'Praxis Alpha' }).click();
      await page.getByRole('heading', { name: 'Praxis Alpha' }).waitFor();
      await page.getByTestId('balance').waitFor();
      // The signed-in partner's branding.
      assert.equal(await page.getByTestId('brand-name').textContent(), 'Portal Partner Phone');
    });
    await onPage('scope-operator', async (page) => {
      await signIn(page, 'platform-admin', 'Platform operator');
      await page.getByRole('link', { name: 'Praxis Alpha' }).waitFor();
      await page.getByRole('link', { name: 'Kanzlei Beta' }).waitFor();
    });
  });

  it('signs out: the token is gone, a reload asks to sign in again, and the development session ended', async () => {
    await onPage('sign-out', async (page) => {
      await signIn(page, 'tenant-admin', 'Kanzlei Beta');
      await page.getByTestId('balance').waitFor();
      // A reload keeps the sign-in (silently, through the identity provider's session): the token itself is only in memory.
      await page.reload();
      await page.getByTestId('balance').waitFor();
      const stored = await page.evaluate<string>('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } })');
      assert.doesNotMatch(stored, /eyJ/, 'no token in web storage');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await page.reload();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.equal(await page.getByTestId('balance').count(), 0);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Sign in as' }).waitFor();
    });
  });

  it('tops up through the Checkout stand-in and back to the portal, where the new balance arrives live', async () => {
    await onPage('top-up', async (page) => {
      await signIn(page, 'tenant-admin', 'Kanzlei Beta');
      const balance = page.getByTestId('balance');
      await page.getByText('Live', { exact: true }).waitFor();
      assert.match((await balance.textContent()) ?? '', /2,500\.00/);
      await page.getByRole('link', { name: 'Top up' }).click();
      await page.getByRole('heading', { name: 'Top up now' }).waitFor();
      await page.getByLabel('Amount (EUR)').fill('fifty');
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      await page.getByText('Enter an amount such as 50 or 50.00.').waitFor();
      // 4.99 (a decimal comma is understood): below the minimum top-up, refused by billing with its code, in words.
      await page.getByLabel('Amount (EUR)').fill('4,99');
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      await page.getByText('The amount is below the minimum top-up.').waitFor();
      await page.getByLabel('Amount (EUR)').fill('50');
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      await page.getByText('this is NOT Stripe').waitFor();
      await page.getByRole('button', { name: 'Pay (simulated)' }).click();
      // Back in the portal (a silent sign-in: the token lived only in the page that left), on the tenant's dashboard.
      await page.getByText('Payment received.', { exact: false }).waitFor();
      await waitUntil(async () => /2,550\.00/.test((await balance.textContent()) ?? ''), 'the credited top-up on screen');
      assert.match(page.url(), /\/portal\/tenants\//);
    });
  });

  it('sets up automatic top-up from scratch: saves a card on the Checkout stand-in (setup mode), back in the portal turns it on, and a debit charges it', async () => {
    await onPage('auto-top-up', async (page) => {
      await signIn(page, 'tenant-admin', 'Kanzlei Beta', `tenants/${tenantB}/top-up`);
      await page.getByRole('heading', { name: 'Automatic top-up' }).waitFor();
      await page.getByText('No automatic top-up is set up for this account.').waitFor();
      assert.deepEqual(await axeViolations(page), [], 'top-up page without a rule');
      await page.getByRole('button', { name: 'Save a card' }).click();
      await page.getByRole('heading', { name: 'Save a card for automatic top-ups' }).waitFor();
      await page.getByRole('button', { name: 'Save card (simulated)' }).click();
      // Back in the portal (silent sign-in), on the tenant's top-up page with the card read back from Stripe.
      await page.getByTestId('saved-card').waitFor();
      assert.match((await page.getByTestId('saved-card').textContent()) ?? '', /Visa •••• 4242 \(12\/34\) saved/);
      assert.ok(page.url().endsWith(`/portal/tenants/${tenantB}/top-up`), page.url());
      assert.deepEqual(await axeViolations(page), [], 'top-up page with a saved card');
      await page.getByLabel('When the balance falls to (EUR)').fill('2540');
      await page.getByLabel('Amount (EUR)', { exact: true }).last().fill('100');
      await page.getByLabel('At most per day (EUR)').fill('300');
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByText('Automatic top-up saved.').waitFor();
      await waitUntil(async () => /^On:/.test((await page.getByTestId('auto-state').textContent()) ?? ''), 'the rule on');
      await page.getByRole('button', { name: 'Auf Deutsch umschalten' }).click();
      await page.getByRole('button', { name: 'Andere Karte verwenden' }).waitFor();
      assert.deepEqual(await axeViolations(page), [], 'top-up page in German');
    });
    const rule = await stack.gql(
      `query($id: ID!) { tenant(id: $id) { autoTopUp { enabled threshold { amountMinor } amount { amountMinor } paymentMethodId } } }`,
      {
        id: tenantB,
      },
    );
    const autoTopUp = rule.data!['tenant'].autoTopUp;
    assert.deepEqual(
      { ...autoTopUp, paymentMethodId: undefined },
      { enabled: true, threshold: { amountMinor: 254_000 }, amount: { amountMinor: 10_000 }, paymentMethodId: undefined },
    );
    assert.equal(stack.stripeStandIn!.paymentMethods.get(autoTopUp.paymentMethodId)?.['card']?.['last4'], '4242', 'the card saved on the stand-in');
    // A debit that takes the balance to the threshold charges the saved card off-session, once.
    const intents = stack.stripeStandIn!.counts.paymentIntents;
    await recordUsage(tenantB, 550);
    await stack.billing.services.autoTopUp.drain();
    await waitUntil(() => stack.stripeStandIn!.counts.paymentIntents === intents + 1, 'the saved card charged');
    const charged = [...stack.stripeStandIn!.paymentIntents.values()].at(-1)!;
    assert.equal(charged['payment_method'], autoTopUp.paymentMethodId);
  });

  it('lists transactions with filters and cursor paging, and documents whose PDF and XML download', async () => {
    const events = Array.from({ length: 30 }, (_, index) => ({
      id: `portal-page-${process.pid}-${index}`,
      product: 'inbound_minute',
      quantity: 1,
      occurredAt: new Date().toISOString(),
    }));
    const recorded = await stack.gql(`mutation($input: RecordUsageInput!) { recordUsage(input: $input) { accepted } }`, {
      input: { tenantId: tenantA, events },
    });
    assert.equal(recorded.errors, undefined, JSON.stringify(recorded.errors));
    await onPage('transactions-documents', async (page) => {
      await signIn(page, 'tenant-admin', 'Praxis Alpha');
      await page.getByRole('link', { name: 'Transactions' }).click();
      const rows = page.getByTestId('transactions').locator('tbody tr');
      await rows.first().waitFor();
      assert.equal(await rows.count(), 25, 'one page');
      await page.getByRole('button', { name: 'Show more' }).click();
      await waitUntil(async () => (await rows.count()) === 32, 'the second page appended (1 top-up, 31 usage entries)');
      assert.equal(await page.getByRole('button', { name: 'Show more' }).count(), 0, 'no third page');
      await page.getByLabel('Type').selectOption('TOP_UP');
      await page.getByRole('button', { name: 'Apply' }).click();
      await waitUntil(async () => (await rows.count()) === 1, 'only the top-up');
      assert.match((await rows.first().textContent()) ?? '', /Top-up.*€2,500\.00/);
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
      await page.getByLabel('From').fill(tomorrow);
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.getByText('No transactions match.').waitFor();
      assert.deepEqual(await axeViolations(page), [], 'transactions page');
    });
    await onPage('documents', async (page) => {
      // Every top-up has its invoice (issued by a job once the top-up is posted): a member may fetch them too.
      await signIn(page, 'tenant-member', 'Praxis Alpha');
      await page.getByRole('link', { name: 'Documents' }).click();
      const pdf = await waitUntil(
        async () => {
          await page.getByRole('heading', { name: 'Documents' }).waitFor();
          await page.getByRole('status').waitFor({ state: 'detached' });
          const link = page.getByRole('link', { name: /^PDF of RE-/ });
          if ((await link.count()) > 0) return link;
          await page.reload();
          return undefined;
        },
        'the top-up invoice in the list',
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      const download = await page.request.get((await pdf.getAttribute('href'))!);
      assert.equal(download.status(), 200);
      assert.equal(download.headers()['content-type'], 'application/pdf');
      assert.equal((await download.body()).subarray(0, 5).toString(), '%PDF-');
      const xml = await page.request.get((await page.getByRole('link', { name: /^E-invoice XML of RE-/ }).getAttribute('href'))!);
      assert.equal(xml.status(), 200);
      assert.match(await xml.text(), /CrossIndustryInvoice/);
      assert.deepEqual(await axeViolations(page), [], 'documents page');
    });
  });

  it('keeps notification settings, refuses a bad webhook URL in words, and lets a partner create and revoke an API key', async () => {
    await onPage('settings', async (page) => {
      await signIn(page, 'tenant-admin', 'Praxis Alpha');
      await page.getByRole('link', { name: 'Settings' }).click();
      await page.getByLabel('Recipients (e-mail addresses, comma-separated)').fill('billing@praxis-alpha.example, chef@praxis-alpha.example');
      await page.getByLabel('Tell me when the balance falls below (EUR)').fill('25');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Notification settings saved.').waitFor();
      const settings = await stack.gql(`query($id: ID!) { tenant(id: $id) { notificationSettings { recipients lowBalanceThresholds { amountMinor } } } }`, {
        id: tenantA,
      });
      assert.deepEqual(settings.data!['tenant'].notificationSettings, {
        recipients: ['billing@praxis-alpha.example', 'chef@praxis-alpha.example'],
        lowBalanceThresholds: [{ amountMinor: 2500 }],
      });
      await page.getByLabel('New endpoint URL').fill('not a url');
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByText('The URL is not valid.').waitFor();
      assert.deepEqual(await axeViolations(page), [], 'settings page');
    });
    await onPage('api-keys', async (page) => {
      await signIn(page, 'partner', 'Portal Partner GmbH');
      await page.getByRole('link', { name: 'API keys' }).click();
      await page.getByText('No API keys yet.').waitFor();
      await page.getByLabel('Name of a new key').fill('CRM integration');
      await page.getByRole('button', { name: 'Create key' }).click();
      assert.match((await page.getByTestId('api-key-secret').textContent()) ?? '', /^saldo_pk_/);
      const row = page.getByTestId('api-keys').locator('tbody tr', { hasText: 'CRM integration' });
      await row.getByText('Active').waitFor();
      await row.getByRole('button', { name: 'Revoke' }).click();
      await row.getByText('Revoked').waitFor();
      assert.deepEqual(await axeViolations(page), [], 'API keys page');
    });
  });

  it("shows a webhook endpoint's delivery log with the receiver's answers, redelivers one and rotates the signing secret", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const ok = async (query: string, variables: Record<string, unknown>) => {
        const result = await stack.gql(query, variables);
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
        return result.data as Record<string, any>;
      };
      const created = await ok(`mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id } } }`, {
        input: { tenantId: tenantA, url: receiver.url, eventTypes: ['balance.low'] },
      });
      const firstSecret = created['createWebhookEndpoint'].secret as string;
      receiver.secrets.push(firstSecret);
      await ok(`mutation($id: ID!, $input: NotificationSettingsInput!) { setNotificationSettings(tenantId: $id, input: $input) { recipients } }`, {
        id: tenantA,
        input: { recipients: ['billing@praxis-alpha.example'], lowBalanceThresholds: [{ amountMinor: 240_000, currency: 'EUR' }] },
      });
      await stack.flushEvents(); // billing learns the threshold
      await stack.billing.services.ledger.post({
        tenantId: tenantA,
        entries: [{ type: LedgerEntryType.USAGE, amountMinor: -20_000n, idempotencyKey: `portal-hooks-${process.pid}`, product: 'inbound_minute' }],
      });
      await stack.flushEvents();
      const [first] = await receiver.waitForAccepted(1);
      assert.ok(first!.verified, 'signed with the endpoint secret');

      await onPage('webhook-log', async (page) => {
        await signIn(page, 'tenant-admin', 'Praxis Alpha', `tenants/${tenantA}/settings`);
        const log = page.getByTestId(`deliveries-${created['createWebhookEndpoint'].endpoint.id}`);
        await log.locator('summary').click();
        const row = log.locator('tbody tr', { hasText: 'balance.low' });
        await row.getByText('Delivered').waitFor();
        assert.match((await row.textContent()) ?? '', /Delivered.*20[04]/);
        assert.deepEqual(await axeViolations(page), [], 'settings page with the delivery log');
        await row.getByRole('button', { name: 'Redeliver balance.low' }).click();
        await page.getByText('Queued for delivery again.').waitFor();
        const again = await receiver.waitForAccepted(2);
        assert.equal(again[1]!.id, first!.id, 'the same webhook-id again');
        await page.getByRole('button', { name: 'Rotate secret' }).click();
        const secret = page.getByTestId('webhook-secret');
        await secret.waitFor();
        assert.match((await secret.textContent()) ?? '', /^whsec_/);
        assert.notEqual(await secret.textContent(), firstSecret);
        await log.getByText('2 active signing secret(s)').waitFor();
        await page.getByRole('button', { name: 'Auf Deutsch umschalten' }).click();
        await log.getByText('Zugestellt').first().waitFor();
        assert.deepEqual(await axeViolations(page), [], 'settings page in German');
      });
    } finally {
      await receiver.close();
    }
  });

  it('lets a partner rotate an API key, edit its branding, and add and remove a custom domain', async () => {
    await onPage('partner-pages', async (page) => {
      await signIn(page, 'partner', 'Portal Partner GmbH');
      await page.getByRole('link', { name: 'API keys' }).click();
      await page.getByLabel('Name of a new key').fill('Billing sync');
      await page.getByRole('button', { name: 'Create key' }).click();
      const secret = page.getByTestId('api-key-secret');
      await secret.waitFor();
      const original = await secret.textContent();
      await page.getByRole('button', { name: 'Rotate key Billing sync' }).first().click();
      await waitUntil(async () => (await secret.textContent()) !== original, 'the new key shown');
      assert.match((await secret.textContent()) ?? '', /^saldo_pk_/);
      // The old key keeps working for a day: it says when it stops.
      await page
        .getByTestId('api-keys')
        .getByText(/stops /)
        .waitFor();
      assert.deepEqual(await axeViolations(page), [], 'API keys page after a rotation');

      await page.getByRole('link', { name: 'Branding & domains' }).click();
      await page.getByRole('heading', { name: 'Branding', exact: true }).waitFor();
      assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Portal Partner Phone');
      await page.getByLabel('Primary color').fill('blue');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('A color is not in the form #RRGGBB.').waitFor();
      await page.getByLabel('Name', { exact: true }).fill('Alpha Telefon');
      await page.getByLabel('Primary color').fill('#0f766e');
      await page.getByLabel('Support e-mail address').fill('hilfe@alpha-telefon.example');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Branding saved.').waitFor();
      await waitUntil(async () => (await page.getByTestId('brand-name').textContent()) === 'Alpha Telefon', 'the new name in the header');
      const branding = await stack.gql(`query($id: ID!) { partner(id: $id) { branding { displayName primaryColor supportEmail } } }`, { id: partnerId });
      assert.deepEqual(branding.data!['partner'].branding, {
        displayName: 'Alpha Telefon',
        primaryColor: '#0F766E',
        supportEmail: 'hilfe@alpha-telefon.example',
      });

      // A reserved name is refused in words; a public one is added with the TXT record to publish, then removed.
      await page.getByLabel('New domain (hostname)').fill('portal.alpha.example');
      await page.getByRole('button', { name: 'Add domain' }).click();
      await page
        .getByTestId('domains-message')
        .getByText(/not a hostname you can use/)
        .waitFor();
      await page.getByLabel('New domain (hostname)').fill('portal.alpha-telefon-kunden.com');
      await page.getByRole('button', { name: 'Add domain' }).click();
      const domain = page.getByTestId('domain-portal.alpha-telefon-kunden.com');
      await domain.getByText('Waiting for verification').waitFor();
      assert.match((await domain.getByTestId('record-name').textContent()) ?? '', /portal\.alpha-telefon-kunden\.com/);
      assert.equal(await domain.getByTestId('domain-certificate').textContent(), 'none yet');
      assert.deepEqual(await axeViolations(page), [], 'branding and domains page');
      await page.getByRole('button', { name: 'Auf Deutsch umschalten' }).click();
      await domain.getByText('Wartet auf Prüfung').waitFor();
      assert.deepEqual(await axeViolations(page), [], 'branding and domains page in German');
      await page.getByRole('button', { name: 'Entfernen: portal.alpha-telefon-kunden.com' }).click();
      await page.getByText('Domain entfernt.').waitFor();
      await domain.waitFor({ state: 'detached' });
    });
    // Back to the branding the other tests expect.
    await stack.whiteLabel.services.partnerBranding.set(partnerId, { displayName: 'Portal Partner Phone', primaryColor: '#1D4ED8', accentColor: '#F97316' });
  });

  it('speaks German, fits a phone screen, and axe-core finds no serious or critical violations', async () => {
    await onPage(
      'accessibility',
      async (page) => {
        await page.goto(portal);
        await page.getByRole('button', { name: 'Sign in' }).waitFor();
        // Keyboard: the skip link is the first stop and leads to the content.
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate<string>('document.activeElement?.textContent'), 'Skip to content');
        assert.deepEqual(await axeViolations(page), [], 'sign-in page');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Sign in as' }).waitFor();
        assert.deepEqual(await axeViolations(page), [], 'development sign-in page');
        const group = page.locator('section', { has: page.getByRole('heading', { name: GROUP['tenant-admin'] }) });
        await group.getByRole('button', { name: 'Praxis Alpha', exact: true }).click();
        await page.getByTestId('balance').waitFor();
        await page.getByRole('img', { name: /units in the last 30 days/ }).waitFor();
        assert.deepEqual(await axeViolations(page), [], 'dashboard');
        const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
        assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow} px too wide)`);
        await page.getByRole('button', { name: 'Auf Deutsch umschalten' }).click();
        await page.getByRole('heading', { name: 'Guthaben' }).waitFor();
        assert.match((await page.getByTestId('balance').textContent()) ?? '', /€/);
        assert.equal(await page.evaluate<string>('document.documentElement.lang'), 'de');
        assert.deepEqual(await axeViolations(page), [], 'dashboard in German');
      },
      { viewport: { width: 390, height: 844 } },
    );
  });
});
