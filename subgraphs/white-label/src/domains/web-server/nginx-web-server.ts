import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:tls';
import type { Logger } from '@saldo/service';
import type { DomainPurpose } from '../entities/custom-domain.js';
import { GENERATION_PATH, renderMainConfig, renderSites, type LineRange, type NginxLayout, type ServedDomain } from './nginx-config.js';
import type { NginxProcess } from './nginx-process.js';

/** A certificate a domain may be served with. */
export interface CertificateToServe {
  certificateId: string;
  chainPem: string;
  privateKeyPem: string;
}

/** A domain to serve, with its certificates in order of preference (a new one first, the one serving now second). */
export interface DomainToServe {
  id: string;
  hostname: string;
  purpose: DomainPurpose;
  hsts: boolean;
  certificates: CertificateToServe[];
}

export interface ApplyResult {
  generation: string;
  /** The certificate each domain is now served with (domains absent here are not served). */
  served: Map<string, string>;
  /** Domains nginx refused (with its message), at least for their preferred certificate. */
  rejected: Map<string, string>;
}

/** nginx refused the configuration for a reason no single domain explains; nothing was changed. */
export class WebServerRejectedError extends Error {
  override name = 'WebServerRejectedError';
}

const MAX_ATTRIBUTION_ROUNDS = 5;

/**
 * Serves custom domains with nginx. Every change is a new *generation*: a directory with the whole configuration,
 * checked with `nginx -t` while the running server still uses the previous one. Only a valid generation becomes live,
 * by atomically re-pointing the `live` symlink that the root nginx.conf includes, followed by one reload (SIGHUP:
 * nginx starts new workers, old ones finish their connections). A domain whose certificate nginx refuses is attributed
 * from nginx's message, dropped back to the certificate it had (or left out) and reported; anything unattributable
 * leaves the live configuration untouched. A reload counts only once the new generation answers on the HTTP port;
 * otherwise the previous generation is restored.
 */
