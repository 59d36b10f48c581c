export {
  PersistedOperations,
  PersistedQueryCode,
  type PersistedQueryMode,
  type OperationRequest,
  type PersistedOperationError,
} from './persisted-operations.js';
export { buildManifest, canonicalBody, canonicalText, loadManifest, sha256Hex, type ManifestOperation, type PersistedQueryManifest } from './manifest.js';
export { collectOperationSources, documentsInCode } from './extract.js';
