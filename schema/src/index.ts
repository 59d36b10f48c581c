export { SCHEMA_DIR, SUPERGRAPH_FILE, composeFromCode, type Composition, type SubgraphArtifact } from './compose.js';
