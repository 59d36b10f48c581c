import 'reflect-metadata';

export { ShardedDatabase, isTenantMoved, type MoveSettings, type SchemaPart, type ShardingConfig, type ShardedSchema } from './sharded-database.js';
export { ShardDirectory, type Placement, type ShardId } from './directory.js';
export { gatherPage, type GatheredPage } from './gather.js';
export { databaseName, dropDatabases, ensureDatabases, redactUrl } from './provision.js';
export { openOrm, migrate } from './orm.js';
export {
  DEFAULT_SHARD_CAPACITY,
  readShardStatistics,
  shardLoad,
  writeRate,
  type ShardCapacity,
  type ShardLoad,
  type ShardStatistics,
  type TableLoad,
} from './load.js';
export { ShardAdministration, type RebalanceMove, type RebalanceResult, type ShardAdministrationOptions } from './administration.js';
export { DEFAULT_REBALANCE_THRESHOLD, planRebalance, type PlannedMove, type RebalanceInput, type RebalancePlan } from './rebalance/planner.js';
export {
  ShardMover,
  ShardMoveError,
  MOVE_STATES,
  DIRECTORY_CHANNEL,
  type MoveCheck,
  type MoveRefusal,
  type MoveState,
  type MoverOptions,
  type ShardMove,
} from './moves/mover.js';
export { TENANT_MOVED_SQLSTATE, movingTenantCondition } from './moves/capture.js';
export { CopyPace, DEFAULT_COPY_PACE, nextRate, type CopyPaceSettings, type PaceClock } from './moves/pace.js';
