import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import type { Identity } from '@saldo/graphql';
import { freePort, startChallTestSrv, startPebble, waitUntil, type ChallTestSrv, type Pebble } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

const run = promisify(execFile);

let stack: TestStack;
let challtestsrv: ChallTestSrv;
let pebble: Pebble;
let prefix: string;
let ports: { http: number; https: number; gateway: number };
let rootFile: string;

/** A GraphQL request over HTTPS through nginx to `hostname` (curl, trusting only pebble's root), optionally signed in. */
async function overHttps(hostname: string, query: string, identity?: Identity): Promise<{ status: number; body: any }> {
  const headers = identity ? Object.entries(await stack.authHeaders(identity)).flatMap(([name, value]) => ['-H', `${name}: ${value}`]) : [];
  const { stdout } = await run('curl', [
    '-sS',
    '--max-time',
    '10',
    '-w',
    '\n%{http_code}',
    '--resolve',
    `${hostname}:${ports.https}:127.0.0.1`,
    '--cacert',
    rootFile,
    '-H',
    'content-type: application/json',
    ...headers,
    '--data',
    JSON.stringify({ query }),
    `https://${hostname}:${ports.https}/graphql`,
  ]);
  const lines = stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n')) };
}

async function ok(query: string, variables: Record<string, unknown> = {}, identity?: Identity): Promise<Record<string, any>> {
  const result = await stack.gql(query, variables, identity);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as Record<string, any>;
}

describe('a partner on its own domain: HTTPS from the ACME CA through nginx, its branding and only its tenants', () => {
  before(async () => {
    challtestsrv = await startChallTestSrv();
    ports = { http: await freePort(), https: await freePort(), gateway: await freePort() };
    pebble = await startPebble({ httpPort: ports.http, dnsServer: challtestsrv.dnsAddress });
    prefix = await mkdtemp(join(tmpdir(), 'saldo-e2e-nginx-'));
    rootFile = join(prefix, 'pebble-root.pem');
    stack = await startTestStack('domains', {
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
    await writeFile(rootFile, await pebble.rootCertificatePem());
  });

  after(async () => {
    await stack?.destroy();
    await pebble?.destroy();
    await challtestsrv?.stop();
    if (prefix) await rm(prefix, { recursive: true, force: true });
  });

  it('goes from addCustomDomain to a branded HTTPS answer on its own, and stops serving when removed', async () => {
    const partners: string[] = [];
    for (const name of ['Voxly', 'Other Reseller'])
      partners.push((await ok(`mutation($n: String!) { createPartner(input: { name: $n, country: "DE" }) { id } }`, { n: name }))['createPartner'].id);
    const [voxly, other] = partners as [string, string];
    await ok(`mutation($id: ID!) { setPartnerBranding(partnerId: $id, input: { displayName: "Voxly Assist", primaryColor: "#1d4ed8" }) { displayName } }`, {
      id: voxly,
    });
    const tenantOf = async (partnerId: string, name: string) =>
      (await ok(`mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }`, { input: { name, currency: 'EUR', country: 'DE', partnerId } }))[
        'createTenant'
      ].id as string;
    const voxlyTenant = await tenantOf(voxly, 'Praxis Weber');
    const otherTenant = await tenantOf(other, 'Kanzlei Roth');
    await stack.flushEvents();

    const asVoxly: Identity = { role: 'partner', subject: 'voxly-admin', partnerId: voxly };
    const added = (
      await ok(
        `mutation($input: AddCustomDomainInput!) { addCustomDomain(input: $input) { id status verification { recordName recordValue } } }`,
        { input: { partnerId: voxly, hostname: 'portal.voxly.example', purpose: 'PORTAL' } },
        asVoxly,
      )
    )['addCustomDomain'];
    await challtestsrv.setTxt(added.verification.recordName, added.verification.recordValue);
    const verified = (await ok(`mutation($id: ID!) { verifyCustomDomain(id: $id) { status } }`, { id: added.id }, asVoxly))['verifyCustomDomain'];
    assert.equal(verified.status, 'VERIFIED');

    // The jobs take it from here: certificate from the CA, nginx reloaded, ACTIVE.
    const active = await waitUntil(async () => {
      const data = await ok(
        `query($id: ID!) { partner(id: $id) { customDomains { hostname status lastError certificateExpiresAt nextRenewalAt } } }`,
        { id: voxly },
        asVoxly,
      );
      const domain = data['partner'].customDomains[0];
      assert.notEqual(domain.status, 'FAILED', domain.lastError);
      return domain.status === 'ACTIVE' ? domain : null;
    }, 'the domain to become ACTIVE');
    assert.ok(new Date(active.nextRenewalAt) < new Date(active.certificateExpiresAt));

    // Anyone (a login page, before signing in) gets the partner's branding on its domain.
    const branding = await overHttps('portal.voxly.example', '{ currentBranding { displayName primaryColor source } }');
    assert.equal(branding.status, 200, JSON.stringify(branding.body));
    assert.deepEqual(branding.body.data.currentBranding, { displayName: 'Voxly Assist', primaryColor: '#1D4ED8', source: 'PARTNER' });
    // The platform's own address still shows the platform's.
    const platform = await stack.gql('{ currentBranding { displayName } }');
    assert.equal(platform.data?.currentBranding.displayName, 'Saldo');

    // Through the partner's domain even an operator sees only that partner's tenants.
    const admin: Identity = { role: 'platform-admin', subject: 'ops' };
    const listed = await overHttps('portal.voxly.example', '{ tenants(first: 50) { edges { node { id } } } }', admin);
    assert.deepEqual(
      listed.body.data.tenants.edges.map((edge: any) => edge.node.id),
      [voxlyTenant],
    );
    const foreign = await overHttps('portal.voxly.example', `{ tenant(id: "${otherTenant}") { id } }`, admin);
    assert.equal(foreign.body.data.tenant, null);
    const direct = await stack.gql(`{ tenant(id: "${otherTenant}") { id } }`, {}, admin);
    assert.equal(direct.data?.tenant.id, otherTenant, 'on the platform address the operator sees everything');
    // Another partner's credentials get nothing through Voxly's domain.
    const intruder = await overHttps('portal.voxly.example', '{ tenants(first: 5) { edges { node { id } } } }', {
      role: 'partner',
      subject: 'x',
      partnerId: other,
    });
    assert.equal(intruder.body.errors?.[0]?.extensions?.code, 'FORBIDDEN');

    await ok(`mutation($id: ID!) { removeCustomDomain(id: $id) { status } }`, { id: added.id }, asVoxly);
    await waitUntil(async () => {
      try {
        await overHttps('portal.voxly.example', '{ __typename }');
        return false;
      } catch {
        return true;
      }
    }, 'nginx to stop serving the removed domain');
  });
});
