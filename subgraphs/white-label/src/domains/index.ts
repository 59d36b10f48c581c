import { breakerSettings } from '@saldo/resilience';
import { resolve } from 'node:path';
import type { Express } from 'express';
import type { SubgraphJobs, SubgraphRuntime } from '@saldo/subgraph';
import { JobDomainTasks, domainQueues, domainSchedules, domainWorkers, verificationSchedules, verificationWorker } from './jobs.js';
import type { WhiteLabelConfig } from '../config.js';
import type { HostnamePolicy } from './hostname.js';
import { mountChallengeResponder, mountServedHostnames } from './http.js';
import { DnsOwnershipVerifier, HttpOwnershipVerifier } from './ownership.js';
import { SecretBox } from '@saldo/secrets';
import { AcmeAccountService } from './services/acme-account-service.js';
import { CertificateService } from './services/certificate-service.js';
import { DomainService } from './services/domain-service.js';
import { NO_DOMAIN_TASKS } from './services/domain-tasks.js';
import { WebServerService } from './services/web-server-service.js';
import { upstreamAddress, type NginxLayout } from './web-server/nginx-config.js';
import { NginxProcess } from './web-server/nginx-process.js';
import { NginxWebServer } from './web-server/nginx-web-server.js';

export { domainEntities } from './entities/index.js';
export { CustomDomain, DomainCertificate, CertificateOrder, AcmeAccount, AcmeChallenge, DomainPurpose, DomainStatus, OrderState } from './entities/index.js';
export { domainGlobalMigrations } from './migrations.js';
export { CustomDomainResolver, customDomainsLoader, type DomainsContext } from './graphql/resolvers.js';
export { CustomDomainType } from './graphql/types.js';
export { validateHostname, type HostnamePolicy, type ValidHostname } from './hostname.js';
export { SecretBox } from '@saldo/secrets';
export { challengeRecordName } from './ownership.js';
export { LETS_ENCRYPT_LIMITS, checkRateLimits } from './rate-limits.js';
export { certificateFacts, pickFromRenewalWindow, twoThirdsInto } from './acme/certificate-info.js';
export { renderMainConfig, renderSites, type NginxLayout, type ServedDomain } from './web-server/nginx-config.js';
export { NginxWebServer, WebServerRejectedError, type DomainToServe } from './web-server/nginx-web-server.js';
export { NginxProcess } from './web-server/nginx-process.js';
export type { DomainService, ServedHostname } from './services/domain-service.js';
export type { CertificateService, IssueOutcome } from './services/certificate-service.js';
export type { WebServerService, SyncOutcome } from './services/web-server-service.js';
export type { DomainTasks } from './services/domain-tasks.js';
export { issueCertificateQueue, syncWebServerQueue, renewalSweepQueue } from './jobs.js';

/** Custom domains' services; the certificate and web-server parts exist only with a web server configured. */
export interface DomainServices {
  domains: DomainService;
  certificates: CertificateService | null;
  webServer: WebServerService | null;
  tasks: JobDomainTasks | null;
}

export function hostnamePolicy(config: WhiteLabelConfig): HostnamePolicy {
  return { platformHostnames: config.PLATFORM_HOSTNAMES, allowedReservedSuffixes: config.CUSTOM_DOMAIN_RESERVED_SUFFIXES };
}

