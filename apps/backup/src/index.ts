export {
  MANIFEST,
  deploymentDatabases,
  removeBackup,
  restoreBackup,
  takeBackup,
  type BackupManifest,
  type DeploymentDatabase,
  type ManifestDatabase,
  type RestoreResult,
} from './backup.js';
export { SUBGRAPHS, backupConfigSchema, loadBackupConfig, type BackupConfig, type SubgraphName } from './config.js';
