import { OptionalProps } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * A certificate issued for a custom domain. The chain and the private key are stored encrypted (AES-256-GCM, key
 * from configuration, bound to this row's id); nothing else here is secret.
 */
@Entity({ tableName: 'domain_certificate' })
@Index({ properties: ['domainId'] })
export class DomainCertificate {
  [OptionalProps]?: 'ariRenewAt' | 'createdAt' | 'revokedAt' | 'revocationError';

  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  domainId!: string;

  @Property({ type: 'text' })
  hostname!: string;

  /** Hex serial number of the leaf. */
  @Property({ type: 'text' })
  serial!: string;

  /** SHA-256 of the leaf's DER, hex: what a TLS probe compares to know the web server serves this certificate. */
  @Property({ type: 'text' })
  fingerprint!: string;

  @Property({ type: 'timestamptz' })
  notBefore!: Date;

  @Property({ type: 'timestamptz' })
  notAfter!: Date;

  /** Two thirds into the lifetime, or the CA's ARI suggestion when it offers one. */
  @Property({ type: 'timestamptz' })
  renewAt!: Date;

  /** ARI certificate identifier (base64url AKI "." base64url serial), when the leaf carries an AKI. */
  @Property({ type: 'text', nullable: true })
  ariCertId: string | null = null;

  /** Sealed PEM chain (leaf first). */
  @Property({ type: 'text' })
  chainSealed!: string;

  /** Sealed PEM private key. */
  @Property({ type: 'text' })
  privateKeySealed!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  /** Set when the CA's renewal information moved the renewal (kept for operators). */
  @Property({ type: 'timestamptz', nullable: true })
  ariRenewAt: Date | null = null;

  /** When the CA confirmed the revocation (the domain was removed); null while it is valid or being revoked. */
  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  /** The CA's last answer when a revocation attempt failed (the job retries it). */
  @Property({ type: 'text', nullable: true })
  revocationError: string | null = null;
}
