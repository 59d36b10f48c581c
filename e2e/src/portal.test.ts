import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { waitUntil } from '@saldo/testing';
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
