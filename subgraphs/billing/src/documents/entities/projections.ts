import { OptionalProps } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * What billing's documents know of a tenant as a customer, on the tenant's billing shard: name, address, country and
 * VAT id as tenant.created / tenant.updated carry them (the tenants subgraph owns them), and the buyer reference
 * (Leitweg-ID) billing owns itself (setBuyerReference). `profileAt` orders updates: an older event never overwrites a
 * newer one.
 */
@Entity({ tableName: 'billing_customer' })
export class BillingCustomer {
  [OptionalProps]?: 'name' | 'legalName' | 'address' | 'country' | 'vatId' | 'partnerId' | 'buyerReference' | 'profileAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'text', nullable: true })
  name: string | null = null;

  @Property({ type: 'text', nullable: true })
  legalName: string | null = null;

  @Property({ type: 'jsonb', nullable: true })
  address: { line1: string; line2: string | null; postalCode: string; city: string; region: string | null } | null = null;

  @Property({ type: 'character', length: 2, nullable: true })
  country: string | null = null;

  @Property({ type: 'text', nullable: true })
  vatId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  partnerId: string | null = null;

  /** Leitweg-ID: invoices become XRechnung. */
  @Property({ type: 'text', nullable: true })
  buyerReference: string | null = null;

  /** When the tenants subgraph's data was current (the event's occurredAt). */
  @Property({ type: 'timestamptz', nullable: true })
  profileAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}

/**
 * A reselling partner as seller of record (partner.seller_profile_changed), in billing's control database. A row
 * with a null profile means the partner stopped: the platform is the seller again.
 */
@Entity({ tableName: 'document_issuer_profile' })
export class IssuerProfileRecord {
  @PrimaryKey({ type: 'uuid' })
  partnerId!: string;

  @Property({ type: 'jsonb', nullable: true })
  profile: unknown = null;

  @Property({ type: 'timestamptz' })
  changedAt!: Date;
}

/**
 * White-label branding of a partner or a tenant as branding.changed carries it (null fields inherit), with the logo
 * fetched once into document_logo (`logoSha256`). Control database: documents of any shard read it in one query.
 */
@Entity({ tableName: 'document_branding' })
export class BrandingRecord {
  [OptionalProps]?: 'logoSha256';

  /** PARTNER or TENANT */
  @PrimaryKey({ type: 'text' })
  level!: string;

  @PrimaryKey({ type: 'uuid' })
  ownerId!: string;

  @Property({ type: 'jsonb' })
  values!: unknown;

  @Property({ type: 'text', nullable: true })
  logoSha256: string | null = null;

  @Property({ type: 'timestamptz' })
  changedAt!: Date;
}
