import { z } from '@saldo/config';
import { defineQueue, deterministicJobId, schedule, work, type JobQueue, type JobSchedule, type JobWorker } from '@saldo/jobs';
import type { ShardedDatabase } from '@saldo/sharding';
import type { Logger } from '@saldo/service';
import { CustomDomain, DomainStatus } from './entities/custom-domain.js';
import { DomainCertificate } from './entities/domain-certificate.js';
import type { CertificateService } from './services/certificate-service.js';
import type { DomainService } from './services/domain-service.js';
import type { DomainTasks } from './services/domain-tasks.js';
import type { WebServerService } from './services/web-server-service.js';

/**
 * Obtain or renew one domain's certificate. Standard policy with deterministic ids per reason (verified at, certificate
 * to renew, rate-limit retry time), so a reason is enqueued once however often it is sent; two jobs of one domain that
 * do run at once are kept apart by the domain's row lock and its single PENDING order (the loser reports "busy").
 * Failures retry with exponential back-off; the last attempt of a first certificate makes the domain FAILED.
 */
export const issueCertificateQueue = defineQueue({
  name: 'white-label.issue-certificate',
  payload: z.object({ domainId: z.uuid() }),
  retry: { limit: 6, delaySeconds: 30, backoff: true, maxDelaySeconds: 3600 },
  expireInSeconds: 600,
  notify: true,
});

/** Bring the web server in line: at most one waiting and one running (stately), so a burst of changes is one reload. */
export const syncWebServerQueue = defineQueue({
  name: 'white-label.sync-web-server',
  payload: z.object({}),
  policy: 'stately',
  retry: { limit: 10, delaySeconds: 5, backoff: true, maxDelaySeconds: 600 },
  expireInSeconds: 300,
  notify: true,
});

/** Hourly: renewals that are due (and retries of ones that failed), issuance that lost its job, expired certificates. */
export const renewalSweepQueue = defineQueue({
  name: 'white-label.renewal-sweep',
  payload: z.object({}),
  policy: 'singleton',
  retry: { limit: 2, delaySeconds: 60 },
  expireInSeconds: 600,
});

/** Revoke a removed domain's certificate at the CA: once per certificate (deterministic id), retried with back-off. */
export const revokeCertificateQueue = defineQueue({
  name: 'white-label.revoke-certificate',
  payload: z.object({ certificateId: z.uuid() }),
  retry: { limit: 8, delaySeconds: 30, backoff: true, maxDelaySeconds: 3600 },
  expireInSeconds: 300,
});

/** Re-check the ownership proof of domains still pending verification (every 5 minutes; one pass at a time). */
export const verificationSweepQueue = defineQueue({
  name: 'white-label.verification-sweep',
  payload: z.object({}),
  policy: 'singleton',
  retry: { limit: 2, delaySeconds: 60 },
  expireInSeconds: 600,
});

export const domainQueues = [issueCertificateQueue, syncWebServerQueue, renewalSweepQueue, verificationSweepQueue, revokeCertificateQueue];

/** The verification sweep's worker: needs no web server (verified domains wait for one to get certificates). */
export function verificationWorker(domains: DomainService, windowHours: number): JobWorker {
  return work(verificationSweepQueue, async () => domains.recheckPending(windowHours));
}

const WEB_SERVER_KEY = 'web-server';

/** DomainTasks on the durable job queue. */
export class JobDomainTasks implements DomainTasks {
  constructor(private readonly jobs: JobQueue) {}

  async issue(domainId: string, at?: Date, reason = `now:${Date.now()}`): Promise<void> {
    await this.jobs.send(
      issueCertificateQueue,
      { domainId },
      { id: deterministicJobId(issueCertificateQueue, domainId, reason), ...(at ? { startAfter: at } : {}) },
    );
  }

  async syncWebServer(): Promise<void> {
    await this.jobs.send(syncWebServerQueue, {}, { singletonKey: WEB_SERVER_KEY });
  }

