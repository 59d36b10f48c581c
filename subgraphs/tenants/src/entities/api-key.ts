import { OptionalProps } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** A partner's API key. Only a hash of its secret is stored; the plaintext is shown once, at creation. */
@Entity({ tableName: 'api_key' })
@Index({ properties: ['partnerId'] })
export class ApiKey {
  [OptionalProps]?: 'createdAt' | 'expiresAt' | 'revokedAt' | 'replacedBy';

  /** The public key id embedded in the key (`saldo_pk_<id>_<secret>`). */
  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'uuid' })
  partnerId!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text' })
  secretHash!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  /** Set when the key was rotated with a grace period: valid until then. */
  @Property({ type: 'timestamptz', nullable: true })
  expiresAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  /** The key that replaced this one on rotation. */
  @Property({ type: 'text', nullable: true })
  replacedBy: string | null = null;

  isActive(now: Date = new Date()): boolean {
    return this.revokedAt === null && (this.expiresAt === null || this.expiresAt > now);
  }
}
