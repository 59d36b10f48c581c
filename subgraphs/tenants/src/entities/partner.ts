import { OptionalProps } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * A reseller. Partners belong to no tenant, so they live in the control database beside the
 * shard directory; their tenants are spread over the shards like any other.
 */
@Entity({ tableName: 'partner' })
export class Partner {
  [OptionalProps]?: 'createdAt' | 'legalName' | 'contactEmail';

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

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
