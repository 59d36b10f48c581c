export { startStack, subgraphDatabases, DEFAULT_SUPERGRAPH_PATH, type Stack, type StackOptions, type SubgraphDatabases } from './stack.js';
export { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './postgres.js';
export { seedDemoData } from './seed.js';
