import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createSubgraphService } from '@saldo/subgraph';
import { InProcessEventBus } from '@saldo/events';
import {
  freePort,
  startChallTestSrv,
  testLogger,
  startPebble,
  startTestSubgraph,
  waitUntil,
  type ChallTestSrv,
  type Pebble,
  type TestSubgraph,
} from '@saldo/testing';
import { loadWhiteLabelConfig, type WhiteLabelConfig } from '../config.js';
import { whiteLabelSubgraph } from '../definition.js';
import type { WhiteLabelServices } from '../graphql/context.js';
import { CustomDomain, DomainCertificate } from './entities/index.js';
import { revokeCertificateQueue } from './jobs.js';

const run = promisify(execFile);

const DOMAIN_FIELDS =
  'id partnerId hostname purpose status statusMessage lastError lastErrorCode nextAttemptAt verification { recordName recordType recordValue httpUrl } certificateExpiresAt nextRenewalAt hsts';
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

/** The partner's own web server for the HTTP proof: path -> body. */
const partnerPages = new Map<string, string>();
let partnerServer: Server;

/** Streams held open by the origin: `release()` sends their last line and ends them. */
const streams: Array<() => void> = [];

/** The origin behind nginx (stands where the gateway is): answers with the Host it was asked for. */
function startOrigin(): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/stream') {
      // A long-lived response (like a subscription over SSE): one line now, the last one when the test says so.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      streams.push(() => res.end('data: last\n\n'));
      return;
    }
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
    '-sS',
    '-D',
    '-',
    '--max-time',
    '5',
    '--resolve',
    `${hostname}:${ports.https}:127.0.0.1`,
    '--cacert',
    rootFile,
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
    partnerServer = createServer((req, res) => {
      const body = partnerPages.get(`${req.headers.host}${req.url}`);
      res.statusCode = body === undefined ? 404 : 200;
      res.end(body ?? 'not here');
    });
    await new Promise<void>((resolve) => partnerServer.listen(0, '127.0.0.1', resolve));
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
        // The steps the jobs run (issue, sync) are driven by the tests here, one at a time; the jobs themselves run in
        // the end-to-end test.
        JOBS_WORKERS: 'false',
        // The HTTP proof asks the partner's server on this port (80 in production); it runs on loopback here.
        DOMAIN_HTTP_VERIFICATION_PORT: String((partnerServer.address() as { port: number }).port),
        DOMAIN_HTTP_VERIFICATION_ALLOW_PRIVATE: 'true',
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
    await new Promise((resolve) => partnerServer?.close(resolve));
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

    const { partner } = (await ok(
      'query($p: ID!) { partner: _entities(representations: [{ __typename: "Partner", id: $p }]) { ... on Partner { customDomains { ' +
        DOMAIN_FIELDS +
        ' } } } }',
      { p: partnerId },
    )) as any;
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

  it("accepts the HTTP proof: the partner's own server answers the token before DNS points at the platform", async () => {
    const added = (await ok(ADD, { input: { partnerId: randomUUID(), hostname: 'www.http-proof.example', purpose: 'API' } }))['addCustomDomain'];
    const url = new URL(added.verification.httpUrl);
    assert.equal(url.pathname, `/.well-known/saldo-domain-verification/${added.id}`);
    const wrong = await errorOf(VERIFY, { id: added.id });
    assert.equal(wrong.code, 'VERIFICATION_FAILED');
    assert.match(String((await currentDomain(added.id)).lastError), /no TXT record.*answered 404/);
    partnerPages.set(`www.http-proof.example${url.pathname}`, `${added.verification.recordValue}\n`);
    assert.equal((await ok(VERIFY, { id: added.id }))['verifyCustomDomain'].status, 'VERIFIED');
  });

  it('verifies a pending domain by itself once its record appears, without the partner asking again', async () => {
    const waiting = (await ok(ADD, { input: { partnerId: randomUUID(), hostname: 'later.recheck.example', purpose: 'PORTAL' } }))['addCustomDomain'];
    const stale = (await ok(ADD, { input: { partnerId: randomUUID(), hostname: 'stale.recheck.example', purpose: 'PORTAL' } }))['addCustomDomain'];
    await subgraph.service.runtime.db.globalEm().execute(`update custom_domain set created_at = now() - interval '4 days' where id = ?`, [stale.id], 'run');
    const domains = domainsOf().domains;

    // No record yet: still pending, the reason kept for the partner to read.
    await domains.recheckPending(72);
    assert.equal((await currentDomain(waiting.id)).status, 'PENDING_VERIFICATION');
    assert.match(String((await currentDomain(waiting.id)).lastError), /no TXT record/);

    await challtestsrv.setTxt(waiting.verification.recordName, waiting.verification.recordValue);
    await challtestsrv.setTxt(stale.verification.recordName, stale.verification.recordValue);
    assert.deepEqual(await domains.recheckPending(72), { checked: 1, verified: 1 }, 'only domains added within the window');
    assert.equal((await currentDomain(waiting.id)).status, 'VERIFIED');
    assert.equal((await currentDomain(stale.id)).status, 'PENDING_VERIFICATION', 'added 4 days ago: the partner verifies it');
  });

  it('stores the certificate key and chain encrypted at rest', async () => {
    const rows = await subgraph.service.runtime.db
      .globalEm()
      .execute<Array<{ chain_sealed: string; private_key_sealed: string }>>('select chain_sealed, private_key_sealed from domain_certificate');
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
    const [counted] = await subgraph.service.runtime.db
      .globalEm()
      .execute<Array<{ count: string }>>('select count(*) from custom_domain where partner_id = ?', [partnerId]);
    assert.equal(Number(counted?.count), 0, 'nothing stored for refused input');
  });

  it('revokes the certificates of a removed domain at the CA, once', async () => {
    const domain = await addVerified('gone.acme.example');
    await issueAndServe(domain.id);
    const certificateId = (await subgraph.service.runtime.db.globalEm().findOne(CustomDomain, { id: domain.id }))!.certificateId!;
    const certificate = (await subgraph.service.runtime.db.globalEm().findOne(DomainCertificate, { id: certificateId }))!;
    assert.deepEqual(await pebble.certificateStatus(certificate.serial), { status: 'Valid', reason: null });

    await ok(REMOVE, { id: domain.id });
    const queued = await subgraph.service.runtime.jobs.find(revokeCertificateQueue, { data: { certificateId } });
    assert.equal(queued.length, 1, 'the removal asks for the revocation, as a durable job');
    // The job's step (the tests here drive the steps themselves).
    assert.equal(await domainsOf().certificates!.revoke(certificateId), true);
    assert.deepEqual(await pebble.certificateStatus(certificate.serial), { status: 'Revoked', reason: 5 });
    const stored = (await subgraph.service.runtime.db.globalEm().fork().findOne(DomainCertificate, { id: certificateId }))!;
    assert.ok(stored.revokedAt);
    assert.equal(await domainsOf().certificates!.revoke(certificateId), false, 'a second run (a redelivered job) asks the CA nothing');
    // Removing and adding the hostname again queues no second revocation of the same certificate.
    await ok(ADD, { input: { partnerId: domain.partnerId, hostname: 'gone.acme.example', purpose: 'PORTAL' } });
    assert.equal((await subgraph.service.runtime.jobs.find(revokeCertificateQueue, { data: { certificateId } })).length, 1);
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
    const other = await domainsOf().certificates!.openCertificate(
      (
        await subgraph.service.runtime.db
          .globalEm()
          .execute<Array<{ certificate_id: string }>>('select certificate_id from custom_domain where id = ?', [good.id])
      )[0]!.certificate_id,
    );
    const box = (domainsOf().certificates as any).box;
    const brokenId = (outcome as { certificateId: string }).certificateId;
    await subgraph.service.runtime.db
      .globalEm()
      .execute('update domain_certificate set chain_sealed = ? where id = ?', [box.seal(other!.chainPem, `domain_certificate:${brokenId}:chain`), brokenId]);

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

  it('renews before expiry and swaps the certificate without dropping a live connection', async () => {
    const domain = await addVerified('live.acme.example');
    await issueAndServe(domain.id);
    const before = await servedCertificate('live.acme.example');

    // A response streaming through nginx on a connection made with the old certificate.
    const stream = await openStream('live.acme.example');
    assert.equal(stream.fingerprint, before);
    assert.match(await stream.next(), /data: first/);

    const renewal = await domainsOf().certificates!.issue(domain.id, { force: true });
    assert.equal(renewal.outcome, 'issued');
    const renewing = await currentDomain(domain.id);
    assert.equal(renewing.status, 'RENEWING', 'the old certificate serves while the new one waits for the web server');
    await domainsOf().webServer!.sync();

    const after = await servedCertificate('live.acme.example');
    assert.notEqual(after, before, 'new connections get the new certificate');
    assert.equal((await currentDomain(domain.id)).status, 'ACTIVE');
    // The connection opened before the reload is still alive and delivers the rest of its response.
    for (const release of streams.splice(0)) release();
    assert.match(await stream.rest(), /data: last/);
    assert.equal(stream.errors(), 0);
  });

  it('never places the same order twice when two white-label instances issue the same domain at once', async () => {
    const domain = await addVerified('twice.acme.example');
    const config = subgraph.service.runtime.config;
    const second = createSubgraphService(
      whiteLabelSubgraph,
      { ...config, PORT: 0, NGINX_MANAGE: false, ACME_CHALLENGE_UPSTREAM_URL: subgraph.service.url },
      { bus: new InProcessEventBus(testLogger()), logger: testLogger() },
    );
    await second.start();
    try {
      const instances = [domainsOf().certificates!, second.services.customDomains.certificates!];
      const ordersBefore = await newOrders(instances);
      const outcomes = await Promise.all(instances.map((instance) => instance.issue(domain.id)));
      assert.deepEqual(outcomes.map((outcome) => outcome.outcome).sort(), ['busy', 'issued']);
      assert.equal((await newOrders(instances)) - ordersBefore, 1, 'one new order reached the CA');
      const rows = await subgraph.service.runtime.db
        .globalEm()
        .execute<Array<{ count: string }>>('select count(*) from certificate_order where domain_id = ?', [domain.id]);
      assert.equal(Number(rows[0]?.count), 1);
      // Whichever instance syncs, the web server serves it.
      await second.services.customDomains.webServer!.sync();
      assert.equal((await curl('twice.acme.example')).status, 200);
    } finally {
      await second.stop();
    }
  });

  it('counts failed validations and refuses the sixth duplicate before asking the CA', async () => {
    // Validation fails while the name points where nothing answers the CA.
    const unreachable = await addVerified('nowhere.acme.example');
    await challtestsrv.setA('nowhere.acme.example', '127.0.0.2');
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const outcome = await domainsOf().certificates!.issue(unreachable.id);
      assert.equal(outcome.outcome, 'failed');
      assert.equal((outcome as { code: string }).code, 'VALIDATION_FAILED');
    }
    const limited = await domainsOf().certificates!.issue(unreachable.id);
    assert.equal(limited.outcome, 'rate-limited');
    assert.equal((limited as { limit: string }).limit, 'FAILED_VALIDATIONS');
    assert.equal((await currentDomain(unreachable.id)).lastErrorCode, 'RATE_LIMITED');

    // Five certificates for one hostname (the first and four renewals), then the sixth is refused.
    const domain = await addVerified('dup.acme.example');
    await issueAndServe(domain.id);
    for (let renewal = 2; renewal <= 5; renewal += 1) {
      assert.equal((await domainsOf().certificates!.issue(domain.id, { force: true })).outcome, 'issued');
      await domainsOf().webServer!.sync();
    }
    const instances = [domainsOf().certificates!];
    const ordersBefore = await newOrders(instances);
    const sixth = await domainsOf().certificates!.issue(domain.id, { force: true });
    assert.equal(sixth.outcome, 'rate-limited');
    assert.equal((sixth as { limit: string }).limit, 'DUPLICATE_CERTIFICATES');
    const retryAt = (sixth as { retryAt: Date }).retryAt.getTime();
    assert.ok(retryAt > Date.now() + 6.9 * 24 * 3600_000 && retryAt <= Date.now() + 7 * 24 * 3600_000, 'frees up when the oldest leaves the 7-day window');
    assert.equal(await newOrders(instances), ordersBefore, 'the CA was not asked');
    const waiting = await currentDomain(domain.id);
    assert.equal(waiting.status, 'ACTIVE', 'still served with its certificate');
    assert.equal(waiting.lastErrorCode, 'RATE_LIMITED');
    assert.equal(new Date(waiting.nextAttemptAt).getTime(), retryAt);
    assert.equal((await curl('dup.acme.example')).status, 200);

    // Through the API: removing and adding the hostname again does not get around it.
    await ok(REMOVE, { id: domain.id });
    const again = (await ok(ADD, { input: { partnerId: domain.partnerId, hostname: 'dup.acme.example', purpose: 'PORTAL' } }))['addCustomDomain'];
    await challtestsrv.setTxt(again.verification.recordName, again.verification.recordValue);
    const refused = await errorOf(VERIFY, { id: again.id });
    assert.equal(refused.code, 'RATE_LIMITED');
    assert.equal(refused.extensions['limit'], 'DUPLICATE_CERTIFICATES');
    assert.ok(Number(refused.extensions['retryAfterSeconds']) > 6 * 24 * 3600);
    assert.equal((await currentDomain(again.id)).status, 'PENDING_VERIFICATION', 'nothing changed');
  });

  it('keeps serving every certificate when the CA fails, and retries the renewal later', async () => {
    const domain = await addVerified('outage.acme.example');
    await issueAndServe(domain.id);
    const serving = await servedCertificate('outage.acme.example');
    await pebble.stop();
    const outcome = await domainsOf().certificates!.issue(domain.id, { force: true, finalAttempt: true });
    assert.equal(outcome.outcome, 'failed');
    assert.equal((outcome as { code: string }).code, 'CA_ERROR');
    const state = await currentDomain(domain.id);
    assert.equal(state.status, 'RENEWING', 'a failed renewal never takes the serving certificate away');
    assert.equal(state.lastErrorCode, 'CA_ERROR');
    await domainsOf().webServer!.sync();
    assert.equal(await servedCertificate('outage.acme.example'), serving);
    assert.equal((await curl('outage.acme.example')).status, 200);
    assert.equal((await curl('portal.acme-voice.example')).status, 200);
    // The order stays open at our side (with its lease released), so the next attempt resumes it instead of counting another.
    const pending = await subgraph.service.runtime.db
      .globalEm()
      .execute<Array<{ state: string }>>("select state from certificate_order where domain_id = ? and kind = 'RENEW'", [domain.id]);
    assert.deepEqual(
      pending.map((row) => row.state),
      ['PENDING'],
    );
  });
});

