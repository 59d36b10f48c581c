import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@saldo/service';
import {
  freePort,
  selfSignedCertificate,
  startChallTestSrv,
  startPebble,
  startTestSubgraph,
  type ChallTestSrv,
  type Pebble,
  type TestSubgraph,
} from '@saldo/testing';
import {
  DomainPurpose,
  NginxProcess,
  NginxWebServer,
  loadWhiteLabelConfig,
  whiteLabelSubgraph,
  type DomainToServe,
  type WhiteLabelConfig,
  type WhiteLabelServices,
} from '@saldo/subgraph-white-label';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';
import { percentile } from './stats.js';

/** One HTTPS GET to nginx for `hostname`, trusting only `ca`: the status, or 0 when the TLS handshake or request failed. */
function httpsStatus(port: number, hostname: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, servername: hostname, path: '/graphql', ca, agent: false, headers: { host: hostname }, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function startOrigin(): Promise<Server> {
  const server = createServer((_req, res) => res.end('{"data":{}}'));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const ms = (value: number) => Math.round(value * 10) / 10;

/**
 * Custom domains: (a) verifyCustomDomain -> first HTTPS 200 (the jobs obtain the certificate from a local pebble and
 * reload nginx), BENCH_DOMAINS_SAMPLES times; (b) nginx with BENCH_DOMAINS_COUNT domains: `nginx -t`, and a whole
 * sync (configuration written, checked, switched, reloaded and confirmed) for all of them and for one change among them.
 */
export async function domains(config: BenchConfig): Promise<void> {
  const rows: ResultRow[] = [];
  let challtestsrv: ChallTestSrv | undefined;
  let pebble: Pebble | undefined;
  let subgraph: TestSubgraph<WhiteLabelServices, WhiteLabelConfig> | undefined;
  let origin: Server | undefined;
  const prefix = await mkdtemp(join(tmpdir(), 'saldo-bench-nginx-'));
  const bulkPrefix = await mkdtemp(join(tmpdir(), 'saldo-bench-nginx-bulk-'));
  let bulk: NginxWebServer | undefined;
  try {
    challtestsrv = await startChallTestSrv();
    const ports = { http: await freePort(), https: await freePort() };
    pebble = await startPebble({ httpPort: ports.http, dnsServer: challtestsrv.dnsAddress });
    origin = await startOrigin();
    subgraph = await startTestSubgraph(whiteLabelSubgraph, loadWhiteLabelConfig, {
      label: 'benchdomains',
      env: {
        LOG_LEVEL: 'warn',
        WEB_SERVER: 'nginx',
        NGINX_PREFIX: prefix,
        NGINX_LISTEN_ADDRESS: '127.0.0.1',
        NGINX_HTTP_PORT: String(ports.http),
        NGINX_HTTPS_PORT: String(ports.https),
        NGINX_WORKER_PROCESSES: '1',
        GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${(origin.address() as { port: number }).port}`,
        ACME_DIRECTORY_URL: pebble.directoryUrl,
        ACME_CA_CERTIFICATES: pebble.listenerCertificatePem,
        DOMAINS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        DOMAIN_DNS_RESOLVERS: challtestsrv.dnsAddress,
        CUSTOM_DOMAIN_RESERVED_SUFFIXES: 'example',
        JOBS_LISTEN_NOTIFY: 'true',
      },
    });
    const root = await pebble.rootCertificatePem();

    // (a) verify -> first HTTPS 200, one fresh domain per sample.
    const durations: number[] = [];
    for (let sample = 0; sample < config.BENCH_DOMAINS_SAMPLES + 1; sample += 1) {
      const hostname = `portal-${sample}-${randomBytes(3).toString('hex')}.bench.example`;
      const added = await subgraph.query(
        'mutation($input: AddCustomDomainInput!) { addCustomDomain(input: $input) { id verification { recordName recordValue } } }',
        { input: { partnerId: randomUUID(), hostname, purpose: 'PORTAL' } },
      );
      const domain = added.data?.addCustomDomain as { id: string; verification: { recordName: string; recordValue: string } };
      await challtestsrv.setTxt(domain.verification.recordName, domain.verification.recordValue);
      const started = performance.now();
      const verified = await subgraph.query('mutation($id: ID!) { verifyCustomDomain(id: $id) { status } }', { id: domain.id });
      if (verified.errors) throw new Error(JSON.stringify(verified.errors));
      const deadline = Date.now() + 60_000;
      while ((await httpsStatus(ports.https, hostname, root)) !== 200) {
        if (Date.now() > deadline) throw new Error(`${hostname} did not answer over HTTPS within 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // The first sample warms up (account registration, JIT); it is not counted.
      if (sample > 0) durations.push(performance.now() - started);
    }
    durations.sort((a, b) => a - b);
    const median = percentile(durations, 0.5);
    rows.push({
      scenario: 'verifyCustomDomain -> first HTTPS 200 (pebble, nginx reload)',
      target: 'median < 2000 ms',
      met: median < 2000,
      samples: durations.length,
      medianMs: ms(median),
      p95Ms: ms(percentile(durations, 0.95)),
      maxMs: ms(durations.at(-1) ?? Number.NaN),
    });

    // (b) nginx with many domains: its own nginx on its own ports.
    const logger = createLogger({ service: 'bench', level: 'warn' });
    const layout = {
      prefix: bulkPrefix,
      listenAddress: '127.0.0.1',
      httpPort: await freePort(),
      httpsPort: await freePort(),
      workerProcesses: '1',
      gateway: `127.0.0.1:${(origin.address() as { port: number }).port}`,
      challengeResponder: `127.0.0.1:${(origin.address() as { port: number }).port}`,
    };
    const nginx = new NginxProcess('nginx', bulkPrefix, logger);
    bulk = new NginxWebServer(layout, nginx, logger, { manage: true, reloadTimeoutMs: 60_000 });
    const many: DomainToServe[] = [];
    for (let index = 0; index < config.BENCH_DOMAINS_COUNT; index += 1) {
      const hostname = `tenant-${index}.bulk.example`;
      const certificate = await selfSignedCertificate([hostname]);
      many.push({
        id: randomUUID(),
        hostname,
        purpose: index % 2 ? DomainPurpose.API : DomainPurpose.PORTAL,
        hsts: true,
        certificates: [{ certificateId: randomUUID(), chainPem: certificate.certificatePem, privateKeyPem: certificate.keyPem }],
      });
    }
    await bulk.apply([]);
    let started = performance.now();
    await bulk.apply(many);
    const fullSync = performance.now() - started;
    const liveConfig = join(bulkPrefix, 'live', 'nginx.conf');
    const tests: number[] = [];
    for (let run = 0; run < 3; run += 1) {
      started = performance.now();
      const result = await nginx.test(liveConfig);
      if (!result.ok) throw new Error(result.output);
      tests.push(performance.now() - started);
    }
    tests.sort((a, b) => a - b);
    // One more domain among the many: everything is rendered, checked and reloaded once.
    const extra = await selfSignedCertificate(['one-more.bulk.example']);
    many.push({
      id: randomUUID(),
      hostname: 'one-more.bulk.example',
      purpose: DomainPurpose.PORTAL,
      hsts: false,
      certificates: [{ certificateId: randomUUID(), chainPem: extra.certificatePem, privateKeyPem: extra.keyPem }],
    });
    started = performance.now();
    await bulk.apply(many);
    const oneChange = performance.now() - started;
    rows.push(
      { scenario: `nginx -t with ${config.BENCH_DOMAINS_COUNT} domains`, target: 'fast (informational)', met: true, medianMs: ms(percentile(tests, 0.5)) },
      {
        scenario: `sync of ${config.BENCH_DOMAINS_COUNT} new domains (write, nginx -t, switch, reload, confirmed)`,
        target: 'fast (informational)',
        met: true,
        ms: ms(fullSync),
      },
      { scenario: `sync of one change among ${config.BENCH_DOMAINS_COUNT + 1} domains`, target: 'fast (informational)', met: true, ms: ms(oneChange) },
    );
  } finally {
    await bulk?.stop();
    await subgraph?.destroy();
    await pebble?.destroy();
    await challtestsrv?.stop();
    origin?.closeAllConnections();
    await new Promise((resolve) => (origin ? origin.close(resolve) : resolve(undefined)));
    await rm(prefix, { recursive: true, force: true });
    await rm(bulkPrefix, { recursive: true, force: true });
  }
  await report('domains', rows, { samples: config.BENCH_DOMAINS_SAMPLES, domains: config.BENCH_DOMAINS_COUNT });
}
