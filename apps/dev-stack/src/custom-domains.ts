import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processCommand, stopLeftRunning, type Logger } from '@saldo/service';
import { startChallTestSrv, startPebble, type ChallTestSrv, type Pebble } from '@saldo/testing';
import type { EmbeddedConfig } from './config.js';
import { embeddedEncryptionKey } from './keys.js';

export interface DevCustomDomains {
  /** White-label settings (WEB_SERVER, NGINX_*, ACME_*, ...). */
  whiteLabelEnv: Record<string, string>;
  /** Lines for the start banner. */
  banner: string;
  stop(): Promise<void>;
}

/**
 * Custom domains in the embedded default: nothing (WEB_SERVER=none, domains stop at VERIFIED), or nginx run by the
 * white-label service with certificates from ACME_DIRECTORY_URL or, unset, a local pebble whose DNS is a local
 * pebble-challtestsrv (partners' TXT records are set through its management API). Development only.
 *
 * pebble and pebble-challtestsrv run in their own process groups, like the embedded PostgreSQL and nginx: a terminal's
 * Ctrl-C reaches Saldo only, which stops them after the services that use them (`stop()`). Their pids and command
 * lines are kept in SALDO_HOME/custom-domains.pids while they run, so a start after a Saldo that was killed stops the
 * ones it left running (which would hold their ports) before anything else.
 */
export async function startDevCustomDomains(config: EmbeddedConfig, logger: Logger): Promise<DevCustomDomains | null> {
  const pidsFile = join(config.SALDO_HOME, 'custom-domains.pids');
  await stopHelpersLeftRunning(pidsFile, logger);
  if (config.WEB_SERVER !== 'nginx') return null;
  if (spawnSync('nginx', ['-v']).error) throw new Error('WEB_SERVER=nginx needs nginx on the PATH (Debian/Ubuntu: apt-get install nginx)');
  const home = config.SALDO_HOME;
  let challtestsrv: ChallTestSrv | undefined;
  let pebble: Pebble | undefined;
  const env: Record<string, string> = {
    WEB_SERVER: 'nginx',
    NGINX_PREFIX: join(home, 'nginx'),
    NGINX_LISTEN_ADDRESS: '127.0.0.1',
    NGINX_HTTP_PORT: String(config.NGINX_HTTP_PORT),
    NGINX_HTTPS_PORT: String(config.NGINX_HTTPS_PORT),
    NGINX_WORKER_PROCESSES: '1',
    GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${config.GATEWAY_PORT}`,
    DOMAINS_ENCRYPTION_KEY: await embeddedEncryptionKey(home, 'domains'),
    // Seconds matter here: pick jobs up at once.
    JOBS_LISTEN_NOTIFY: 'true',
  };
  let banner: string;
  if (config.ACME_DIRECTORY_URL) {
    env['ACME_DIRECTORY_URL'] = config.ACME_DIRECTORY_URL;
    banner = `  Custom domains: nginx on :${config.NGINX_HTTP_PORT} / :${config.NGINX_HTTPS_PORT}, certificates from ${config.ACME_DIRECTORY_URL}\n`;
  } else {
    if (spawnSync('pebble', ['-h']).error) throw new Error('WEB_SERVER=nginx without ACME_DIRECTORY_URL needs pebble on the PATH (apt-get install pebble)');
    challtestsrv = await startChallTestSrv({ dnsPort: config.LOCAL_DNS_PORT, managementPort: config.LOCAL_DNS_MANAGEMENT_PORT, detached: true });
    // Recorded as soon as it runs, so a Saldo killed while pebble starts leaves nothing unknown behind.
    await recordHelpers(pidsFile, [challtestsrv.pid]);
    try {
      pebble = await startPebble({ httpPort: config.NGINX_HTTP_PORT, dnsServer: challtestsrv.dnsAddress, detached: true });
    } catch (error) {
      await challtestsrv.stop();
      throw error;
    }
    await recordHelpers(pidsFile, [challtestsrv.pid, pebble.pid]);
    const rootFile = join(home, 'pebble-root.pem');
    await writeFile(rootFile, await pebble.rootCertificatePem());
    Object.assign(env, {
      ACME_DIRECTORY_URL: pebble.directoryUrl,
      ACME_CA_CERTIFICATES: pebble.listenerCertificatePem,
      DOMAIN_DNS_RESOLVERS: challtestsrv.dnsAddress,
      // Names under .example and .test are fine with a local CA.
      CUSTOM_DOMAIN_RESERVED_SUFFIXES: 'example,test',
    });
    banner =
      `  Custom domains: nginx on :${config.NGINX_HTTP_PORT} / :${config.NGINX_HTTPS_PORT}; local ACME CA (pebble, NOT a public CA) ${pebble.directoryUrl}, its root in ${rootFile}\n` +
      `                  local DNS (pebble-challtestsrv) ${challtestsrv.dnsAddress}: publish TXT records with\n` +
      `                  curl -d '{"host":"_saldo-challenge.<hostname>.","value":"<token>"}' ${challtestsrv.managementUrl}/set-txt\n`;
  }
  return {
    whiteLabelEnv: env,
    banner,
    async stop() {
      await pebble?.destroy();
      await challtestsrv?.stop();
      await rm(pidsFile, { force: true });
    },
  };
}

interface HelperProcess {
  pid: number;
  command: string;
}

async function recordHelpers(pidsFile: string, pids: ReadonlyArray<number | undefined>): Promise<void> {
  const helpers = pids.flatMap((pid): HelperProcess[] => {
    const command = pid ? processCommand(pid) : undefined;
    return pid && command ? [{ pid, command }] : [];
  });
  await writeFile(pidsFile, `${JSON.stringify(helpers)}\n`);
}

/**
 * Stops the pebble and pebble-challtestsrv an earlier Saldo on this SALDO_HOME left running (it was killed before its
 * stop). Only a process that still shows the recorded command line is one of them (a pid may have been reused since).
 * No other Saldo runs on this SALDO_HOME: the embedded PostgreSQL's lock refused the start before this point.
 */
async function stopHelpersLeftRunning(pidsFile: string, logger: Logger): Promise<void> {
  let helpers: HelperProcess[];
  try {
    helpers = JSON.parse(await readFile(pidsFile, 'utf8')) as HelperProcess[];
  } catch {
    // None recorded (the last run stopped them), or an unreadable file: nothing known to stop.
    return;
  }
  for (const { pid, command } of helpers) {
    if (processCommand(pid) !== command) continue;
    const program = command.split(' ')[0];
    logger.info('stopping a helper an earlier Saldo left running', { pid, command: program });
    await stopLeftRunning(pid, { signal: 'SIGTERM', what: `${program} (pid ${pid}) left running to stop`, timeoutMs: 5_000 });
  }
  await rm(pidsFile, { force: true });
}
