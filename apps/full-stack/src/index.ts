export { startFullStack, databasesOfFailedStart, REPO_ROOT, type FullStack, type FullStackOptions, type ServiceExit } from './launcher.js';
export { parseCompose, readCompose, interpolate, startOrder, type ComposeFile, type ComposeService } from './compose.js';
export { checkServiceEnvironment, schemaFor, SERVICE_SCHEMAS } from './compose-check.js';
export { classify, localEnvironment, localizeValue, composePorts, LOCAL_ADDITIONS, type Topology } from './topology.js';
