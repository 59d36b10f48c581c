import { hostname as machineName } from 'node:os';
import { randomBytes } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardedDatabase } from '@saldo/sharding';
import type { Logger } from '@saldo/service';
import { v7 as uuidv7 } from 'uuid';
import { OrderUnusableError, ValidationFailedError } from '../acme/acme-ca.js';
import { certificateFacts, pickFromRenewalWindow, twoThirdsInto } from '../acme/certificate-info.js';
import { AcmeChallenge } from '../entities/acme-challenge.js';
import { CertificateOrder, OrderKind, OrderState } from '../entities/certificate-order.js';
import { CustomDomain, DomainStatus } from '../entities/custom-domain.js';
import { DomainCertificate } from '../entities/domain-certificate.js';
import { validateHostname, type HostnamePolicy } from '../hostname.js';
import { checkRateLimits, type RateLimitDecision } from '../rate-limits.js';
import type { SecretBox } from '@saldo/secrets';
import type { AcmeAccountService } from './acme-account-service.js';

/** How long an instance owns an order it works on before another may take it over (a crashed worker's order). */
const ORDER_LEASE_MS = 5 * 60_000;

/** What one issuance attempt came to. */
export type IssueOutcome =
  | { outcome: 'issued'; certificateId: string }
  | { outcome: 'rate-limited'; retryAt: Date; limit: string }
  /** Another instance holds the domain's order (its lease is live): nothing was done here. */
  | { outcome: 'busy' }
  /** Nothing to do: the domain is gone, not verified, or its certificate is not due. */
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'failed'; error: string; code: string; final: boolean };

export interface IssueOptions {
  /** Renew even if the serving certificate is not due yet (operators; tests). */
  force?: boolean;
  /** This is the last attempt the job queue will make: a first certificate that fails now makes the domain FAILED. */
  finalAttempt?: boolean;
}

/**
 * Obtains certificates for custom domains. An attempt first *claims* the domain's order in one short transaction on
 * the control database: the domain row is locked, the CA's rate limits are counted under an account-wide advisory
 * lock, and a PENDING order row is inserted (a partial unique index allows one per domain) — so two instances never
 * place the same order twice, and concurrent orders of different domains never overrun a limit together. Only then is
 * the CA asked. An interrupted attempt leaves its PENDING order with the CA's order URL; the next attempt (after the
 * lease) resumes that order instead of placing another.
 */
export class CertificateService {
  readonly instanceId = `${machineName()}:${process.pid}:${randomBytes(3).toString('hex')}`;

  constructor(
    private readonly db: ShardedDatabase,
    private readonly accounts: AcmeAccountService,
    private readonly box: SecretBox,
    private readonly policy: HostnamePolicy,
    private readonly logger: Logger,
  ) {}

  /** The limits a new order for this domain would hit now (verifyCustomDomain refuses early with it). */
  async rateLimitFor(hostname: string, renewal: boolean): Promise<RateLimitDecision> {
    const { registeredDomain } = validateHostname(hostname, this.policy);
    const { account } = await this.accounts.get();
    return checkRateLimits(this.db.globalEm(), { hostname, registeredDomain, accountId: account.id, renewal });
  }

  async issue(domainId: string, options: IssueOptions = {}): Promise<IssueOutcome> {
    const { account, ca } = await this.accounts.get();
    const claim = await this.claim(domainId, account.id, options);
    if (claim.kind !== 'claimed') return claim.outcome;
    const { order, domain, replaces } = claim;
    const em = this.db.globalEm();
    try {
      const issued = await ca.obtain(
        domain.hostname,
        order.acmeOrderUrl,
        {
          orderCreated: async (url) => {
            await em.nativeUpdate(CertificateOrder, { id: order.id }, { acmeOrderUrl: url });
          },
          putChallenge: async (token, keyAuthorization) => {
            await em.upsert(AcmeChallenge, {
              token,
              hostname: domain.hostname,
              keyAuthorization,
              expiresAt: new Date(Date.now() + 3600_000),
              createdAt: new Date(),
            });
          },
          removeChallenge: async (token) => {
            await em.nativeDelete(AcmeChallenge, { token });
          },
        },
        replaces ?? undefined,
      );
      const certificateId = await this.store(domain, order, issued.chainPem, issued.privateKeyPem, ca);
      return { outcome: 'issued', certificateId };
    } catch (error) {
      return this.fail(domain, order, error, options.finalAttempt ?? false);
    }
  }

