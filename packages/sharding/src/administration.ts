import type { ShardId } from './directory.js';
import type { ShardLoad } from './load.js';
import { ShardMover, ShardMoveError, type MoveRefusal, type MoverOptions, type ShardMove } from './moves/mover.js';
import { DEFAULT_REBALANCE_THRESHOLD, planRebalance, type PlannedMove } from './rebalance/planner.js';
import { tenantRowCounts } from './rebalance/tenant-rows.js';
import type { ShardedDatabase } from './sharded-database.js';
import type { Logger } from '@saldo/service';

export interface ShardAdministrationOptions {
  /** Runs (or resumes) the move durably, now or at `at` (the subgraph's job queue). */
  schedule(moveId: string, at?: Date): Promise<void>;
  mover?: MoverOptions;
  /** Rebalancing: the load past which a shard sheds tenants, and the most unfinished moves at once. */
  rebalance?: { threshold?: number; maxConcurrentMoves?: number };
}

/** One move of a rebalance: as planned, and (unless a dry run) started, or refused when starting it. */
export interface RebalanceMove extends PlannedMove {
  move: ShardMove | null;
  /** Why it did not start (another planner or operator got there first, say); null when started or a dry run. */
  refusal: MoveRefusal | null;
}

export interface RebalanceResult {
  dryRun: boolean;
  threshold: number;
  maxConcurrentMoves: number;
  /** Unfinished moves when planning began. */
  activeMoves: number;
  moves: RebalanceMove[];
  notes: string[];
}

/**
 * What operators do with one subgraph's shards, the same for every subgraph: read the shards' load and move tenants
 * between them. The GraphQL edge (packages/subgraph) checks that the caller is a platform operator first.
 */
export class ShardAdministration {
  readonly mover: ShardMover;

  constructor(
    /** The subgraph whose shards these are (`billing`, `white-label`, ...). */
    readonly subgraph: string,
    private readonly db: ShardedDatabase,
    logger: Logger,
    private readonly options: ShardAdministrationOptions,
  ) {
    this.mover = new ShardMover(db, logger, options.mover ?? {});
  }

  loadReport(): Promise<ShardLoad[]> {
    return this.db.loadReport();
  }

  /** Records the move (refusing bad requests, changing nothing) and hands it to the job queue. */
  async startMove(tenantId: string, targetShard: ShardId): Promise<ShardMove> {
    const move = await this.mover.start(tenantId, targetShard);
    await this.options.schedule(move.id);
    return move;
  }

  /** Cancels before the switch; the job rolls the move back at its next step (or now, if it is not running). */
  async cancelMove(moveId: string): Promise<ShardMove> {
    const move = await this.mover.cancel(moveId);
    await this.options.schedule(move.id);
    return move;
  }

  /** The configured threshold and concurrent-move limit (what a rebalance uses unless told otherwise). */
  get rebalanceSettings(): { threshold: number; maxConcurrentMoves: number } {
    return { threshold: this.options.rebalance?.threshold ?? DEFAULT_REBALANCE_THRESHOLD, maxConcurrentMoves: this.options.rebalance?.maxConcurrentMoves ?? 2 };
  }

  /**
   * Plans moves off shards past the threshold (see planRebalance) and, unless `dryRun`, starts them as durable jobs.
   * `maxMoves` plans at most that many (within the concurrent-move limit, which always holds). A planned move refused
   * when starting (the tenant started moving meanwhile, the limit was reached by another planner) is reported, not
   * retried: the next plan sees the new state.
   */
  async rebalance(options: { dryRun: boolean; threshold?: number; maxMoves?: number }): Promise<RebalanceResult> {
    const settings = this.rebalanceSettings;
    const threshold = options.threshold ?? settings.threshold;
    const [shards, active] = await Promise.all([this.db.loadReport(), this.mover.list({ active: true, limit: 10_000 })]);
    const limit = Math.min(settings.maxConcurrentMoves, active.length + (options.maxMoves ?? settings.maxConcurrentMoves));
    const tenantRows = new Map<ShardId, Map<string, number>>();
    for (const shard of shards.filter((candidate) => candidate.load > threshold)) {
      const tenants = await this.db.directory.tenantsOn(shard.shardId);
      tenantRows.set(shard.shardId, await tenantRowCounts(this.db.em(shard.shardId), this.db.tenantColumns, tenants));
    }
    const plan = planRebalance({
      shards,
      tenantRows,
      moving: new Set(active.map((move) => move.tenantId)),
      activeMoves: active.length,
      maxConcurrentMoves: limit,
      threshold,
    });
    const moves: RebalanceMove[] = [];
    for (const planned of plan.moves) {
      if (options.dryRun) {
        moves.push({ ...planned, move: null, refusal: null });
        continue;
      }
      try {
        const move = await this.mover.start(planned.tenantId, planned.targetShard, { maxActive: settings.maxConcurrentMoves });
        await this.options.schedule(move.id);
        moves.push({ ...planned, move, refusal: null });
      } catch (error) {
        if (!(error instanceof ShardMoveError)) throw error;
        moves.push({ ...planned, move: null, refusal: error.code });
      }
    }
    return { dryRun: options.dryRun, threshold, maxConcurrentMoves: settings.maxConcurrentMoves, activeMoves: active.length, moves, notes: plan.notes };
  }

  moves(options: { active?: boolean; limit?: number } = {}): Promise<ShardMove[]> {
    return this.mover.list(options);
  }

  move(moveId: string): Promise<ShardMove | undefined> {
    return this.mover.get(moveId);
  }
}
