import { OptionalProps } from '@mikro-orm/core';
import { Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

export enum TenantStatus {
  ACTIVE = 'ACTIVE',
  SUSPENDED = 'SUSPENDED',
}

/** A customer holding a prepaid balance. Lives on the shard its id is placed on. */
@Entity({ tableName: 'tenant' })
@Index({ properties: ['partnerId', 'id'] })
export class Tenant {
  [OptionalProps]?: 'status' | 'createdAt' | 'updatedAt' | 'legalName' | 'vatId' | 'partnerId' | 'address' | 'suspendedAt' | 'suspensionReason';

  /** UUIDv7: time-ordered, so ordering by id is ordering by creation across all shards. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  legalName: string | null = null;

  @Property({ type: 'jsonb', nullable: true })
  address: TenantAddress | null = null;

  @Property({ type: 'character', length: 2 })
  country!: string;

  @Property({ type: 'text', nullable: true })
  vatId: string | null = null;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Enum({ items: () => TenantStatus, type: 'text' })
  status: TenantStatus = TenantStatus.ACTIVE;

  @Property({ type: 'uuid', nullable: true })
  partnerId: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  suspendedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  suspensionReason: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

export interface TenantAddress {
  line1: string;
  line2: string | null;
  postalCode: string;
  city: string;
  region: string | null;
}