  private async claim(
    domainId: string,
    accountId: string,
    options: IssueOptions,
  ): Promise<{ kind: 'claimed'; order: CertificateOrder; domain: CustomDomain; replaces: string | null } | { kind: 'done'; outcome: IssueOutcome }> {
    return this.db.globalEm().transactional(async (em) => {
      const domain = await em.findOne(CustomDomain, { id: domainId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const done = (outcome: IssueOutcome) => ({ kind: 'done' as const, outcome });
      if (!domain) return done({ outcome: 'skipped', reason: 'no such domain' });
      const now = new Date();
      const pending = await em.findOne(CertificateOrder, { domainId, state: OrderState.PENDING });
      if (pending) {
        if (pending.leaseUntil > now) return done({ outcome: 'busy' });
        // A crashed or timed-out attempt's order: take it over and resume it at the CA.
        pending.claimedBy = this.instanceId;
        pending.leaseUntil = new Date(now.getTime() + ORDER_LEASE_MS);
        return { kind: 'claimed' as const, order: pending, domain, replaces: null };
      }
      const serving = domain.certificateId ? await em.findOne(DomainCertificate, { id: domain.certificateId }) : null;
      const renewal = serving !== null && [DomainStatus.ACTIVE, DomainStatus.RENEWING, DomainStatus.FAILED].includes(domain.status);
      if (!renewal && ![DomainStatus.VERIFIED, DomainStatus.ISSUING, DomainStatus.FAILED].includes(domain.status)) {
        return done({ outcome: 'skipped', reason: `domain is ${domain.status}` });
      }
      if (!renewal && domain.verifiedAt === null) return done({ outcome: 'skipped', reason: 'ownership not verified' });
      if (renewal && domain.pendingCertificateId) return done({ outcome: 'skipped', reason: 'a new certificate waits for the web server' });
      if (renewal && serving && serving.renewAt > now && !options.force)
        return done({ outcome: 'skipped', reason: `not due before ${serving.renewAt.toISOString()}` });

      const { registeredDomain } = validateHostname(domain.hostname, this.policy);
      // Orders of one account are counted one claim at a time, so concurrent claims cannot overrun a limit together.
      await em.execute('select pg_advisory_xact_lock(hashtext(?))', [`acme-orders:${accountId}`]);
      const decision = await checkRateLimits(em, { hostname: domain.hostname, registeredDomain, accountId, renewal }, now);
      if (!decision.allowed) {
        domain.lastError = `Rate limit of the CA (${decision.limit.description}): next attempt after ${decision.retryAt.toISOString()}.`;
        domain.lastErrorCode = 'RATE_LIMITED';
        domain.nextAttemptAt = decision.retryAt;
        return done({ outcome: 'rate-limited', retryAt: decision.retryAt, limit: decision.limit.name });
      }
      const order = em.create(CertificateOrder, {
        id: uuidv7(),
        domainId,
        hostname: domain.hostname,
        registeredDomain,
        accountId,
        kind: renewal ? OrderKind.RENEW : OrderKind.ISSUE,
        state: OrderState.PENDING,
        claimedBy: this.instanceId,
        leaseUntil: new Date(now.getTime() + ORDER_LEASE_MS),
      });
      domain.status = renewal ? DomainStatus.RENEWING : DomainStatus.ISSUING;
      domain.nextAttemptAt = null;
      return { kind: 'claimed' as const, order, domain, replaces: renewal ? (serving?.ariCertId ?? null) : null };
    });
  }

  private async store(
    domain: CustomDomain,
    order: CertificateOrder,
    chainPem: string,
    privateKeyPem: string,
    ca: { directory(): Promise<Record<string, unknown>> },
  ): Promise<string> {
    const facts = certificateFacts(chainPem);
    if (!facts.hostnames.includes(domain.hostname)) throw new Error(`the CA issued a certificate for ${facts.hostnames.join(', ')}, not ${domain.hostname}`);
    const id = uuidv7();
    const ariRenewAt = facts.ariCertId ? await this.ariRenewal(ca, facts.ariCertId) : null;
    const renewAt = ariRenewAt ?? twoThirdsInto(facts.notBefore, facts.notAfter);
    await this.db.globalEm().transactional(async (em) => {
      em.create(DomainCertificate, {
        id,
        domainId: domain.id,
        hostname: domain.hostname,
        serial: facts.serial,
        fingerprint: facts.fingerprint,
        notBefore: facts.notBefore,
        notAfter: facts.notAfter,
        renewAt,
        ariCertId: facts.ariCertId,
        ariRenewAt,
        chainSealed: this.box.seal(chainPem, `domain_certificate:${id}:chain`),
        privateKeySealed: this.box.seal(privateKeyPem, `domain_certificate:${id}:key`),
      });
      await em.nativeUpdate(CertificateOrder, { id: order.id }, { state: OrderState.VALID, certificateId: id, finishedAt: new Date() });
      // A domain removed meanwhile keeps its status; the certificate is simply never served.
      await em.nativeUpdate(
        CustomDomain,
        { id: domain.id, status: { $ne: DomainStatus.REMOVED } },
        { pendingCertificateId: id, lastError: null, lastErrorCode: null, nextAttemptAt: null },
      );
    });
    this.logger.info('certificate issued', { hostname: domain.hostname, notAfter: facts.notAfter.toISOString(), renewAt: renewAt.toISOString() });
    return id;
  }

  /** ARI: when the CA suggests renewing, if its directory offers renewalInfo; null otherwise (or on any failure). */
  private async ariRenewal(ca: { directory(): Promise<Record<string, unknown>> }, ariCertId: string): Promise<Date | null> {
    try {
      const endpoint = (await ca.directory())['renewalInfo'];
      if (typeof endpoint !== 'string') return null;
      const response = await fetch(`${endpoint.replace(/\/$/, '')}/${ariCertId}`);
      return response.ok ? pickFromRenewalWindow(await response.json()) : null;
    } catch (error) {
      this.logger.warn('ARI lookup failed; renewing at two thirds of the lifetime', { error });
      return null;
    }
  }

  private async fail(domain: CustomDomain, order: CertificateOrder, error: unknown, finalAttempt: boolean): Promise<IssueOutcome> {
    const validation = error instanceof ValidationFailedError;
    const unusable = error instanceof OrderUnusableError;
    const message = error instanceof Error ? error.message : String(error);
    const code = validation ? 'VALIDATION_FAILED' : unusable ? 'ORDER_UNUSABLE' : 'CA_ERROR';
    // A CA that cannot be reached leaves the order PENDING with its URL: the next attempt resumes it. Anything the CA
    // decided ends the order (it counts against the limits as what it was).
    const ended = validation || unusable;
    await this.db.globalEm().transactional(async (em) => {
      if (ended) {
        await em.nativeUpdate(
          CertificateOrder,
          { id: order.id },
          { state: validation ? OrderState.INVALID : OrderState.ERROR, error: message, finishedAt: new Date() },
        );
      } else {
        await em.nativeUpdate(CertificateOrder, { id: order.id }, { error: message, leaseUntil: new Date() });
      }
      const current = await em.findOne(CustomDomain, { id: domain.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!current || current.status === DomainStatus.REMOVED) return;
      current.lastError = message;
      current.lastErrorCode = code;
      // A renewal that fails leaves the serving certificate in place (status RENEWING until a later attempt succeeds).
      if (finalAttempt && current.certificateId === null) {
        current.status = DomainStatus.FAILED;
        if (!ended) await em.nativeUpdate(CertificateOrder, { id: order.id }, { state: OrderState.ERROR, finishedAt: new Date() });
      }
    });
    this.logger.warn('certificate attempt failed', { hostname: domain.hostname, code, error: message, final: finalAttempt });
    return { outcome: 'failed', error: message, code, final: finalAttempt };
  }

  /**
   * Revokes a removed domain's certificate at the CA (once: a revoked one is left alone). A CA refusal is kept on the
   * certificate and thrown, so the job retries with back-off. Returns whether this call revoked it.
   */
  async revoke(certificateId: string): Promise<boolean> {
    const opened = await this.openCertificate(certificateId);
    if (!opened || opened.certificate.revokedAt) return false;
    // An expired certificate needs no revocation (and CAs refuse to revoke one).
    if (opened.certificate.notAfter <= new Date()) return false;
    const { ca } = await this.accounts.get();
    try {
      await ca.revoke(opened.chainPem);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.db.globalEm().nativeUpdate(DomainCertificate, { id: certificateId }, { revocationError: message.slice(0, 2000) });
      throw error;
    }
    await this.db.globalEm().nativeUpdate(DomainCertificate, { id: certificateId }, { revokedAt: new Date(), revocationError: null });
    this.logger.info('certificate revoked at the CA', { hostname: opened.certificate.hostname, serial: opened.certificate.serial });
    return true;
  }

  /** The certificate (with its secrets opened) for the web server. */
  async openCertificate(
    certificateId: string,
    em: EntityManager = this.db.globalEm(),
  ): Promise<{ certificate: DomainCertificate; chainPem: string; privateKeyPem: string } | null> {
    const certificate = await em.findOne(DomainCertificate, { id: certificateId });
    if (!certificate) return null;
    return {
      certificate,
      chainPem: this.box.open(certificate.chainSealed, `domain_certificate:${certificate.id}:chain`),
      privateKeyPem: this.box.open(certificate.privateKeySealed, `domain_certificate:${certificate.id}:key`),
    };
  }
}
