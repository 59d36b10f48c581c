import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import { ErrorCode, SaldoError, assertUuid, isUuid, type Scope } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { v7 as uuidv7 } from 'uuid';
import { CustomDomain, DomainPurpose, DomainStatus } from '../entities/custom-domain.js';
import { DomainCertificate } from '../entities/domain-certificate.js';
import { validateHostname, type HostnamePolicy } from '../hostname.js';
import { newVerificationToken, type DnsOwnershipVerifier, type HttpOwnershipVerifier } from '../ownership.js';
import { rateLimitedError } from '../rate-limits.js';
import type { CertificateService } from './certificate-service.js';
import type { DomainTasks } from './domain-tasks.js';

export interface AddDomainInput {
  partnerId: string;
  hostname: string;
  purpose: DomainPurpose;
}

/** A hostname the web server serves, for the gateway's Host -> partner mapping. */
export interface ServedHostname {
  hostname: string;
  partnerId: string;
  purpose: DomainPurpose;
}

const notFound = () => new SaldoError(ErrorCode.DomainNotFound, 'No such custom domain.');

/**
 * Partners' custom domains: adding (hostname policy, one holder per hostname), proving ownership (DNS TXT), removing,
 * and reading them. A partner manages only its own domains, an operator all; someone else's domain looks missing.
 * Certificates and the web server are background work requested through `DomainTasks`.
 */