export function createDomainServices(runtime: SubgraphRuntime<WhiteLabelConfig>): DomainServices {
  const { config, db, logger } = runtime;
  const log = logger.child('domains');
  // When each custom domain's certificate in service expires (the latest one not revoked); alert on time() - this.
  runtime.metrics.gauge({
    name: 'saldo_certificate_expiry_timestamp_seconds',
    help: 'Expiry (Unix seconds) of the latest unrevoked TLS certificate of each custom domain.',
    labelNames: ['hostname'],
    async collect(gauge) {
      const rows = await db
        .globalEm()
        .execute<Array<{ hostname: string; expires: string }>>(
          'select hostname, extract(epoch from max(not_after))::float8 as expires from domain_certificate where revoked_at is null group by hostname',
        );
      gauge.reset();
      for (const row of rows) gauge.set({ hostname: row.hostname }, Number(row.expires));
    },
  });
  const policy = hostnamePolicy(config);
  const ownership = {
    dns: new DnsOwnershipVerifier(config.DOMAIN_DNS_RESOLVERS),
    http: config.DOMAIN_HTTP_VERIFICATION
      ? new HttpOwnershipVerifier(config.DOMAIN_DNS_RESOLVERS, {
          port: config.DOMAIN_HTTP_VERIFICATION_PORT,
          allowNonPublic: config.DOMAIN_HTTP_VERIFICATION_ALLOW_PRIVATE,
        })
      : null,
  };
  if (config.WEB_SERVER !== 'nginx')
    return { domains: new DomainService(db, policy, ownership, null, NO_DOMAIN_TASKS), certificates: null, webServer: null, tasks: null };
  const tasks = new JobDomainTasks(runtime.jobs);

  const box = new SecretBox(config.DOMAINS_ENCRYPTION_KEY as Buffer, config.DOMAINS_ENCRYPTION_PREVIOUS_KEYS);
  const accounts = new AcmeAccountService(
    db,
    box,
    {
      directoryUrl: config.ACME_DIRECTORY_URL as string,
      contactEmail: config.ACME_CONTACT_EMAIL,
      caCertificates: config.ACME_CA_CERTIFICATES,
      timeoutMs: config.ACME_TIMEOUT_SECONDS * 1000,
      breaker: breakerSettings(config, 'ACME'),
    },
    log,
  );
  const certificates = new CertificateService(db, accounts, box, policy, log);
  const prefix = resolve(config.NGINX_PREFIX as string);
  const layout: NginxLayout = {
    prefix,
    listenAddress: config.NGINX_LISTEN_ADDRESS,
    httpPort: config.NGINX_HTTP_PORT,
    httpsPort: config.NGINX_HTTPS_PORT,
    workerProcesses: config.NGINX_WORKER_PROCESSES,
    gateway: upstreamAddress(config.GATEWAY_UPSTREAM_URL),
    // Filled in at start when not configured: this instance's own address.
    challengeResponder: config.ACME_CHALLENGE_UPSTREAM_URL ? upstreamAddress(config.ACME_CHALLENGE_UPSTREAM_URL) : '',
  };
  const server = new NginxWebServer(layout, new NginxProcess(config.NGINX_BINARY, prefix, log), log, {
    manage: config.NGINX_MANAGE,
    reloadTimeoutMs: config.NGINX_RELOAD_TIMEOUT_SECONDS * 1000,
  });
  return {
    domains: new DomainService(db, policy, ownership, certificates, tasks),
    certificates,
    webServer: new WebServerService(db, certificates, server, log),
    tasks,
  };
}

/** Custom domains' durable jobs: queues always, workers and the hourly sweep where a web server is driven. */
export function domainJobs(): SubgraphJobs<{ customDomains: DomainServices }, WhiteLabelConfig> {
  return {
    queues: domainQueues,
    workers: ({ customDomains }, runtime) => [
      verificationWorker(customDomains.domains, runtime.config.DOMAIN_VERIFICATION_RECHECK_HOURS),
      ...(customDomains.certificates && customDomains.webServer && customDomains.tasks
        ? domainWorkers({
            certificates: customDomains.certificates,
            webServer: customDomains.webServer,
            tasks: customDomains.tasks,
            db: runtime.db,
            logger: runtime.logger.child('domains'),
          })
        : []),
    ],
    schedules: (runtime) => [...verificationSchedules(), ...(runtime.config.WEB_SERVER === 'nginx' ? domainSchedules() : [])],
  };
}

export function mountDomainEndpoints(app: Express, services: DomainServices, runtime: SubgraphRuntime<WhiteLabelConfig>): void {
  mountChallengeResponder(app, runtime.db);
  mountServedHostnames(app, services.domains, runtime);
}

/**
 * Starts the web-server side once the service listens: the challenge responder defaults to this instance, and the web
 * server is brought in line at once (a managed nginx starts here), so the CA can reach the responder before the first
 * order. A first sync that fails does not stop the service (its API, verification and the domains nginx already serves
 * do not depend on it): the failure is logged and handed to the durable sync job, which retries with back-off.
 * Returns the stop function.
 */
export async function startDomains(
  services: DomainServices,
  runtime: Pick<SubgraphRuntime<WhiteLabelConfig>, 'config' | 'logger'>,
  url: string,
): Promise<() => Promise<void>> {
  const { config } = runtime;
  const webServer = services.webServer;
  // Only an instance that owns nginx or runs the domain workers touches the web server (API replicas do not).
  if (!webServer || !(config.NGINX_MANAGE || config.JOBS_WORKERS)) return async () => {};
  if (!webServer.server.layout.challengeResponder) webServer.server.layout.challengeResponder = upstreamAddress(url);
  try {
    await webServer.sync();
  } catch (error) {
    runtime.logger.child('domains').error('the first web server sync failed; the sync job retries it', { error });
    await services.tasks?.syncWebServer();
  }
  return () => webServer.stop();
}
