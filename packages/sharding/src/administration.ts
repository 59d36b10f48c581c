import type { ShardId } from './directory.js';
import type { ShardLoad } from './load.js';
import { ShardMover, type MoverOptions, type ShardMove } from './moves/mover.js';
import type { ShardedDatabase } from './sharded-database.js';
import type { Logger } from '@saldo/service';

export interface ShardAdministrationOptions {
  /** Runs (or resumes) the move durably, now or at `at` (the subgraph's job queue). */
  schedule(moveId: string, at?: Date): Promise<void>;
  mover?: MoverOptions;
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

  moves(options: { active?: boolean; limit?: number } = {}): Promise<ShardMove[]> {
    return this.mover.list(options);
  }

  move(moveId: string): Promise<ShardMove | undefined> {
    return this.mover.get(moveId);
  }
}
