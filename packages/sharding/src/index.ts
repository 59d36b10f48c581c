import 'reflect-metadata';

export { ShardedDatabase, type SchemaPart, type ShardingConfig, type ShardedSchema } from './sharded-database.js';
export { ShardDirectory, type Placement, type ShardId } from './directory.js';
export { gatherPage, type GatheredPage } from './gather.js';
export { databaseName, dropDatabases, ensureDatabases, redactUrl } from './provision.js';
export { openOrm, migrate } from './orm.js';
