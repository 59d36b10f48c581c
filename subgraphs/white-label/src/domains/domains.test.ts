import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { freePort, startChallTestSrv, startPebble, startTestSubgraph, type ChallTestSrv, type Pebble, type TestSubgraph } from '@saldo/testing';
import { loadWhiteLabelConfig, type WhiteLabelConfig } from '../config.js';
import { whiteLabelSubgraph } from '../definition.js';
import type { WhiteLabelServices } from '../graphql/context.js';

const run = promisify(execFile);

const DOMAIN_FIELDS = 'id partnerId hostname purpose status statusMessage lastError lastErrorCode verification { recordName recordType recordValue } certificateExpiresAt nextRenewalAt hsts';
const ADD = `mutation($input: AddCustomDomainInput!) { addCustomDomain(input: $input) { ${DOMAIN_FIELDS} } }`;
const VERIFY = `mutation($id: ID!) { verifyCustomDomain(id: $id) { ${DOMAIN_FIELDS} } }`;
const REMOVE = `mutation($id: ID!) { removeCustomDomain(id: $id) { ${DOMAIN_FIELDS} } }`;

let challtestsrv: ChallTestSrv;
let pebble: Pebble;
let origin: Server;
let originUrl: string;
let prefix: string;
let ports: { http: number; https: number };
let subgraph: TestSubgraph<WhiteLabelServices, WhiteLabelConfig>;
let rootPem: string;

/** The origin behind nginx (stands where the gateway is): answers with the Host it was asked for. */
function startOrigin(): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ host: req.headers.host, path: req.url, proto: req.headers['x-forwarded-proto'] }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function ok(query: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
  const result = await subgraph.query(query, variables);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as Record<string, any>;
}

async function errorOf(query: string, variables: Record<string, unknown>): Promise<{ code: string; extensions: Record<string, unknown> }> {
  const result = await subgraph.query(query, variables);
  assert.ok(result.errors?.length, `expected an error, got ${JSON.stringify(result.data)}`);
  return { code: String(result.errors[0]?.extensions?.code), extensions: result.errors[0]?.extensions ?? {} };
}

/** curl over HTTPS to nginx for `hostname`, trusting only pebble's root (new per launch). */
async function curl(hostname: string, path = '/graphql'): Promise<{ status: number; body: string; headers: string }> {
  const rootFile = join(prefix, 'pebble-root.pem');
  await writeFile(rootFile, rootPem);
  const { stdout } = await run('curl', [
    '-sS', '-D', '-', '--max-time', '5',
    '--resolve', `${hostname}:${ports.https}:127.0.0.1`,
    '--cacert', rootFile,
    `https://${hostname}:${ports.https}${path}`,
  ]);
  const [head = '', body = ''] = stdout.split('\r\n\r\n');
  return { status: Number(/HTTP\/[\d.]+ (\d+)/.exec(head)?.[1]), body, headers: head };
}

function domainsOf() {
  return subgraph.service.services.customDomains;
}

/** Add, publish the TXT record, verify: the domain is VERIFIED. */
async function addVerified(hostname: string, partnerId: string = randomUUID()): Promise<Record<string, any>> {
  const added = (await ok(ADD, { input: { partnerId, hostname, purpose: 'PORTAL' } }))['addCustomDomain'];
  await challtestsrv.setTxt(added.verification.recordName, added.verification.recordValue);
  const verified = (await ok(VERIFY, { id: added.id }))['verifyCustomDomain'];
  assert.equal(verified.status, 'VERIFIED');
  return verified;
}

/** What the issue and sync jobs do, run here step by step. */
async function issueAndServe(domainId: string): Promise<void> {
  const outcome = await domainsOf().certificates!.issue(domainId);
  assert.equal(outcome.outcome, 'issued', JSON.stringify(outcome));
  await domainsOf().webServer!.sync();
}

