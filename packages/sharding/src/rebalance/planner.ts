import type { ShardId } from '../directory.js';
import type { ShardCapacity, ShardLoad } from '../load.js';

/** The product strategy's rule: a shard past 80 % of its capacity sheds tenants. */
export const DEFAULT_REBALANCE_THRESHOLD = 0.8;

/** What one shard holds, per dimension of its capacity. */
interface Usage {
  tenants: number;
  rows: number;
  bytes: number;
  writesPerSecond: number;
}

const DIMENSIONS = ['tenants', 'rows', 'bytes', 'writesPerSecond'] as const;

export interface RebalanceInput {
  shards: readonly ShardLoad[];
  /** Per shard past the threshold, its tenants' row counts (every tenant placed there, 0 for one without rows). */
  tenantRows: ReadonlyMap<ShardId, ReadonlyMap<string, number>>;
  /** Tenants with an unfinished move: never planned again. */
  moving: ReadonlySet<string>;
  /** Unfinished moves now (they count against the limit). */
  activeMoves: number;
  /** At most this many unfinished moves at once, these included. */
  maxConcurrentMoves: number;
  /** A shard whose load passes this sheds tenants until it is at or under it (and no target passes it). */
  threshold: number;
}

export interface PlannedMove {
  tenantId: string;
  sourceShard: ShardId;
  targetShard: ShardId;
  /** The tenant's rows on the source (its weight in the plan). */
  rows: number;
  /** Loads before and after the move as planned (the estimate the plan was made with). */
  sourceLoad: number;
  sourceLoadAfter: number;
  targetLoad: number;
  targetLoadAfter: number;
  /** Why, in an operator's words. */
  reason: string;
}

export interface RebalancePlan {
  threshold: number;
  moves: PlannedMove[];
  /** Shards past the threshold that the plan cannot bring under it, and why. */
  notes: string[];
}

/**
 * Plans moves for shards past the threshold: per such shard (fullest first), the smallest tenant whose move brings it
 * under the threshold, else the one some shard can take that lowers its load most, until it is under or nothing more
 * can go. A target
 * is never draining, never the source, and never pushed past the threshold itself (least loaded first). A tenant's
 * bytes and write rate are estimated as its share of the shard's rows (the statistics are per table, not per tenant).
 * Pure: the caller reads the loads and starts the moves.
 */
