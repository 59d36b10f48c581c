import { OptionalProps } from '@mikro-orm/core';
import { Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

export enum OrderState {
  /** Counted against the limits, being worked on (at most one per domain). */
  PENDING = 'PENDING',
  /** A certificate came out of it. */
  VALID = 'VALID',
  /** The CA refused a validation (counts as a failed validation). */
  INVALID = 'INVALID',
  /** Anything else went wrong (CA unreachable, web server, ...). */
  ERROR = 'ERROR',
}

export enum OrderKind {
  ISSUE = 'ISSUE',
  RENEW = 'RENEW',
}

/** At most one order in flight per domain, whatever the number of white-label instances. */
export const ONE_PENDING_ORDER_PER_DOMAIN = 'certificate_order_pending_unique';

/**
 * Every ACME order Saldo placed (or is about to place): the ledger the CA's rate limits are checked against before a
 * new order, and the claim that keeps two instances from ordering the same certificate twice.
 */
@Entity({ tableName: 'certificate_order' })
@Index({
  name: ONE_PENDING_ORDER_PER_DOMAIN,
  expression: `create unique index "${ONE_PENDING_ORDER_PER_DOMAIN}" on "certificate_order" ("domain_id") where state = 'PENDING'`,
})
@Index({ properties: ['registeredDomain', 'createdAt'] })
@Index({ properties: ['hostname', 'createdAt'] })
@Index({ properties: ['accountId', 'createdAt'] })
export class CertificateOrder {
  [OptionalProps]?: 'acmeOrderUrl' | 'error' | 'finishedAt' | 'certificateId' | 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  domainId!: string;

  @Property({ type: 'text' })
  hostname!: string;

  /** The hostname's registered domain (Public Suffix List): what "certificates per registered domain" counts. */
  @Property({ type: 'text' })
  registeredDomain!: string;

  @Property({ type: 'uuid' })
  accountId!: string;

  @Enum({ items: () => OrderKind, type: 'text' })
  kind!: OrderKind;

  @Enum({ items: () => OrderState, type: 'text' })
  state!: OrderState;

  /** Who works on it, until when: another instance takes over a PENDING order only after the lease ran out. */
  @Property({ type: 'text' })
  claimedBy!: string;

  @Property({ type: 'timestamptz' })
  leaseUntil!: Date;

  /** The CA's order URL once created, so an interrupted attempt resumes the same order instead of placing another. */
  @Property({ type: 'text', nullable: true })
  acmeOrderUrl: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  certificateId: string | null = null;

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;
}
