import 'reflect-metadata';

export { ShardedDatabase, type SchemaPart, type ShardingConfig, type ShardedSchema } from './sharded-database.js';
export { ShardDirectory, type Placement, type ShardId } from './directory.js';
export { gatherPage, type GatheredPage } from './gather.js';
export { databaseName, dropDatabases, ensureDatabases, redactUrl } from './provision.js';
export { openOrm, migrate } from './orm.js';
export { DEFAULT_SHARD_CAPACITY, readShardStatistics, shardLoad, writeRate, type ShardCapacity, type ShardLoad, type ShardStatistics, type TableLoad } from './load.js';
export { ShardAdministration } from './administration.js';