describe('a white-label instance whose first web server sync nginx refuses', () => {
  it('starts and answers anyway, and leaves the sync to the durable job, which keeps retrying it', async () => {
    const brokenPrefix = await mkdtemp(join(tmpdir(), 'saldo-nginx-broken-'));
    // nginx -t fails on the main configuration's own listen directive: an error no domain explains.
    const broken = await startTestSubgraph(whiteLabelSubgraph, loadWhiteLabelConfig, {
      label: 'domains_broken',
      env: {
        WEB_SERVER: 'nginx',
        NGINX_PREFIX: brokenPrefix,
        NGINX_MANAGE: 'false',
        NGINX_LISTEN_ADDRESS: 'no-such-host.invalid',
        ACME_DIRECTORY_URL: 'https://127.0.0.1:9/dir',
        DOMAINS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        JOBS_WORKERS: 'true',
      },
    });
    try {
      const answer = await broken.query('{ __typename }');
      assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
      const syncJobs = async () =>
        broken.service.runtime.db
          .globalEm()
          .execute<Array<{ state: string; retry_count: number }>>("select state, retry_count from pgboss.job where name = 'white-label.sync-web-server'");
      // The job runs the same sync, is refused the same way and is retried (with back-off), never dropped.
      await waitUntil(async () => (await syncJobs()).some((job) => job.retry_count >= 1), 'the sync job failed once and is retried', { timeoutMs: 30_000 });
      assert.ok(
        (await syncJobs()).every((job) => job.state !== 'completed'),
        'a refused sync never counts as done',
      );
    } finally {
      await broken.destroy();
      await rm(brokenPrefix, { recursive: true, force: true });
    }
  });
});

