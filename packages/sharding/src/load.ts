import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardId } from './directory.js';

/**
 * What one shard may hold before it counts as full. One figure per dimension for every shard of a subgraph
 * (shards are provisioned alike); `load` is the highest of the four ratios, so the scarcest resource decides.
 */
export interface ShardCapacity {
  tenants: number;
  rows: number;
  bytes: number;
  writesPerSecond: number;
}

export const DEFAULT_SHARD_CAPACITY: ShardCapacity = {
  tenants: 10_000,
  rows: 50_000_000,
  bytes: 50 * 1024 ** 3,
  writesPerSecond: 2_000,
};

export interface TableLoad {
  name: string;
  /** PostgreSQL's live-row estimate (pg_stat_user_tables.n_live_tup): exact counts would scan every table. */
  rows: number;
  /** Table, indexes and TOAST (pg_total_relation_size). */
  bytes: number;
}

export interface ShardLoad {
  shardId: ShardId;
  databaseName: string;
  /** Draining (configuration): the shard takes no new placements; its tenants stay until moved. */
  draining: boolean;
  tenants: number;
  rows: number;
  bytes: number;
  /** Inserted, updated and deleted rows per second since the previous sample (0 until there is one). */
  writesPerSecond: number;
  tables: TableLoad[];
  capacity: ShardCapacity;
  /** The highest of tenants, rows, bytes and write rate over their capacity (1 = full). */
  load: number;
}

/** Counters read from one shard; the write counter only ever grows (until the server's statistics reset). */
export interface ShardStatistics {
  tables: TableLoad[];
  writes: number;
  sampledAt: Date;
}

/** Tables that belong to the ORM's bookkeeping, not to tenants. */
const IGNORED_TABLES = new Set(['mikro_orm_migrations']);

/** Reads a shard's per-table rows and bytes and its cumulative write counter from PostgreSQL's statistics. */
export async function readShardStatistics(em: EntityManager): Promise<ShardStatistics> {
  const rows = await em.execute<{ name: string; rows: string; bytes: string; writes: string; now: Date }[]>(
    `select relname as name, n_live_tup as rows, pg_total_relation_size(relid) as bytes,
            n_tup_ins + n_tup_upd + n_tup_del as writes, now() as now
       from pg_stat_user_tables where schemaname = current_schema() order by relname`,
  );
  const tables = rows.filter((row) => !IGNORED_TABLES.has(row.name)).map((row) => ({ name: row.name, rows: Number(row.rows), bytes: Number(row.bytes) }));
  const writes = rows.reduce((sum, row) => sum + Number(row.writes), 0);
  const [clock] = await em.execute<{ now: Date }[]>('select clock_timestamp() as now');
  return { tables, writes, sampledAt: new Date(clock!.now) };
}

/** Writes per second between two samples; a counter that went backwards (statistics reset) gives 0. */
export function writeRate(previous: { writes: number; sampledAt: Date } | undefined, current: { writes: number; sampledAt: Date }): number {
  if (!previous) return 0;
  const seconds = (current.sampledAt.getTime() - previous.sampledAt.getTime()) / 1000;
  if (seconds <= 0 || current.writes < previous.writes) return 0;
  return (current.writes - previous.writes) / seconds;
}

/** Combines what was measured into one shard's load report. */
export function shardLoad(input: {
  shardId: ShardId;
  databaseName: string;
  draining: boolean;
  tenants: number;
  statistics: ShardStatistics;
  writesPerSecond: number;
  capacity: ShardCapacity;
}): ShardLoad {
  const rows = input.statistics.tables.reduce((sum, table) => sum + table.rows, 0);
  const bytes = input.statistics.tables.reduce((sum, table) => sum + table.bytes, 0);
  const { capacity } = input;
  const load = Math.max(input.tenants / capacity.tenants, rows / capacity.rows, bytes / capacity.bytes, input.writesPerSecond / capacity.writesPerSecond);
  return {
    shardId: input.shardId,
    databaseName: input.databaseName,
    draining: input.draining,
    tenants: input.tenants,
    rows,
    bytes,
    writesPerSecond: input.writesPerSecond,
    tables: input.statistics.tables,
    capacity,
    load,
  };
}
