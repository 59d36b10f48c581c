import { OptionalProps } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** What a custom domain serves: the portal (branded web app under /portal) or the API (GraphQL only). */
export enum DomainPurpose {
  PORTAL = 'PORTAL',
  API = 'API',
}

/**
 * A custom domain's life: PENDING_VERIFICATION -> VERIFIED (ownership proven) -> ISSUING (ACME order under way)
 * -> ACTIVE (served over HTTPS by the web server) -> RENEWING (a new certificate is being ordered while the current
 * one keeps serving) -> ACTIVE ...; FAILED (issuance gave up or the web server refused its configuration; a new
 * verifyCustomDomain starts over); REMOVED (kept for the audit trail; the hostname is free again).
 */
export enum DomainStatus {
  PENDING_VERIFICATION = 'PENDING_VERIFICATION',
  VERIFIED = 'VERIFIED',
  ISSUING = 'ISSUING',
  ACTIVE = 'ACTIVE',
  RENEWING = 'RENEWING',
  FAILED = 'FAILED',
  REMOVED = 'REMOVED',
}

/** A hostname belongs to one partner at a time: unique among domains that are not REMOVED. */
export const ONE_HOLDER_PER_HOSTNAME = 'custom_domain_hostname_holder_unique';

/**
 * A partner's custom domain, in white-label's control database (partners belong to no tenant). Certificates are in
 * `domain_certificate`; the web server serves `certificateId` once it is ACTIVE.
 */
@Entity({ tableName: 'custom_domain' })
@Index({
  name: ONE_HOLDER_PER_HOSTNAME,
  expression: `create unique index "${ONE_HOLDER_PER_HOSTNAME}" on "custom_domain" ("hostname") where status <> 'REMOVED'`,
})
@Index({ properties: ['partnerId'] })
@Check({ name: 'custom_domain_hostname_check', expression: 'hostname = lower(hostname) and char_length(hostname) <= 253' })
export class CustomDomain {
  [OptionalProps]?:
    | 'verifiedAt'
    | 'lastError'
    | 'lastErrorCode'
    | 'nextAttemptAt'
    | 'certificateId'
    | 'pendingCertificateId'
    | 'firstServedAt'
    | 'removedAt'
    | 'createdAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  partnerId!: string;

  /** Lower case, ASCII (IDNs in punycode), no trailing dot. */
  @Property({ type: 'text' })
  hostname!: string;

  @Enum({ items: () => DomainPurpose, type: 'text' })
  purpose!: DomainPurpose;

  @Enum({ items: () => DomainStatus, type: 'text' })
  status!: DomainStatus;

  /** The value the partner publishes as TXT `_saldo-challenge.<hostname>` (or serves as the HTTP token). */
  @Property({ type: 'text' })
  verificationToken!: string;

  @Property({ type: 'timestamptz', nullable: true })
  verifiedAt: Date | null = null;

  /** Why the last step failed (verification, issuance, web server), for the partner; null after a success. */
  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  /** A stable code for `lastError` (RATE_LIMITED, CA_ERROR, VALIDATION_FAILED, WEB_SERVER_REJECTED, ...). */
  @Property({ type: 'text', nullable: true })
  lastErrorCode: string | null = null;

  /** When issuance is tried next (after a rate limit or a failed attempt); null when nothing is waiting. */
  @Property({ type: 'timestamptz', nullable: true })
  nextAttemptAt: Date | null = null;

  /** The certificate the web server serves for this domain (set once the reload with it succeeded). */
  @Property({ type: 'uuid', nullable: true })
  certificateId: string | null = null;

  /** A newly issued certificate waiting for the web server to load it. */
  @Property({ type: 'uuid', nullable: true })
  pendingCertificateId: string | null = null;

  /** The first time the web server answered over HTTPS with this domain's certificate: from then on, HSTS. */
  @Property({ type: 'timestamptz', nullable: true })
  firstServedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  removedAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
