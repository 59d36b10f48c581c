export { jobSettings, outboxRetentionSettings, subgraphConfigSchema, shardingConfig, type SubgraphConfig } from './config.js';
export { createEventBus } from './event-bus.js';
export { createErrorFormatter } from './format-error.js';
export {
  createSubgraphService,
  type SubgraphContext,
  type SubgraphDefinition,
  type SubgraphJobs,
  type SubgraphRuntime,
  type SubgraphService,
} from './service.js';
export { shardFieldPrefix, shardOperationsResolver, type ShardOperationsContext } from './shard-operations.js';
export { SHARD_MOVE_QUEUE, SHARD_REBALANCE_QUEUE, scheduleShardMove, shardMoveWorker } from './shard-moves.js';
export {
  OUTBOX_RETENTION_QUEUE,
  outboxRetentionSchedules,
  pruneOutboxes,
  type OutboxRetentionResult,
  type OutboxRetentionSettings,
} from './outbox-retention.js';
