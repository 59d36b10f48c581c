import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@saldo/service';

export interface EmbeddedPostgresHandle {
  /** Server URL without a database name. */
  url: string;
  stop(): Promise<void>;
}

/** Why the embedded PostgreSQL did not start, as one line that says what to do. */
export class EmbeddedPostgresStartError extends Error {
  constructor(
    readonly reason: 'port-taken' | 'data-directory-in-use' | 'left-running' | 'stale-lock' | 'other',
    message: string,
  ) {
    super(message);
    this.name = 'EmbeddedPostgresStartError';
  }
}

/**
 * A real PostgreSQL server from the npm registry's binaries, kept under `dataDir` so the next start
 * reuses the data. Initialised on first use. (As root, embedded-postgres runs it as the postgres user.)
 * A failed start rejects with an EmbeddedPostgresStartError naming the cause (embedded-postgres itself rejects with
 * `undefined` and leaves the reason in PostgreSQL's log).
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; password: string; logger: Logger }): Promise<EmbeddedPostgresHandle> {
  const { logger } = options;
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const databaseDir = join(options.dataDir, 'pg');
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  await mkdir(options.dataDir, { recursive: true });
  // PostgreSQL's own messages, kept to explain a failed start.
  let output = '';
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    persistent: true,
    createPostgresUser: true,
    // Only the address the stack connects to: with the default (localhost = 127.0.0.1 and ::1) PostgreSQL starts
    // when just one of them is free, and the stack would then talk to whatever holds 127.0.0.1.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => {
      const text = String(message);
      output = (output + text).slice(-20_000);
      logger.debug(text.trim());
    },
    onError: (message) => logger.warn(String(message instanceof Error ? message.message : message).trim()),
  });
  if (fresh) {
    logger.info('initialising embedded PostgreSQL', { dir: databaseDir });
    try {
      await server.initialise();
    } catch (error) {
      const detail = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').slice(0, 300);
      throw new EmbeddedPostgresStartError(
        'other',
        `Creating the embedded PostgreSQL's data directory ${databaseDir} failed (${detail}); delete it and start again, or set SALDO_HOME to a writable directory`,
      );
    }
  }
  try {
    await server.start();
  } catch (error) {
    throw diagnoseStartFailure({ output, databaseDir, saldoHome: options.dataDir, port: options.port, error });
  }
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

/** Turns PostgreSQL's log of a failed start into the cause and what to do about it. */
export function diagnoseStartFailure(failure: {
  output: string;
  databaseDir: string;
  saldoHome: string;
  port: number;
  error?: unknown;
}): EmbeddedPostgresStartError {
  const { output, databaseDir, saldoHome, port } = failure;
  if (/lock file "postmaster\.pid" already exists/.test(output)) {
    const lockFile = join(databaseDir, 'postmaster.pid');
    const pid = readLockPid(lockFile);
    const command = pid ? commandOf(pid) : undefined;
    if (pid && command && /postgres/.test(command)) {
      const parent = parentOf(pid);
      const parentCommand = parent ? commandOf(parent) : undefined;
      if (parent && parent > 1 && parentCommand && /node/.test(parentCommand)) {
        return new EmbeddedPostgresStartError(
          'data-directory-in-use',
          `Another Saldo (pid ${parent}) is already running on this data directory (${saldoHome}): stop it first (Ctrl-C in its terminal, or kill ${parent}), or give this one its own SALDO_HOME and ports.`,
        );
      }
      return new EmbeddedPostgresStartError(
        'left-running',
        `A PostgreSQL left running by an earlier Saldo (pid ${pid}) still holds ${databaseDir}: stop it (kill ${pid}) and start again.`,
      );
    }
    return new EmbeddedPostgresStartError(
      'stale-lock',
      `Stale lock in the data directory: ${lockFile} names pid ${pid ?? '?'}, which is ${command ? `now \`${command.split(' ')[0]}\`` : 'a process of another user'}, not PostgreSQL (an earlier Saldo did not stop cleanly): delete that file and start again.`,
    );
  }
  if (/could not (bind IPv[46] address|create any TCP\/IP sockets)|Address already in use|lock file ".*\.s\.PGSQL\.\d+\.lock" already exists/.test(output)) {
    return new EmbeddedPostgresStartError(
      'port-taken',
      `The embedded PostgreSQL cannot listen on 127.0.0.1:${port}: the port is taken by another program (another Saldo or PostgreSQL?). Stop it, or choose a free port: EMBEDDED_POSTGRES_PORT=${port + 1} pnpm start`,
    );
  }
  const fatal = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /\b(FATAL|PANIC|ERROR):/.test(line))
    .pop();
  const detail = fatal ?? (failure.error instanceof Error ? failure.error.message : output.trim().split('\n').pop()) ?? 'it exited without a message';
  return new EmbeddedPostgresStartError(
    'other',
    `The embedded PostgreSQL did not start (${detail.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, '')}); its full log: LOG_LEVEL=debug pnpm start`,
  );
}

function readLockPid(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** `ps` answers on Linux and macOS alike; undefined when the process is gone (or ps is missing). */
function ps(pid: number, field: 'args' | 'ppid'): string | undefined {
  const result = spawnSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8' });
  const value = result.status === 0 ? result.stdout.trim() : '';
  return value || undefined;
}

function commandOf(pid: number): string | undefined {
  return ps(pid, 'args');
}

function parentOf(pid: number): number | undefined {
  const parent = Number.parseInt(ps(pid, 'ppid') ?? '', 10);
  return Number.isInteger(parent) ? parent : undefined;
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
