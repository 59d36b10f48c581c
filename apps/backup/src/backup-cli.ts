import { resolve } from 'node:path';
import { ConfigError } from '@saldo/config';
import { createLogger } from '@saldo/service';
import { restoreBackup, takeBackup } from './backup.js';
import { loadBackupConfig } from './config.js';

const USAGE = `Usage:
  pnpm backup <dir>     back up every control and shard database of every subgraph into <dir> (new or empty)
  pnpm restore <dir>    restore the backup in <dir> into an empty deployment

Which deployment: BACKUP_POSTGRES_URL and BACKUP_DATABASE_PREFIX (default: the embedded one of pnpm start), or per
subgraph <SUBGRAPH>_CONTROL_DATABASE_URL and <SUBGRAPH>_SHARD_DATABASE_URLS. See docs/operations/backup-and-restore.md.`;

async function main(argv: string[]): Promise<number> {
  const [command, directory, ...rest] = argv;
  if ((command !== 'backup' && command !== 'restore') || !directory || rest.length > 0 || directory.startsWith('-')) {
    process.stderr.write(`${USAGE}\n`);
    return command === '--help' || directory === '--help' ? 0 : 2;
  }
  let config;
  try {
    config = loadBackupConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const logger = createLogger({ service: command, level: config.logLevel });
  const target = resolve(directory);
  const started = Date.now();
  try {
    if (command === 'backup') {
      const manifest = await takeBackup(config, target, logger);
      const bytes = manifest.databases.reduce((total, database) => total + database.bytes, 0);
      process.stdout.write(
        `Backed up ${manifest.databases.length} databases into ${target} (${(bytes / 1_048_576).toFixed(1)} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s); ` +
          `everything committed before ${manifest.startedAt} is in it.\n`,
      );
    } else {
      const result = await restoreBackup(config, target, logger);
      process.stdout.write(
        `Restored ${result.databases.length} databases from ${target} (${((Date.now() - started) / 1000).toFixed(1)} s; backup of ${result.manifest.startedAt}); ` +
          `${result.replayedEvents} outbox events will be published again. Start the services on these databases.\n`,
      );
    }
    return 0;
  } catch (error) {
    process.stderr.write(`${command} failed: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
