import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
 */
export async function startDevCustomDomains(config: EmbeddedConfig): Promise<DevCustomDomains | null> {
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
    challtestsrv = await startChallTestSrv({ dnsPort: config.LOCAL_DNS_PORT, managementPort: config.LOCAL_DNS_MANAGEMENT_PORT });
    try {
      pebble = await startPebble({ httpPort: config.NGINX_HTTP_PORT, dnsServer: challtestsrv.dnsAddress });
    } catch (error) {
      await challtestsrv.stop();
      throw error;
    }
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
    },
  };
}
