import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { childEnvironment } from './harness.js';
import { waitUntil } from './wait.js';

/** A free TCP port on 127.0.0.1 (bound and released: another process could take it meanwhile, rarely). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Waits until `check` holds (no fixed sleeps): the processes below are ready when they answer. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  await waitUntil(() => check().catch(() => false), what, { timeoutMs: 10_000, intervalMs: 20 });
}

interface Child {
  process: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}

/**
 * `detached`: in its own process group, so a terminal's Ctrl-C reaches only the process that runs it, which stops it in
 * its own order (the embedded default stops pebble after the services that talk to it).
 */
function run(command: string, args: string[], env: Record<string, string> = {}, detached = false): Child {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnvironment(env), detached });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-20_000)));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  return { process: child, output: () => output, exited };
}

async function stopChild(child: Child | undefined): Promise<void> {
  if (!child || child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 3000);
  await child.exited;
  clearTimeout(timer);
}

/** A self-signed certificate for 127.0.0.1 / localhost: pebble's own HTTPS listener needs one. */
function selfSignedLocalhost(): Promise<{ certificatePem: string; keyPem: string }> {
  return selfSignedCertificate(['localhost'], ['127.0.0.1']);
}

/** A self-signed ECDSA P-256 certificate for `hostnames` (and `ips`), valid for a day (benchmarks, web-server tests). */
export async function selfSignedCertificate(hostnames: readonly string[], ips: readonly string[] = []): Promise<{ certificatePem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    name: `CN=${hostnames[0] ?? ips[0] ?? 'localhost'}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([
        ...hostnames.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .match(/.{1,64}/g)
    ?.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { certificatePem: certificate.toString('pem'), keyPem };
}

/** Fetch with pebble's listener certificate trusted (its API and management port are HTTPS only). */
async function getTrusted(url: string, ca: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `pebble-challtestsrv` as the DNS server of a test: A records default to 127.0.0.1; TXT records are set by hand. */
export interface ChallTestSrv {
  /** `127.0.0.1:port` of its DNS server (UDP and TCP). */
  readonly dnsAddress: string;
  /** Its management API (`POST /set-txt {"host", "value"}`, ...). */
  readonly managementUrl: string;
  setTxt(name: string, value: string): Promise<void>;
  clearTxt(name: string): Promise<void>;
  /** Points `hostname` at `address` instead of the default 127.0.0.1. */
  setA(hostname: string, address: string): Promise<void>;
  clearA(hostname: string): Promise<void>;
  /** Its process (to recognise one left running after whoever started it was killed). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export async function startChallTestSrv(
  options: { binary?: string; dnsPort?: number; managementPort?: number; detached?: boolean } = {},
): Promise<ChallTestSrv> {
  const binary = options.binary ?? 'pebble-challtestsrv';
  const dnsPort = options.dnsPort || (await freePort());
  const managementPort = options.managementPort || (await freePort());
  const child = run(
    binary,
    [
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${managementPort}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    {},
    options.detached,
  );
  const management = `http://127.0.0.1:${managementPort}`;
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${management}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`challtestsrv ${path}: HTTP ${response.status}`);
  };
  try {
    await until(
      async () => (await fetch(`${management}/clear-txt`, { method: 'POST', body: JSON.stringify({ host: 'ready.invalid.' }) })).ok,
      'pebble-challtestsrv',
    );
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}: ${child.output()}`);
  }
  const fqdn = (name: string) => (name.endsWith('.') ? name : `${name}.`);
  return {
    dnsAddress: `127.0.0.1:${dnsPort}`,
    managementUrl: management,
    setTxt: (name, value) => post('/set-txt', { host: fqdn(name), value }),
    clearTxt: (name) => post('/clear-txt', { host: fqdn(name) }),
    setA: (hostname, address) => post('/add-a', { host: fqdn(hostname), addresses: [address] }),
    clearA: (hostname) => post('/clear-a', { host: fqdn(hostname) }),
    pid: child.process.pid,
    stop: () => stopChild(child),
  };
}

export interface PebbleOptions {
  /** Where pebble sends http-01 validation requests (the web server's plain HTTP port). */
  httpPort: number;
  /** DNS server pebble resolves names with (challtestsrv's `dnsAddress`). */
  dnsServer: string;
  /** Lifetime of issued certificates, seconds (pebble's default is about five years). */
  certificateValiditySeconds?: number;
  binary?: string;
  /** In its own process group (see `run`). */
  detached?: boolean;
}

/** Debian's `pebble` (RFC 8555 test CA), on free ports, without artificial validation delays. */
export interface Pebble {
  readonly directoryUrl: string;
  /** PEM certificate of pebble's own HTTPS listener: trust it to talk ACME to pebble (ACME_CA_CERTIFICATES). */
  readonly listenerCertificatePem: string;
  /** The root of the certificates pebble issues (new per launch): trust it to check issued certificates. */
  rootCertificatePem(): Promise<string>;
  /** What pebble's management API says of an issued certificate (by its hexadecimal serial): valid or revoked, and why. */
  certificateStatus(serialHex: string): Promise<{ status: 'Valid' | 'Revoked'; reason: number | null }>;
  /** Its process now (to recognise one left running after whoever started it was killed). */
  readonly pid: number | undefined;
  /** Stops pebble, e.g. to make the CA unreachable; `start()` brings it back (with a new root and no accounts). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Removes its temporary files too. */
  destroy(): Promise<void>;
}

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'saldo-pebble-'));
  const [port, managementPort] = [await freePort(), await freePort()];
  const tls = await selfSignedLocalhost();
  await writeFile(join(dir, 'cert.pem'), tls.certificatePem);
  await writeFile(join(dir, 'key.pem'), tls.keyPem);
  await writeFile(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: options.httpPort,
        tlsPort: await freePort(),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.certificateValiditySeconds ? { certificateValidityPeriod: options.certificateValiditySeconds } : {}),
      },
    }),
  );
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  let child: Child | undefined;
  const start = async () => {
    child = run(
      options.binary ?? 'pebble',
      ['-config', join(dir, 'pebble.json'), '-dnsserver', options.dnsServer, '-strict=false'],
      {
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        PEBBLE_AUTHZREUSE: '0',
      },
      options.detached,
    );
    const started = child;
    try {
      await until(async () => (await getTrusted(directoryUrl, tls.certificatePem)).status === 200, 'pebble');
    } catch (error) {
      await stopChild(started);
      throw new Error(`${(error as Error).message}: ${started.output()}`);
    }
  };
  await start();
  return {
    directoryUrl,
    listenerCertificatePem: tls.certificatePem,
    async rootCertificatePem() {
      const response = await getTrusted(`https://127.0.0.1:${managementPort}/roots/0`, tls.certificatePem);
      if (response.status !== 200) throw new Error(`pebble /roots/0: HTTP ${response.status}`);
      return response.body;
    },
    async certificateStatus(serialHex) {
      // pebble prints serials as a big integer in hexadecimal: no leading zeros.
      const serial = serialHex.toLowerCase().replace(/^0+/, '');
      const response = await getTrusted(`https://127.0.0.1:${managementPort}/cert-status-by-serial/${serial}`, tls.certificatePem);
      if (response.status !== 200) throw new Error(`pebble /cert-status-by-serial/${serial}: HTTP ${response.status} ${response.body}`);
      const body = JSON.parse(response.body) as { Status: 'Valid' | 'Revoked'; Reason?: number };
      return { status: body.Status, reason: body.Reason ?? null };
    },
    get pid() {
      return child?.process.pid;
    },
    stop: () => stopChild(child),
    start,
    async destroy() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
