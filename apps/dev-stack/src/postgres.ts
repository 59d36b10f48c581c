import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { processCommand, saldoParentOf, stopLeftRunning, type Logger } from '@saldo/service';

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
 * It runs in its own process group and session (patches/embedded-postgres@*.patch): a terminal's Ctrl-C reaches
 * Saldo only, which stops its services first and PostgreSQL last (`stop()`). A server an earlier Saldo left running
 * (killed before it could stop it) is shut down before this start; another Saldo still running on `dataDir` fails it.
 * A failed start rejects with an EmbeddedPostgresStartError naming the cause (embedded-postgres itself rejects with
 * `undefined` and leaves the reason in PostgreSQL's log).
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; password: string; logger: Logger }): Promise<EmbeddedPostgresHandle> {
  const { logger } = options;
  const EmbeddedPostgres = await importWithoutSignalHooks();
  // Absolute, so the server's command line names it the same way whatever directory a later start runs from: that is
  // how a later start tells this server from another PostgreSQL that took over a stale lock's pid.
  const databaseDir = resolve(options.dataDir, 'pg');
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
  await stopServerLeftRunning({ databaseDir, saldoHome: options.dataDir, logger });
  try {
    await server.start();
  } catch (error) {
    throw diagnoseStartFailure({ output, databaseDir, saldoHome: options.dataDir, port: options.port, error });
  }
  logger.info('embedded PostgreSQL running', { port: options.port });
  return {
    url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}`,
    async stop() {
      // A server that already exited (crashed, or killed by hand): embedded-postgres would wait forever for its exit.
      if (!existsSync(join(databaseDir, 'postmaster.pid'))) {
        logger.info('embedded PostgreSQL already stopped');
        return;
      }
      await server.stop();
      logger.info('embedded PostgreSQL stopped');
    },
  };
}

/** How long a PostgreSQL left running gets for its fast shutdown (a checkpoint of what it has not written yet). */
const LEFT_RUNNING_STOP_TIMEOUT_MS = 60_000;

/**
 * Before a start: a PostgreSQL whose Saldo was killed (SIGKILL, the OOM killer, a closed terminal's SIGHUP) keeps
 * running in its own process group, holding the data directory. It is shut down the way `stop()` would have (fast
 * shutdown, SIGINT: a clean checkpoint, no data lost) and the start goes on; starting a fresh server keeps its log in
 * this Saldo. One whose Saldo still runs is another `pnpm start` on the same SALDO_HOME, which this start refuses (two
 * stacks on one data directory).
 */
async function stopServerLeftRunning(options: { databaseDir: string; saldoHome: string; logger: Logger }): Promise<void> {
  const lockFile = join(options.databaseDir, 'postmaster.pid');
  const holder = holderOf(options.databaseDir);
  if (holder?.kind === 'saldo') throw anotherSaldoRunning(holder.saldoPid, options.saldoHome);
  // No lock, or one naming no PostgreSQL: PostgreSQL itself takes over a stale lock (or refuses, and the start's
  // diagnosis says which file to delete).
  if (holder?.kind !== 'left-running') return;
  const { pid } = holder;
  options.logger.info('stopping the embedded PostgreSQL an earlier Saldo left running', { pid });
  try {
    // PostgreSQL removes its lock file as the last step of its shutdown. No SIGKILL after the timeout: that would leave
    // the data directory to crash recovery; the message below says which process to look at.
    await stopLeftRunning(pid, {
      signal: 'SIGINT',
      what: 'the PostgreSQL left running to stop',
      timeoutMs: LEFT_RUNNING_STOP_TIMEOUT_MS,
      escalate: false,
      stopped: () => !existsSync(lockFile),
    });
  } catch (error) {
    options.logger.debug('stopping the PostgreSQL left running failed', { error });
    throw new EmbeddedPostgresStartError(
      'left-running',
      `A PostgreSQL left running by an earlier Saldo (pid ${pid}) still holds ${options.databaseDir} and did not stop: stop it (kill ${pid}) and start again.`,
    );
  }
  options.logger.info('embedded PostgreSQL left running stopped', { pid });
}

type LockHolder = { kind: 'saldo'; saldoPid: number } | { kind: 'left-running'; pid: number } | { kind: 'not-postgres'; pid: number; command?: string };

/**
 * Who holds the data directory's lock file: a PostgreSQL of this directory whose parent is a live Saldo (node), one
 * left running (its Saldo is gone: it now belongs to init or a subreaper), or a process that is not this directory's
 * PostgreSQL (a stale lock whose pid was reused, perhaps by the machine's own PostgreSQL, which must not be stopped).
 * Undefined without a lock file.
 */
function holderOf(databaseDir: string): LockHolder | undefined {
  const pid = readLockPid(join(databaseDir, 'postmaster.pid'));
  if (!pid) return undefined;
  const command = processCommand(pid);
  if (!command || !isServerOf(command, databaseDir)) return { kind: 'not-postgres', pid, ...(command ? { command } : {}) };
  const saldoPid = saldoParentOf(pid);
  return saldoPid ? { kind: 'saldo', saldoPid } : { kind: 'left-running', pid };
}

function anotherSaldoRunning(saldoPid: number, saldoHome: string): EmbeddedPostgresStartError {
  return new EmbeddedPostgresStartError(
    'data-directory-in-use',
    `Another Saldo (pid ${saldoPid}) is already running on this data directory (${saldoHome}): stop it first (Ctrl-C in its terminal, or kill ${saldoPid}), or give this one its own SALDO_HOME and ports.`,
  );
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
    const holder = holderOf(databaseDir);
    // Another start took the directory between the check before this start and PostgreSQL's own.
    if (holder?.kind === 'saldo') return anotherSaldoRunning(holder.saldoPid, saldoHome);
    if (holder?.kind === 'left-running') {
      return new EmbeddedPostgresStartError(
        'left-running',
        `A PostgreSQL left running by an earlier Saldo (pid ${holder.pid}) still holds ${databaseDir}: stop it (kill ${holder.pid}) and start again.`,
      );
    }
    const pid = holder?.pid;
    const command = holder?.kind === 'not-postgres' ? holder.command : undefined;
    return new EmbeddedPostgresStartError(
      'stale-lock',
      `Stale lock in the data directory: ${lockFile} names pid ${pid ?? '?'}, which is ${command ? `now \`${command.split(' ')[0]}\`` : 'a process of another user'}, not ${command && /postgres/.test(command) ? "this directory's PostgreSQL" : 'PostgreSQL'} (an earlier Saldo did not stop cleanly): delete that file and start again.`,
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

/** A postmaster keeps its command line (embedded-postgres starts it as `postgres -D <databaseDir> -p <port> ...`). */
function isServerOf(command: string, databaseDir: string): boolean {
  return /postgres/.test(command) && ` ${command} `.includes(` -D ${databaseDir} `);
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
