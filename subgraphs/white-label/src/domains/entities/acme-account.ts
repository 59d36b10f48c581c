import { OptionalProps } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/** The platform's ACME account at one CA: created once, its key kept (sealed) and reused by every instance. */
@Entity({ tableName: 'acme_account' })
@Unique({ properties: ['directoryUrl'] })
export class AcmeAccount {
  [OptionalProps]?: 'accountUrl' | 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'text' })
  directoryUrl!: string;

  /** Sealed PEM private key of the account. */
  @Property({ type: 'text' })
  keySealed!: string;

  @Property({ type: 'text', nullable: true })
  accountUrl: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