export class DomainService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly policy: HostnamePolicy,
    private readonly ownership: { dns: DnsOwnershipVerifier; http: HttpOwnershipVerifier | null },
    private readonly certificates: CertificateService | null,
    private readonly tasks: DomainTasks,
  ) {}

  /** Whether verified domains go on to get certificates (a web server is configured). */
  get servesDomains(): boolean {
    return this.certificates !== null;
  }

  /**
   * Adds a hostname for a partner (PENDING_VERIFICATION, with a fresh token). The same partner adding the same
   * hostname for the same purpose again gets the existing domain; any other holder makes it DOMAIN_TAKEN.
   */
  async add(input: AddDomainInput, scope: Scope): Promise<CustomDomain> {
    assertUuid(input.partnerId, 'partnerId');
    scope.requirePartner(input.partnerId);
    if (!Object.values(DomainPurpose).includes(input.purpose))
      throw new SaldoError(ErrorCode.BadUserInput, 'purpose must be PORTAL or API', { field: 'purpose' });
    const { hostname } = validateHostname(input.hostname, this.policy);
    const em = this.db.globalEm();
    const holder = await em.findOne(CustomDomain, { hostname, status: { $ne: DomainStatus.REMOVED } });
    if (holder) return this.existingOrTaken(holder, input);
    const domain = em.create(CustomDomain, {
      id: uuidv7(),
      partnerId: input.partnerId,
      hostname,
      purpose: input.purpose,
      status: DomainStatus.PENDING_VERIFICATION,
      verificationToken: newVerificationToken(),
    });
    try {
      await em.flush();
      return domain;
    } catch (error) {
      // Two adds of one hostname at once: the partial unique index lets one win.
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      const winner = await this.db.globalEm().findOne(CustomDomain, { hostname, status: { $ne: DomainStatus.REMOVED } });
      if (!winner) throw error;
      return this.existingOrTaken(winner, input);
    }
  }

  private existingOrTaken(holder: CustomDomain, input: AddDomainInput): CustomDomain {
    if (holder.partnerId === input.partnerId && holder.purpose === input.purpose) return holder;
    const message =
      holder.partnerId === input.partnerId
        ? `${holder.hostname} is already one of your custom domains (purpose ${holder.purpose}); remove it first to change its purpose.`
        : `${holder.hostname} is already in use as a custom domain.`;
    throw new SaldoError(ErrorCode.DomainTaken, message, { field: 'hostname' });
  }

  /** A domain the caller may manage; DOMAIN_NOT_FOUND for a missing one, someone else's, or a removed one. */
  private async manageable(id: string, scope: Scope): Promise<CustomDomain> {
    scope.requireAuthenticated();
    if (!isUuid(id)) throw new SaldoError(ErrorCode.InvalidId, 'id: must be a UUID', { field: 'id' });
    const domain = await this.db.globalEm().findOne(CustomDomain, { id });
    if (!domain || domain.status === DomainStatus.REMOVED || !mayManage(scope, domain.partnerId)) throw notFound();
    return domain;
  }

  /**
   * Proves ownership: TXT `_saldo-challenge.<hostname>` must hold the domain's token, or (HTTP proof)
   * `http://<hostname>/.well-known/saldo-domain-verification/<id>` must answer it. Verified domains go on to get a
   * certificate (when a web server is configured). A domain past verification is returned as it is. When the CA's
   * limits would refuse the certificate now, RATE_LIMITED and nothing changes; when the record is missing or wrong,
   * VERIFICATION_FAILED (the reason is kept as lastError).
   */
  async verify(id: string, scope: Scope): Promise<CustomDomain> {
    return this.prove(await this.manageable(id, scope));
  }

  /**
   * Checks again, on the platform's own initiative, every domain still waiting for its ownership proof that was added
   * within `windowHours`: a partner who publishes the record after adding the domain need not ask again. A proof
   * still missing is kept as the domain's lastError, and a domain the CA's limits would refuse now waits for the next
   * pass; anything else fails the pass (the job retries it).
   */
  async recheckPending(windowHours: number, now = new Date()): Promise<{ checked: number; verified: number }> {
    const pending = await this.db
      .globalEm()
      .find(
        CustomDomain,
        { status: DomainStatus.PENDING_VERIFICATION, createdAt: { $gte: new Date(now.getTime() - windowHours * 3_600_000) } },
        { orderBy: { createdAt: 'asc' } },
      );
    let verified = 0;
    for (const domain of pending) {
      try {
        if ((await this.prove(domain)).status !== DomainStatus.PENDING_VERIFICATION) verified += 1;
      } catch (error) {
        const code = error instanceof SaldoError ? error.code : null;
        if (code !== ErrorCode.VerificationFailed && code !== ErrorCode.RateLimited) throw error;
      }
    }
    return { checked: pending.length, verified };
  }

  private async prove(domain: CustomDomain): Promise<CustomDomain> {
    const id = domain.id;
    if (![DomainStatus.PENDING_VERIFICATION, DomainStatus.FAILED].includes(domain.status)) return domain;
    if (this.certificates) {
      const decision = await this.certificates.rateLimitFor(domain.hostname, false);
      if (!decision.allowed) throw rateLimitedError(decision, domain.hostname);
    }
    // DNS TXT first; the HTTP token (the partner's own server, before DNS moves) when the record is not there.
    let check = await this.ownership.dns.check(domain.hostname, domain.verificationToken);
    if (!check.verified && this.ownership.http) {
      const http = await this.ownership.http.check(domain.hostname, domain.id, domain.verificationToken);
      check = http.verified ? http : { verified: false, reason: `${check.reason}; ${http.reason}`, found: check.found };
    }
    const em = this.db.globalEm();
    if (!check.verified) {
      await em.nativeUpdate(CustomDomain, { id, status: domain.status }, { lastError: check.reason, lastErrorCode: 'VERIFICATION_FAILED' });
      throw new SaldoError(ErrorCode.VerificationFailed, `Ownership of ${domain.hostname} not proven: ${check.reason}.`, {
        recordName: `_saldo-challenge.${domain.hostname}`,
        expected: domain.verificationToken,
        found: check.found,
      });
    }
    const verified = await em.transactional(async (tx) => {
      const row = await tx.findOne(CustomDomain, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row || ![DomainStatus.PENDING_VERIFICATION, DomainStatus.FAILED].includes(row.status)) return row;
      row.status = DomainStatus.VERIFIED;
      row.verifiedAt = new Date();
      row.lastError = null;
      row.lastErrorCode = null;
      return row;
    });
    if (!verified) throw notFound();
    if (this.certificates && verified.status === DomainStatus.VERIFIED) await this.tasks.issue(verified.id);
    return verified;
  }

  /** Removes a domain: it stops being served at the next web-server sync, and its hostname is free again. */
  async remove(id: string, scope: Scope): Promise<CustomDomain> {
    const domain = await this.manageable(id, scope);
    const em = this.db.globalEm();
    const removed = await em.transactional(async (tx) => {
      const row = await tx.findOne(CustomDomain, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row || row.status === DomainStatus.REMOVED) return null;
      row.status = DomainStatus.REMOVED;
      row.removedAt = new Date();
      row.nextAttemptAt = null;
      return row;
    });
    if (!removed) throw notFound();
    if (domain.certificateId || domain.pendingCertificateId) await this.tasks.syncWebServer();
    // Its certificates are of no more use to anyone: revoked at the CA, so a copy that leaked cannot impersonate it.
    for (const certificateId of new Set([domain.certificateId, domain.pendingCertificateId])) if (certificateId) await this.tasks.revoke(certificateId);
    return removed;
  }

  /** One domain the caller may see (null otherwise). */
  async get(id: string, scope: Scope): Promise<CustomDomain | null> {
    scope.requireAuthenticated();
    if (!isUuid(id)) throw new SaldoError(ErrorCode.InvalidId, 'id: must be a UUID', { field: 'id' });
    const domain = await this.db.globalEm().findOne(CustomDomain, { id });
    return domain && mayManage(scope, domain.partnerId) ? domain : null;
  }

  /** Domains of many partners (not removed), in one query, grouped per partner in input order. */
  async forPartners(partnerIds: readonly string[]): Promise<CustomDomain[][]> {
    const wellFormed = [...new Set(partnerIds.filter(isUuid))];
    const rows =
      wellFormed.length === 0
        ? []
        : await this.db
            .globalEm()
            .find(CustomDomain, { partnerId: { $in: wellFormed }, status: { $ne: DomainStatus.REMOVED } }, { orderBy: { hostname: 'asc' } });
    return partnerIds.map((partnerId) => rows.filter((row) => row.partnerId === partnerId));
  }

  /** Serving certificates of many domains, one query (expiry and next renewal on CustomDomain). */
  async certificatesOf(certificateIds: readonly string[]): Promise<Array<DomainCertificate | null>> {
    const ids = [...new Set(certificateIds)];
    const rows = ids.length === 0 ? [] : await this.db.globalEm().find(DomainCertificate, { id: { $in: ids } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return certificateIds.map((id) => byId.get(id) ?? null);
  }

  /** Every hostname served over HTTPS now, with its partner (the gateway maps Host headers with it). */
  async servedHostnames(): Promise<ServedHostname[]> {
    const rows = await this.db
      .globalEm()
      .find(CustomDomain, { status: { $in: [DomainStatus.ACTIVE, DomainStatus.RENEWING] }, certificateId: { $ne: null } }, { orderBy: { hostname: 'asc' } });
    return rows.map((row) => ({ hostname: row.hostname, partnerId: row.partnerId, purpose: row.purpose }));
  }
}

/** Platform operators manage every domain, a partner its own. */
function mayManage(scope: Scope, partnerId: string): boolean {
  return scope.mayActForPartner(partnerId);
}
