import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { freePort, startChallTestSrv, startPebble, waitUntil, type ChallTestSrv, type Pebble } from '@saldo/testing';
import { axeViolations, launchBrowser, saveScreenshot, type TestBrowser } from '@saldo/testing/browser';
import { startTestStack, type TestStack } from './test-stack.js';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const HOST = 'portal.voxly.example';

describe("the portal under a partner's custom domain: its branding, only its tenants, live through nginx", () => {
  let stack: TestStack;
  let challtestsrv: ChallTestSrv;
  let pebble: Pebble;
  let prefix: string;
  let browser: TestBrowser;
  let ports: { http: number; https: number; gateway: number };

  const ok = async (query: string, variables: Record<string, unknown> = {}, identity?: Identity) => {
    const result = await stack.gql(query, variables, identity);
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return result.data as Record<string, any>;
  };

  before(async () => {
    challtestsrv = await startChallTestSrv();
    ports = { http: await freePort(), https: await freePort(), gateway: await freePort() };
    pebble = await startPebble({ httpPort: ports.http, dnsServer: challtestsrv.dnsAddress });
    prefix = await mkdtemp(join(tmpdir(), 'saldo-e2e-portal-nginx-'));
    stack = await startTestStack('portaldomain', {
      ports: { gateway: ports.gateway },
      whiteLabelEnv: {
        WEB_SERVER: 'nginx',
        NGINX_PREFIX: prefix,
        NGINX_LISTEN_ADDRESS: '127.0.0.1',
        NGINX_HTTP_PORT: String(ports.http),
        NGINX_HTTPS_PORT: String(ports.https),
        NGINX_WORKER_PROCESSES: '1',
        GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${ports.gateway}`,
        ACME_DIRECTORY_URL: pebble.directoryUrl,
        ACME_CA_CERTIFICATES: pebble.listenerCertificatePem,
        DOMAINS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        DOMAIN_DNS_RESOLVERS: challtestsrv.dnsAddress,
        CUSTOM_DOMAIN_RESERVED_SUFFIXES: 'example',
        JOBS_LISTEN_NOTIFY: 'true',
        JOBS_POLLING_INTERVAL_SECONDS: '0.5',
      },
    });
    browser = await launchBrowser({ hostResolverRules: `MAP ${HOST} 127.0.0.1`, ignoreHttpsErrors: true });
  });

  after(async () => {
    await browser?.close();
    await stack?.destroy();
    await pebble?.destroy();
    await challtestsrv?.stop();
    if (prefix) await rm(prefix, { recursive: true, force: true });
  });

  it("shows the partner's name and colors before sign-in, and after it only that partner's tenants, live", async () => {
    const voxly = (await ok(`mutation { createPartner(input: { name: "Voxly Reseller", country: "DE" }) { id } }`))['createPartner'].id as string;
    const other = (await ok(`mutation { createPartner(input: { name: "Other Reseller", country: "DE" }) { id } }`))['createPartner'].id as string;
    await ok(
      `mutation($id: ID!) { setPartnerBranding(partnerId: $id, input: { displayName: "Voxly Assist", primaryColor: "#1d4ed8", accentColor: "#c2410c" }) { displayName } }`,
      {
        id: voxly,
      },
    );
    const tenantOf = async (partnerId: string, name: string) =>
      (await ok(`mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }`, { input: { name, currency: 'EUR', country: 'DE', partnerId } }))[
        'createTenant'
      ].id as string;
    const voxlyTenant = await tenantOf(voxly, 'Praxis Weber');
    await tenantOf(other, 'Kanzlei Roth');
    await stack.flushEvents();
    await stack.billing.services.ledger.post({
      tenantId: voxlyTenant,
      entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 10_000n, idempotencyKey: 'seed' }],
    });
    await stack.flushEvents();

    const asVoxly: Identity = { role: 'partner', subject: 'voxly-admin', partnerId: voxly };
    const added = (
      await ok(
        `mutation($input: AddCustomDomainInput!) { addCustomDomain(input: $input) { id verification { recordName recordValue } } }`,
        { input: { partnerId: voxly, hostname: HOST, purpose: 'PORTAL' } },
        asVoxly,
      )
    )['addCustomDomain'];
    await challtestsrv.setTxt(added.verification.recordName, added.verification.recordValue);
    await ok(`mutation($id: ID!) { verifyCustomDomain(id: $id) { status } }`, { id: added.id }, asVoxly);
    await waitUntil(
      async () => {
        const domain = (await ok(`query($id: ID!) { partner(id: $id) { customDomains { status lastError } } }`, { id: voxly }, asVoxly))['partner']
          .customDomains[0];
        assert.notEqual(domain.status, 'FAILED', domain.lastError);
        return domain.status === 'ACTIVE';
      },
      'the domain to become ACTIVE',
      { timeoutMs: 120_000, intervalMs: 250 },
    );

    const page = await browser.newPage();
    try {
      // The domain's root leads to the portal (nginx), which shows the partner's branding to anyone.
      await page.goto(`https://${HOST}:${ports.https}/`);
      await page.waitForURL(`https://${HOST}:${ports.https}/portal/`);
      await waitUntil(async () => (await page.getByTestId('brand-name').textContent()) === 'Voxly Assist', "the partner's name");
      assert.equal(await page.evaluate<string>("getComputedStyle(document.querySelector('.app')).getPropertyValue('--primary').trim()"), '#1D4ED8');
      assert.match(await page.title(), /^Voxly Assist/);
      assert.deepEqual(await axeViolations(page), [], 'branded sign-in page');

      // Even a platform operator sees only the domain's partner's tenants there.
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page
        .locator('section', { has: page.getByRole('heading', { name: 'Platform operators' }) })
        .getByRole('button', { name: 'Platform operator' })
        .click();
      await page.getByRole('link', { name: 'Praxis Weber' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Kanzlei Roth' }).count(), 0);
      assert.ok(page.url().startsWith(`https://${HOST}:${ports.https}/portal/`), page.url());
      await page.getByRole('link', { name: 'Praxis Weber' }).click();
      await page.getByText('Live', { exact: true }).waitFor();
      assert.match((await page.getByTestId('balance').textContent()) ?? '', /100\.00/);

      // A top-up started on the partner's domain comes back to it from Checkout (not to the platform's URL), signed in
      // again silently there, with the credit arriving live.
      await page.getByRole('link', { name: 'Top up' }).click();
      await page.getByLabel('Amount (EUR)').fill('25');
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      await page.getByText('this is NOT Stripe').waitFor();
      const session = [...stack.stripeStandIn!.checkoutSessions.values()].at(-1)!;
      assert.equal(session['success_url'], `https://${HOST}:${ports.https}/portal/top-up/done?session_id={CHECKOUT_SESSION_ID}`);
      assert.equal(session['cancel_url'], `https://${HOST}:${ports.https}/portal/top-up/cancelled`);
      await page.getByRole('button', { name: 'Pay (simulated)' }).click();
      await page.getByText('Payment received.', { exact: false }).waitFor();
      assert.ok(page.url().startsWith(`https://${HOST}:${ports.https}/portal/tenants/${voxlyTenant}`), page.url());
      await waitUntil(async () => /125\.00/.test((await page.getByTestId('balance').textContent()) ?? ''), 'the credited top-up on screen');

      // The partner manages its domains in the portal: this one active, with its certificate's expiry and renewal.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.goto(`https://${HOST}:${ports.https}/portal/branding`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page
        .locator('section', { has: page.getByRole('heading', { name: 'Partners (resellers)' }) })
        .getByRole('button', { name: 'Voxly Reseller' })
        .click();
      const row = page.getByTestId(`domain-${HOST}`);
      await row.getByText('Active', { exact: true }).waitFor();
      assert.match((await row.getByTestId('domain-certificate').textContent()) ?? '', /^valid until .+, renewal from .+/);
      assert.deepEqual(await axeViolations(page), [], 'branding and domains page with an active domain');
    } catch (error) {
      const path = await saveScreenshot(page, ARTIFACTS, 'portal-custom-domain');
      throw Object.assign(error as Error, { message: `${(error as Error).message} (screenshot: ${path})` });
    } finally {
      await page.close();
    }
  });
});
