import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { OptionalProps } from '@mikro-orm/core';

/** A shard known to this subgraph: its position in the configured URL list and the database it must be. */
@Entity({ tableName: 'shard' })
export class ShardRecord {
  [OptionalProps]?: 'acceptsNewTenants' | 'registeredAt';

  @PrimaryKey({ type: 'integer', autoincrement: false })
  id!: number;

  @Property({ type: 'text', unique: true })
  databaseName!: string;

  @Property({ type: 'boolean', default: true })
  acceptsNewTenants: boolean = true;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  registeredAt: Date = new Date();
}

/** tenant -> shard. Every row of a tenant in this subgraph lives on `shardId`. */
@Entity({ tableName: 'tenant_placement' })
@Index({ properties: ['shardId'] })
export class TenantPlacement {
  [OptionalProps]?: 'placedAt' | 'partnerId';

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @ManyToOne(() => ShardRecord, { fieldName: 'shard_id', mapToPk: true })
  shardId!: number;

  /** The tenant's partner (reseller), for partner scope checks; null for direct customers or not yet known. */
  @Property({ type: 'uuid', nullable: true })
  partnerId: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  placedAt: Date = new Date();
}

/**
 * The last write-counter sample per shard: the write rate is the counter's growth since it. Replaced once it is
 * older than the sampling interval, so the rate covers at least that long.
 */
@Entity({ tableName: 'shard_load_sample' })
export class ShardLoadSample {
  @PrimaryKey({ type: 'integer', autoincrement: false })
  shardId!: number;

  /** Rows inserted, updated and deleted on the shard, cumulative (PostgreSQL's statistics). */
  @Property({ type: 'bigint' })
  writes!: bigint;

  @Property({ type: 'timestamptz' })
  sampledAt!: Date;
}
