export { startStack, subgraphDatabases, DEFAULT_SUPERGRAPH_PATH, DEFAULT_PORTAL_DIR, type Stack, type StackOptions, type SubgraphDatabases } from './stack.js';
export { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './postgres.js';
export { seedDemoData } from './seed.js';
export { demoUsers, startDevSignIn, type DevSignIn, type DevUser } from './dev-sign-in.js';