export function planRebalance(input: RebalanceInput): RebalancePlan {
  const usage = new Map<ShardId, Usage>(input.shards.map((shard) => [shard.shardId, { ...shard }]));
  const byId = new Map(input.shards.map((shard) => [shard.shardId, shard]));
  const loadOf = (shardId: ShardId): number => load(usage.get(shardId)!, byId.get(shardId)!.capacity);
  const planned = new Set<string>();
  const moves: PlannedMove[] = [];
  const notes: string[] = [];
  let budget = Math.max(0, input.maxConcurrentMoves - input.activeMoves);

  const over = input.shards.filter((shard) => shard.load > input.threshold).sort((a, b) => b.load - a.load);
  for (const shard of over) {
    const source = shard.shardId;
    const tenants = [...(input.tenantRows.get(source) ?? new Map<string, number>())]
      .filter(([tenantId]) => !input.moving.has(tenantId))
      .map(([tenantId, rows]) => ({ tenantId, rows, weight: weightOf(shard, rows) }))
      .sort((a, b) => a.rows - b.rows || (a.tenantId < b.tenantId ? -1 : 1));
    while (loadOf(source) > input.threshold) {
      if (budget === 0) {
        notes.push(
          `shard ${source} stays at ${percent(loadOf(source))}: ${input.maxConcurrentMoves} concurrent moves at most (${input.activeMoves} unfinished before this plan)`,
        );
        break;
      }
      const targets = input.shards
        .filter((candidate) => candidate.shardId !== source && !candidate.draining)
        .map((candidate) => candidate.shardId)
        .sort((a, b) => loadOf(a) - loadOf(b) || a - b);
      const fits = (weight: Usage, target: ShardId) => load(add(usage.get(target)!, weight, 1), byId.get(target)!.capacity) <= input.threshold;
      const open = tenants.filter((tenant) => !planned.has(tenant.tenantId));
      let choice: { tenant: (typeof open)[number]; target: ShardId } | undefined;
      // The smallest tenant whose move is enough (least data copied) ...
      for (const tenant of open) {
        const target = targets.find((candidate) => fits(tenant.weight, candidate));
        if (target === undefined) continue;
        if (load(add(usage.get(source)!, tenant.weight, -1), shard.capacity) <= input.threshold) {
          choice = { tenant, target };
          break;
        }
      }
      // ... else the one some shard can take that lowers the load most (the smallest of equals), and on to the next.
      if (!choice) {
        let lowest = Infinity;
        for (const tenant of open) {
          const target = targets.find((candidate) => fits(tenant.weight, candidate));
          const after = load(add(usage.get(source)!, tenant.weight, -1), shard.capacity);
          if (target !== undefined && after < lowest) {
            lowest = after;
            choice = { tenant, target };
          }
        }
      }
      if (!choice) {
        notes.push(
          open.length === 0
            ? `shard ${source} stays at ${percent(loadOf(source))}: none of its tenants can move (none, or all moving already)`
            : `shard ${source} stays at ${percent(loadOf(source))}: no shard that takes tenants can take one of them without passing ${percent(input.threshold)}`,
        );
        break;
      }
      const { tenant, target } = choice;
      const before = { source: loadOf(source), target: loadOf(target) };
      const decisive = dimensionText(usage.get(source)!, shard.capacity);
      usage.set(source, add(usage.get(source)!, tenant.weight, -1));
      usage.set(target, add(usage.get(target)!, tenant.weight, 1));
      planned.add(tenant.tenantId);
      budget -= 1;
      moves.push({
        tenantId: tenant.tenantId,
        sourceShard: source,
        targetShard: target,
        rows: tenant.rows,
        sourceLoad: before.source,
        sourceLoadAfter: loadOf(source),
        targetLoad: before.target,
        targetLoadAfter: loadOf(target),
        reason:
          `shard ${source} is at ${percent(before.source)} of its capacity (${decisive}), ` +
          `over the ${percent(input.threshold)} threshold: its tenant with ${tenant.rows.toLocaleString('en')} rows goes to shard ${target} ` +
          `(${percent(before.target)} -> ${percent(loadOf(target))}), shard ${source} -> ${percent(loadOf(source))}`,
      });
    }
  }
  return { threshold: input.threshold, moves, notes };
}

/** The tenant's share of the shard: one tenant, its rows, and bytes and write rate in proportion to its rows. */
function weightOf(shard: ShardLoad, rows: number): Usage {
  const share = shard.rows > 0 ? Math.min(1, rows / shard.rows) : 0;
  return { tenants: 1, rows, bytes: shard.bytes * share, writesPerSecond: shard.writesPerSecond * share };
}

function add(usage: Usage, weight: Usage, sign: 1 | -1): Usage {
  return Object.fromEntries(DIMENSIONS.map((dimension) => [dimension, Math.max(0, usage[dimension] + sign * weight[dimension])])) as unknown as Usage;
}

function load(usage: Usage, capacity: ShardCapacity): number {
  return Math.max(...DIMENSIONS.map((dimension) => usage[dimension] / capacity[dimension]));
}

/** `tenants 46 of 50`: the dimension that decides the shard's load. */
function dimensionText(usage: Usage, capacity: ShardCapacity): string {
  const dimension = DIMENSIONS.reduce((best, candidate) => (usage[candidate] / capacity[candidate] > usage[best] / capacity[best] ? candidate : best));
  const label = { tenants: 'tenants', rows: 'rows', bytes: 'bytes', writesPerSecond: 'writes/s' }[dimension];
  return `${label} ${Math.round(usage[dimension]).toLocaleString('en')} of ${capacity[dimension].toLocaleString('en')}`;
}

function percent(value: number): string {
  return `${Math.round(value * 100)} %`;
}