  async revoke(certificateId: string): Promise<void> {
    await this.jobs.send(revokeCertificateQueue, { certificateId }, { id: deterministicJobId(revokeCertificateQueue, certificateId) });
  }
}

/** The workers of a white-label instance that drives a web server. */
export function domainWorkers(deps: {
  certificates: CertificateService;
  webServer: WebServerService;
  tasks: JobDomainTasks;
  db: ShardedDatabase;
  logger: Logger;
}): JobWorker[] {
  const { certificates, webServer, tasks, db, logger } = deps;
  return [
    work(
      issueCertificateQueue,
      async (job) => {
        const outcome = await certificates.issue(job.data.domainId, { finalAttempt: job.retryCount >= job.retryLimit });
        switch (outcome.outcome) {
          case 'issued':
            await tasks.syncWebServer();
            return { outcome: 'issued', certificateId: outcome.certificateId };
          case 'rate-limited':
            // Not a failure: try again when the limit frees up.
            await tasks.issue(job.data.domainId, outcome.retryAt, `retry:${outcome.retryAt.toISOString()}`);
            return { outcome: 'rate-limited', retryAt: outcome.retryAt.toISOString(), limit: outcome.limit };
          case 'failed':
            if (outcome.final) return { outcome: 'failed', code: outcome.code, error: outcome.error };
            throw new Error(`${outcome.code}: ${outcome.error}`);
          default:
            return outcome;
        }
      },
      { concurrency: 4 },
    ),
    work(syncWebServerQueue, async () => {
      const outcome = await webServer.sync();
      // Domains answered over HTTPS for the first time get HSTS: one more (coalesced) reload.
      if (outcome.firstServed.length > 0) await tasks.syncWebServer();
      // New certificates: their renewal is due at two thirds of their lifetime (or when the CA's ARI says).
      for (const domainId of outcome.activated) {
        const domain = await db.globalEm().findOne(CustomDomain, { id: domainId });
        const certificate = domain?.certificateId ? await db.globalEm().findOne(DomainCertificate, { id: domain.certificateId }) : null;
        if (certificate) await tasks.issue(domainId, certificate.renewAt, `renew:${certificate.id}`);
      }
      return { generation: outcome.generation, activated: outcome.activated.length, rejected: outcome.rejected.length };
    }),
    work(revokeCertificateQueue, async (job) => ({ revoked: await certificates.revoke(job.data.certificateId) })),
    work(renewalSweepQueue, async () => {
      const em = db.globalEm();
      const now = new Date();
      const hour = now.toISOString().slice(0, 13);
      const due = await em.execute<Array<{ domain_id: string }>>(
        `select d.id as domain_id from custom_domain d join domain_certificate c on c.id = d.certificate_id
          where d.status in ('ACTIVE', 'RENEWING') and d.pending_certificate_id is null and c.renew_at <= ?`,
        [now],
      );
      for (const row of due) await tasks.issue(row.domain_id, undefined, `sweep:${hour}`);
      // Verified domains whose issuance job was lost (or whose retries ran out while the CA was away).
      const waiting = await em.find(CustomDomain, {
        status: { $in: [DomainStatus.VERIFIED, DomainStatus.ISSUING] },
        $or: [{ nextAttemptAt: null }, { nextAttemptAt: { $lte: now } }],
      });
      for (const domain of waiting) await tasks.issue(domain.id, undefined, `sweep:${hour}`);
      // Expired certificates leave the web server; new ones waiting for it get there.
      await tasks.syncWebServer();
      logger.debug('renewal sweep', { due: due.length, waiting: waiting.length });
      return { due: due.length, waiting: waiting.length };
    }),
  ];
}

export function domainSchedules(): JobSchedule[] {
  return [schedule(renewalSweepQueue, { cron: '17 * * * *', data: {} })];
}

export function verificationSchedules(): JobSchedule[] {
  return [schedule(verificationSweepQueue, { cron: '*/5 * * * *', data: {} })];
}