describe('custom domains with pebble and nginx', () => {
  before(async () => {
    challtestsrv = await startChallTestSrv();
    ports = { http: await freePort(), https: await freePort() };
    pebble = await startPebble({ httpPort: ports.http, dnsServer: challtestsrv.dnsAddress });
    origin = await startOrigin();
    const address = origin.address() as { port: number };
    originUrl = `http://127.0.0.1:${address.port}`;
    prefix = await mkdtemp(join(tmpdir(), 'saldo-nginx-'));
    subgraph = await startTestSubgraph(whiteLabelSubgraph, loadWhiteLabelConfig, {
      label: 'domains',
      env: {
        WEB_SERVER: 'nginx',
        NGINX_PREFIX: prefix,
        NGINX_LISTEN_ADDRESS: '127.0.0.1',
        NGINX_HTTP_PORT: String(ports.http),
        NGINX_HTTPS_PORT: String(ports.https),
        NGINX_WORKER_PROCESSES: '1',
        GATEWAY_UPSTREAM_URL: originUrl,
        ACME_DIRECTORY_URL: pebble.directoryUrl,
        ACME_CA_CERTIFICATES: pebble.listenerCertificatePem,
        DOMAINS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        DOMAIN_DNS_RESOLVERS: challtestsrv.dnsAddress,
        CUSTOM_DOMAIN_RESERVED_SUFFIXES: 'example',
        PLATFORM_HOSTNAMES: 'saldo.example',
      },
    });
    rootPem = await pebble.rootCertificatePem();
  });

  after(async () => {
    await subgraph?.destroy();
    await pebble?.destroy();
    await challtestsrv?.stop();
    origin?.closeAllConnections();
    await new Promise((resolve) => origin?.close(resolve));
    if (prefix) await rm(prefix, { recursive: true, force: true });
  });

  it('adds, verifies through DNS TXT, obtains a certificate from the CA and serves the domain over HTTPS', async () => {
    const partnerId = randomUUID();
    const added = (await ok(ADD, { input: { partnerId, hostname: 'Portal.Acme-Voice.example.', purpose: 'PORTAL' } }))['addCustomDomain'];
    assert.equal(added.hostname, 'portal.acme-voice.example');
    assert.equal(added.status, 'PENDING_VERIFICATION');
    assert.equal(added.verification.recordName, '_saldo-challenge.portal.acme-voice.example');

    // Without the record: VERIFICATION_FAILED, still pending, the reason kept.
    const refused = await errorOf(VERIFY, { id: added.id });
    assert.equal(refused.code, 'VERIFICATION_FAILED');
    await challtestsrv.setTxt(added.verification.recordName, 'someone-elses-token');
    assert.equal((await errorOf(VERIFY, { id: added.id })).code, 'VERIFICATION_FAILED');

    await challtestsrv.setTxt(added.verification.recordName, added.verification.recordValue);
    const verified = (await ok(VERIFY, { id: added.id }))['verifyCustomDomain'];
    assert.equal(verified.status, 'VERIFIED');
    assert.equal(verified.lastError, null);

    await issueAndServe(added.id);
    const response = await curl('portal.acme-voice.example');
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { host: 'portal.acme-voice.example', path: '/graphql', proto: 'https' });
    assert.doesNotMatch(response.headers, /strict-transport-security/i, 'no HSTS before the first success');

    const { partner } = (await ok('query($p: ID!) { partner: _entities(representations: [{ __typename: "Partner", id: $p }]) { ... on Partner { customDomains { ' + DOMAIN_FIELDS + ' } } } }', { p: partnerId })) as any;
    const [domain] = partner[0].customDomains;
    assert.equal(domain.status, 'ACTIVE');
    assert.ok(new Date(domain.certificateExpiresAt) > new Date());
    assert.ok(new Date(domain.nextRenewalAt) < new Date(domain.certificateExpiresAt));
    assert.equal(domain.hsts, true, 'answered over HTTPS once: HSTS from the next sync on');

    await domainsOf().webServer!.sync();
    assert.match((await curl('portal.acme-voice.example')).headers, /strict-transport-security: max-age=31536000/i);
    // The portal path goes to the gateway's origin; / redirects to it.
    assert.equal(JSON.parse((await curl('portal.acme-voice.example', '/portal/')).body).path, '/portal/');
    assert.equal((await curl('portal.acme-voice.example', '/')).status, 302);
  });

  it('stores the certificate key and chain encrypted at rest', async () => {
    const rows = await subgraph.service.runtime.db.globalEm().execute<Array<{ chain_sealed: string; private_key_sealed: string }>>(
      'select chain_sealed, private_key_sealed from domain_certificate',
    );
    assert.ok(rows.length > 0);
    for (const row of rows) {
      assert.doesNotMatch(row.chain_sealed, /BEGIN|MII/);
      assert.doesNotMatch(row.private_key_sealed, /BEGIN|PRIVATE/);
      assert.match(row.private_key_sealed, /^v1\./);
    }
    const accounts = await subgraph.service.runtime.db.globalEm().execute<Array<{ key_sealed: string }>>('select key_sealed from acme_account');
    assert.equal(accounts.length, 1, 'one ACME account, created once');
    assert.doesNotMatch(accounts[0]!.key_sealed, /PRIVATE/);
  });

  it('refuses bad hostnames, foreign domains and unknown ids with stable codes and changes nothing', async () => {
    const partnerId = randomUUID();
    const bad: Array<[string, string]> = [
      ['*.acme.example', 'WILDCARD'],
      ['127.0.0.1', 'IP_ADDRESS'],
      ['[::1]', 'IP_ADDRESS'],
      ['intranet', 'INTERNAL_NAME'],
      ['printer.local', 'INTERNAL_NAME'],
      ['db.internal', 'INTERNAL_NAME'],
      ['localhost', 'INTERNAL_NAME'],
      ['app.localhost', 'INTERNAL_NAME'],
      ['api.saldo.example', 'PLATFORM_NAME'],
      ['https://portal.acme.example/', 'MALFORMED'],
      ['bad_label.acme.example', 'MALFORMED'],
      ['-lead.acme.example', 'MALFORMED'],
      [`${'a'.repeat(64)}.acme.example`, 'MALFORMED'],
      ['co.uk', 'PUBLIC_SUFFIX'],
      ['portal.acme.notatld', 'UNKNOWN_SUFFIX'],
    ];
    for (const [hostname, reason] of bad) {
      const error = await errorOf(ADD, { input: { partnerId, hostname, purpose: 'API' } });
      assert.equal(error.code, 'INVALID_HOSTNAME', hostname);
      assert.equal(error.extensions['reason'], reason, hostname);
    }
    const taken = await addVerified('taken.acme.example');
    const foreign = await errorOf(ADD, { input: { partnerId, hostname: 'TAKEN.acme.example', purpose: 'PORTAL' } });
    assert.equal(foreign.code, 'DOMAIN_TAKEN');
    // The holder adding it again gets the same domain.
    const again = (await ok(ADD, { input: { partnerId: taken.partnerId, hostname: 'taken.acme.example', purpose: 'PORTAL' } }))['addCustomDomain'];
    assert.equal(again.id, taken.id);
    assert.equal((await errorOf(REMOVE, { id: randomUUID() })).code, 'DOMAIN_NOT_FOUND');
    assert.equal((await errorOf(VERIFY, { id: 'nope' })).code, 'INVALID_ID');
    const [counted] = await subgraph.service.runtime.db.globalEm().execute<Array<{ count: string }>>('select count(*) from custom_domain where partner_id = ?', [partnerId]);
    assert.equal(Number(counted?.count), 0, 'nothing stored for refused input');
  });

  it('lets a partner manage only its own domains', async () => {
    const owner = randomUUID();
    const domain = (await ok(ADD, { input: { partnerId: owner, hostname: 'own.acme.example', purpose: 'API' } }))['addCustomDomain'];
    const stranger = { role: 'partner' as const, subject: 'p', partnerId: randomUUID() };
    const other = await subgraph.query(REMOVE, { id: domain.id }, stranger);
    assert.equal(other.errors?.[0]?.extensions?.code, 'DOMAIN_NOT_FOUND');
    const forOther = await subgraph.query(ADD, { input: { partnerId: owner, hostname: 'x.acme.example', purpose: 'API' } }, stranger);
    assert.equal(forOther.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const mine = await subgraph.query(REMOVE, { id: domain.id }, { role: 'partner', subject: 'p', partnerId: owner });
    assert.equal(mine.data?.removeCustomDomain.status, 'REMOVED');
  });

  it('rolls back a configuration nginx refuses: the domain is FAILED, the running server keeps serving', async () => {
    const good = await addVerified('good.acme.example');
    await issueAndServe(good.id);
    const live = await readlink(join(prefix, 'live'));

    const broken = await addVerified('broken.acme.example');
    const outcome = await domainsOf().certificates!.issue(broken.id);
    assert.equal(outcome.outcome, 'issued');
    // Corrupt what the web server gets for it: a chain whose key does not match (nginx -t refuses the pair).
    const other = await domainsOf().certificates!.openCertificate((await subgraph.service.runtime.db.globalEm().execute<Array<{ certificate_id: string }>>('select certificate_id from custom_domain where id = ?', [good.id]))[0]!.certificate_id);
    const box = (domainsOf().certificates as any).box;
    const brokenId = (outcome as { certificateId: string }).certificateId;
    await subgraph.service.runtime.db.globalEm().execute('update domain_certificate set chain_sealed = ? where id = ?', [box.seal(other!.chainPem, `domain_certificate:${brokenId}:chain`), brokenId]);

    const sync = await domainsOf().webServer!.sync();
    assert.deepEqual(sync.rejected, [broken.id]);
    const failed = (await ok(`query($id: ID!) { customDomain(id: $id) { ${DOMAIN_FIELDS} } }`, { id: broken.id }))['customDomain'];
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.lastErrorCode, 'WEB_SERVER_REJECTED');
    assert.match(failed.lastError, /key values mismatch|SSL_CTX_use_PrivateKey/);
    // The other domains are still served; the refused one never was.
    assert.equal((await curl('good.acme.example')).status, 200);
    assert.equal((await curl('portal.acme-voice.example')).status, 200);
    await assert.rejects(curl('broken.acme.example'));
    assert.notEqual(await readlink(join(prefix, 'live')), live, 'the valid rest went live in one reload');
  });
});
