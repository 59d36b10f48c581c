import type { ShardedDatabase } from '@saldo/sharding';
import type { Logger } from '@saldo/service';
import { CustomDomain, DomainStatus } from '../entities/custom-domain.js';
import type { NginxWebServer, DomainToServe } from '../web-server/nginx-web-server.js';
import type { CertificateService } from './certificate-service.js';

export interface SyncOutcome {
  generation: string;
  /** Domains that became ACTIVE with a new certificate. */
  activated: string[];
  /** Domains the web server refused (now FAILED). */
  rejected: string[];
  /** Domains answered over HTTPS for the first time: the next sync adds HSTS for them. */
  firstServed: string[];
}

const SERVABLE = [DomainStatus.ISSUING, DomainStatus.ACTIVE, DomainStatus.RENEWING, DomainStatus.FAILED];

/**
 * Brings the web server in line with the domains: every domain with a certificate (a new one first, the serving one
 * as fallback) and not REMOVED is served. One sync at a time across instances (an advisory lock held for the whole
 * sync); its outcome is written in the same transaction: new certificates become the serving ones (ACTIVE), refused
 * ones make their domain FAILED with nginx's message, and domains answered over HTTPS for the first time get HSTS.
 */
export class WebServerService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly certificates: CertificateService,
    readonly server: NginxWebServer,
    private readonly logger: Logger,
  ) {}

  async sync(): Promise<SyncOutcome> {
    return this.db.globalEm().transactional(async (em) => {
      await em.execute("select pg_advisory_xact_lock(hashtext('white-label:web-server-sync'))");
      const now = new Date();
      const domains = await em.find(
        CustomDomain,
        { status: { $in: SERVABLE }, $or: [{ certificateId: { $ne: null } }, { pendingCertificateId: { $ne: null } }] },
        { orderBy: { hostname: 'asc' } },
      );
      const toServe: DomainToServe[] = [];
      const fingerprints = new Map<string, string>();
      for (const domain of domains) {
        const certificates = [];
        for (const certificateId of new Set([domain.pendingCertificateId, domain.certificateId])) {
          if (!certificateId) continue;
          const opened = await this.certificates.openCertificate(certificateId, em);
          // An expired certificate is never served (browsers would refuse it anyway).
          if (!opened || opened.certificate.notAfter <= now) continue;
          fingerprints.set(certificateId, opened.certificate.fingerprint);
          certificates.push({ certificateId, chainPem: opened.chainPem, privateKeyPem: opened.privateKeyPem });
        }
        if (certificates.length > 0)
          toServe.push({ id: domain.id, hostname: domain.hostname, purpose: domain.purpose, hsts: domain.firstServedAt !== null, certificates });
      }

      const result = await this.server.apply(toServe);
      const outcome: SyncOutcome = { generation: result.generation, activated: [], rejected: [], firstServed: [] };
      for (const domain of domains) {
        const served = result.served.get(domain.id);
        const refusal = result.rejected.get(domain.id);
        if (refusal) {
          domain.status = DomainStatus.FAILED;
          domain.lastError = `The web server refused this domain's configuration: ${refusal.slice(0, 2000)}`;
          domain.lastErrorCode = 'WEB_SERVER_REJECTED';
          domain.pendingCertificateId = null;
          domain.certificateId = served ?? null;
          outcome.rejected.push(domain.id);
        } else if (served && served === domain.pendingCertificateId) {
          domain.certificateId = served;
          domain.pendingCertificateId = null;
          domain.status = DomainStatus.ACTIVE;
          outcome.activated.push(domain.id);
        } else if (!served && domain.status !== DomainStatus.FAILED) {
          domain.status = DomainStatus.FAILED;
          domain.lastError = 'The certificate expired before a new one could be obtained.';
          domain.lastErrorCode = 'CERTIFICATE_EXPIRED';
          domain.certificateId = null;
        }
      }
      // HSTS only once the domain demonstrably works over HTTPS: a fresh TLS connection is shown its certificate.
      await Promise.all(
        domains
          .filter((domain) => domain.firstServedAt === null && domain.certificateId && result.served.get(domain.id) === domain.certificateId)
          .map(async (domain) => {
            const expected = fingerprints.get(domain.certificateId as string);
            if (expected && (await this.server.serves(domain.hostname, expected))) {
              domain.firstServedAt = now;
              outcome.firstServed.push(domain.id);
            }
          }),
      );
      this.logger.debug('web server synced', { generation: outcome.generation, activated: outcome.activated.length, rejected: outcome.rejected.length });
      return outcome;
    });
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}
