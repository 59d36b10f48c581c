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
  [OptionalProps]?: 'placedAt' | 'partnerId' | 'epoch';

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @ManyToOne(() => ShardRecord, { fieldName: 'shard_id', mapToPk: true })
  shardId!: number;

  /** The tenant's partner (reseller), for partner scope checks; null for direct customers or not yet known. */
  @Property({ type: 'uuid', nullable: true })
  partnerId: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  placedAt: Date = new Date();

  /** Bumped by every move: a write that began under an older epoch is refused on the old shard and retried. */
  @Property({ type: 'integer', default: 0 })
  epoch: number = 0;
}

/**
 * One move of a tenant's rows between shards: the state machine's record (PENDING -> COPYING -> CATCHING_UP ->
 * FENCED -> VERIFYING -> SWITCHED -> CLEANED, or FAILED), so a restarted worker resumes where it stopped.
 */
@Entity({ tableName: 'shard_move' })
@Index({ properties: ['tenantId'] })
export class ShardMoveRecord {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'integer' })
  sourceShard!: number;

  @Property({ type: 'integer' })
  targetShard!: number;

  @Property({ type: 'text' })
  state!: string;

  /** Copy progress: the table in hand and the last primary key copied (keyset cursor), per table done. */
  @Property({ type: 'jsonb', nullable: true })
  progress: unknown = null;

  @Property({ type: 'bigint', default: 0 })
  copiedRows: bigint = 0n;

  @Property({ type: 'bigint', default: 0 })
  totalRows: bigint = 0n;

  @Property({ type: 'bigint', default: 0 })
  appliedChanges: bigint = 0n;

  @Property({ type: 'integer', nullable: true })
  fenceMs: number | null = null;

  @Property({ type: 'boolean', default: false })
  cancelRequested: boolean = false;

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  switchedAt: Date | null = null;
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
