import { OptionalProps } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { sellerProfileSchema } from '@saldo/events';
import type { z } from 'zod';

export type SellerProfile = z.output<typeof sellerProfileSchema>;

/**
 * A reseller. Partners belong to no tenant, so they live in the control database beside the
 * shard directory; their tenants are spread over the shards like any other.
 */
@Entity({ tableName: 'partner' })
export class Partner {
  [OptionalProps]?: 'createdAt' | 'legalName' | 'contactEmail' | 'sellerProfile';

  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  legalName: string | null = null;

  @Property({ type: 'character', length: 2 })
  country!: string;

  @Property({ type: 'text', nullable: true })
  contactEmail: string | null = null;

  /** Set when the partner resells as seller of record: billing issues its tenants' documents in its name. */
  @Property({ type: 'jsonb', nullable: true })
  sellerProfile: SellerProfile | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