export class NginxWebServer {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly layout: NginxLayout,
    private readonly nginx: NginxProcess,
    private readonly logger: Logger,
    private readonly options: { manage: boolean; reloadTimeoutMs: number },
  ) {}

  private get rootConfig(): string {
    return `${this.layout.prefix}/nginx.conf`;
  }

  private certificatePaths(certificateId: string): { certificatePath: string; keyPath: string } {
    return { certificatePath: `${this.layout.prefix}/certs/${certificateId}.crt`, keyPath: `${this.layout.prefix}/certs/${certificateId}.key` };
  }

  /** Creates the prefix layout and the root configuration (which includes whatever generation is live). */
  private async prepare(): Promise<void> {
    const p = this.layout.prefix;
    await Promise.all(['logs', 'certs', 'generations', 'temp'].map((dir) => mkdir(`${p}/${dir}`, { recursive: true })));
    // Workers may run as another user than the master (root starts them as nobody): they write proxy buffers here.
    for (const dir of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      await mkdir(`${p}/temp/${dir}`, { recursive: true });
      await chmod(`${p}/temp/${dir}`, 0o1777);
    }
    await atomicWrite(
      this.rootConfig,
      `# Saldo custom domains: the live generation (a symlink the white-label service re-points).\ninclude "${p}/live/nginx.conf";\n`,
    );
  }

  /** Serves exactly `domains` (one reload), serialized with other applies of this process. */
  apply(domains: readonly DomainToServe[]): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyNow(domains));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(domains: readonly DomainToServe[]): Promise<ApplyResult> {
    await this.prepare();
    const generation = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const dir = `${this.layout.prefix}/generations/${generation}`;
    await mkdir(dir);
    // Certificates are written once under their id and never changed: a generation only points at them.
    const written = new Set<string>();
    for (const domain of domains) {
      for (const certificate of domain.certificates) {
        if (written.has(certificate.certificateId)) continue;
        written.add(certificate.certificateId);
        const paths = this.certificatePaths(certificate.certificateId);
        if (!(await exists(paths.keyPath))) {
          await atomicWrite(paths.certificatePath, certificate.chainPem, 0o644);
          await atomicWrite(paths.keyPath, certificate.privateKeyPem, 0o600);
        }
      }
    }

    const choice = new Map(domains.map((domain) => [domain.id, 0]));
    const rejected = new Map<string, string>();
    let chosen: ServedDomain[] = [];
    let valid = false;
    for (let round = 0; round < MAX_ATTRIBUTION_ROUNDS && !valid; round += 1) {
      chosen = domains.flatMap((domain) => {
        const certificate = domain.certificates[choice.get(domain.id) ?? 0];
        if (!certificate) return [];
        return [{ id: domain.id, hostname: domain.hostname, purpose: domain.purpose, hsts: domain.hsts, ...this.certificatePaths(certificate.certificateId) }];
      });
      const sites = renderSites(this.layout, chosen);
      await atomicWrite(`${dir}/sites.conf`, sites.text);
      await atomicWrite(`${dir}/nginx.conf`, renderMainConfig(this.layout, dir, generation, chosen));
      const result = await this.nginx.test(`${dir}/nginx.conf`);
      if (result.ok) {
        valid = true;
        break;
      }
      const culprits = this.attribute(result.output, sites.ranges, domains, choice);
      if (culprits.size === 0) {
        await rm(dir, { recursive: true, force: true });
        throw new WebServerRejectedError(`nginx -t refused the configuration: ${result.output}`);
      }
      for (const domainId of culprits) {
        if (!rejected.has(domainId)) rejected.set(domainId, result.output);
        choice.set(domainId, (choice.get(domainId) ?? 0) + 1);
      }
    }
    if (!valid) {
      await rm(dir, { recursive: true, force: true });
      throw new WebServerRejectedError('nginx kept refusing the configuration after leaving out the domains it named');
    }

    const previous = await this.liveGeneration();
    await this.makeLive(dir);
    try {
      await this.reloadInto(generation);
    } catch (error) {
      if (previous) {
        await this.makeLive(`${this.layout.prefix}/generations/${previous}`);
        await this.nginx.reload();
      }
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    await this.collectGarbage(generation, previous);
    const served = new Map<string, string>();
    for (const domain of domains) {
      const certificate = domain.certificates[choice.get(domain.id) ?? 0];
      if (certificate) served.set(domain.id, certificate.certificateId);
    }
    this.logger.info('web server reloaded', { generation, domains: served.size, rejected: rejected.size });
    return { generation, served, rejected };
  }

  /** Domains nginx's message names: by a line of sites.conf, or by a certificate or key file. */
  private attribute(output: string, ranges: readonly LineRange[], domains: readonly DomainToServe[], choice: Map<string, number>): Set<string> {
    const culprits = new Set<string>();
    for (const match of output.matchAll(/sites\.conf:(\d+)/g)) {
      const line = Number(match[1]);
      const range = ranges.find((candidate) => line >= candidate.first && line <= candidate.last);
      if (range) culprits.add(range.domainId);
    }
    for (const match of output.matchAll(/certs\/([0-9a-f-]{36})\.(?:crt|key)/g)) {
      const domain = domains.find((candidate) => candidate.certificates[choice.get(candidate.id) ?? 0]?.certificateId === match[1]);
      if (domain) culprits.add(domain.id);
    }
    return culprits;
  }

  private async liveGeneration(): Promise<string | undefined> {
    try {
      return (await readlink(`${this.layout.prefix}/live`)).split('/').pop();
    } catch {
      return undefined;
    }
  }

  /** Re-points `live` atomically (a new symlink renamed over the old one). */
  private async makeLive(dir: string): Promise<void> {
    const temporary = `${this.layout.prefix}/live.${randomBytes(4).toString('hex')}`;
    await symlink(dir, temporary);
    await rename(temporary, `${this.layout.prefix}/live`);
  }

  /** Reloads (or, managed and not running, starts) nginx and waits until the generation answers. */
  private async reloadInto(generation: string): Promise<void> {
    const oldWorkers = await this.nginx.workerPids();
    // A managed nginx is only ever our own child: a master found through the pid file without one was left running by an
    // earlier run, and start() replaces it instead of adopting a process this service would never stop.
    const reloaded = this.options.manage && !this.nginx.managedRunning ? false : await this.nginx.reload();
    if (!reloaded) {
      if (!this.options.manage) {
        // nginx runs elsewhere and has not started yet (it waits for a live generation): it will start with this one.
        this.logger.warn('nginx is not running yet; the new configuration is live on disk for when it starts', { prefix: this.layout.prefix });
        return;
      }
      await this.nginx.start(this.rootConfig);
    }
    const deadline = Date.now() + this.options.reloadTimeoutMs;
    let delay = 5;
    for (;;) {
      // Live once the new generation answers and no old worker accepts connections any more.
      if ((await this.servedGeneration()) === generation && (await everyAsync(oldWorkers, (pid) => this.nginx.retired(pid)))) return;
      if (Date.now() > deadline)
        throw new WebServerRejectedError(
          `nginx did not load generation ${generation} within ${this.options.reloadTimeoutMs} ms (see ${this.layout.prefix}/logs/error.log)`,
        );
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 200);
    }
  }

  /** The generation a fresh connection to the HTTP port is answered by (undefined while nothing listens). */
  servedGeneration(): Promise<string | undefined> {
    const host = probeHost(this.layout.listenAddress);
    return new Promise((resolve) => {
      const req = request({ host, port: this.layout.httpPort, path: GENERATION_PATH, agent: false, headers: { connection: 'close' }, timeout: 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : undefined));
      });
      req.on('error', () => resolve(undefined));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  /** The SHA-256 fingerprint of the certificate a fresh TLS connection for `hostname` is shown (undefined if refused). */
  servedFingerprint(hostname: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const socket = connect({
        host: probeHost(this.layout.listenAddress),
        port: this.layout.httpsPort,
        servername: hostname,
        rejectUnauthorized: false,
        timeout: 3000,
      });
      socket.once('secureConnect', () => {
        const fingerprint = socket.getPeerCertificate().fingerprint256?.replaceAll(':', '').toLowerCase();
        socket.destroy();
        resolve(fingerprint);
      });
      socket.once('error', () => resolve(undefined));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(undefined);
      });
    });
  }

  /**
   * Whether a fresh TLS connection for `hostname` is shown the certificate with `fingerprint`, within `timeoutMs`: an old
   * worker may still accept a connection or two right after a reload, so a mismatch is retried until the deadline.
   */
  async serves(hostname: string, fingerprint: string, timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let delay = 10;
    for (;;) {
      if ((await this.servedFingerprint(hostname)) === fingerprint) return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 250);
    }
  }

  /** Keeps the live and the previous generation; removes certificate files neither refers to. */
  private async collectGarbage(live: string, previous: string | undefined): Promise<void> {
    const generations = `${this.layout.prefix}/generations`;
    const keep = new Set([live, previous].filter((name): name is string => Boolean(name)));
    for (const name of await readdir(generations)) if (!keep.has(name)) await rm(`${generations}/${name}`, { recursive: true, force: true });
    const referenced = new Set<string>();
    for (const name of keep) {
      try {
        const sites = await readFile(`${generations}/${name}/sites.conf`, 'utf8');
        for (const match of sites.matchAll(/certs\/([0-9a-f-]{36})\./g)) referenced.add(match[1] as string);
      } catch {
        // A generation without sites (none yet) refers to nothing.
      }
    }
    for (const file of await readdir(`${this.layout.prefix}/certs`)) {
      const id = file.replace(/\.(crt|key)$/, '');
      if (!referenced.has(id) && /^[0-9a-f-]{36}$/.test(id)) await rm(`${this.layout.prefix}/certs/${file}`, { force: true });
    }
  }

  async stop(): Promise<void> {
    await this.queue;
    if (this.options.manage) await this.nginx.stop();
  }
}

async function everyAsync<T>(items: readonly T[], test: (item: T) => Promise<boolean>): Promise<boolean> {
  return (await Promise.all(items.map(test))).every(Boolean);
}

function probeHost(listenAddress: string): string {
  return listenAddress === '0.0.0.0' || listenAddress === '*' ? '127.0.0.1' : listenAddress;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes a file so that readers see the old content or the new, never a part (temporary file + rename). */
async function atomicWrite(path: string, content: string, mode = 0o644): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, path);
}