async function currentDomain(id: string): Promise<Record<string, any>> {
  return (await ok(`query($id: ID!) { customDomain(id: $id) { ${DOMAIN_FIELDS} } }`, { id }))['customDomain'];
}

function servedCertificate(hostname: string): Promise<string | undefined> {
  return domainsOf().webServer!.server.servedFingerprint(hostname);
}

async function newOrders(instances: Array<{ instanceId: string }>): Promise<number> {
  let total = 0;
  for (const instance of instances) total += (await (instance as any).accounts.get()).ca.counters.newOrders;
  return total;
}

/** An HTTPS request to nginx for `hostname` whose response streams (the origin's /stream), trusting pebble's root. */
function openStream(hostname: string): Promise<{ fingerprint: string; next(): Promise<string>; rest(): Promise<string>; errors(): number }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: ports.https, servername: hostname, path: '/stream', ca: rootPem, headers: { host: hostname }, agent: false },
      (res) => {
        const socket = res.socket as TLSSocket;
        const fingerprint = socket.getPeerCertificate().fingerprint256.replaceAll(':', '').toLowerCase();
        let buffered = '';
        let errors = 0;
        let waiting: ((chunk: string) => void) | undefined;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (waiting) {
            const deliver = waiting;
            waiting = undefined;
            deliver(chunk);
          } else buffered += chunk;
        });
        res.on('error', () => (errors += 1));
        const ended = new Promise<string>((done) => res.on('end', () => done(buffered)));
        resolve({
          fingerprint,
          next: () => (buffered ? Promise.resolve(buffered.slice(0, buffered.length)).finally(() => (buffered = '')) : new Promise((done) => (waiting = done))),
          rest: () => ended,
          errors: () => errors,
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
