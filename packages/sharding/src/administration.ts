import type { ShardLoad } from './load.js';
import type { ShardedDatabase } from './sharded-database.js';

/**
 * What operators do with one subgraph's shards, the same for every subgraph: read the shards' load (and, with
 * rebalancing, move tenants between them). The GraphQL edge (packages/subgraph) checks that the caller is a
 * platform operator before calling anything here.
 */
export class ShardAdministration {
  constructor(
    /** The subgraph whose shards these are (`billing`, `white-label`, ...). */
    readonly subgraph: string,
    private readonly db: ShardedDatabase,
  ) {}

  loadReport(): Promise<ShardLoad[]> {
    return this.db.loadReport();
  }
}
