import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { processCommand, saldoParentOf, stopLeftRunning, type Logger } from '@saldo/service';

export interface NginxTestResult {
  ok: boolean;
  /** nginx's own words (stderr of `nginx -t`). */
  output: string;
}

/**
 * The nginx binary under one prefix: `nginx -t` of a configuration, reloads (SIGHUP to the master, found through its
 * pid file) and, when this service manages it, the master process itself (a child, in the foreground).
 *
 * A managed master runs in its own process group (`detached`): a terminal's Ctrl-C, or the SIGHUP of a closed terminal,
 * reaches the service, which stops nginx itself as part of its shutdown (`stop()`), after the requests it still
 * proxies, rather than nginx dying first under them. Such a master outlives a service that was killed (SIGKILL):
 * the next managed start finds it through the pid file under the same prefix and stops it before starting its own.
 */
export class NginxProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(
    private readonly binary: string,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  private args(configPath: string): string[] {
    return ['-p', `${this.prefix}/`, '-c', configPath, '-e', `${this.prefix}/logs/error.log`];
  }

  /** `nginx -t` of `configPath` (parses everything, loads every certificate and key; binds nothing). */
  test(configPath: string): Promise<NginxTestResult> {
    return new Promise((resolve) => {
      const process = spawn(this.binary, ['-t', '-q', ...this.args(configPath)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let output = '';
      process.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      process.on('error', (error) => resolve({ ok: false, output: `${this.binary}: ${error.message}` }));
      process.on('close', (code) => resolve({ ok: code === 0, output: output.trim() }));
    });
  }

  /** Starts the master in the foreground as a child of this process (managed mode). */
  async start(configPath: string): Promise<void> {
    if (this.child) return;
    await this.stopMasterLeftRunning();
    const child = spawn(this.binary, [...this.args(configPath), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let output = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      this.logger.debug('nginx', { output: chunk.trim() });
    });
    this.exited = new Promise((resolve) => child.on('exit', () => resolve()));
    this.child = child;
    const failed = await Promise.race([
      new Promise<false>((resolve) => child.once('spawn', () => resolve(false))),
      new Promise<Error>((resolve) => child.once('error', resolve)),
      this.exited.then(() => new Error(`nginx exited at start: ${output.trim()}`)),
    ]);
    if (failed) {
      this.child = undefined;
      throw failed;
    }
    child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = undefined;
        this.logger.error('nginx exited', { code, signal, output: output.trim().slice(-2000) });
      }
    });
  }

  /** The master's pid: our child's, or the one in the pid file (nginx run elsewhere with this prefix). */
  async masterPid(): Promise<number | undefined> {
    if (this.child?.pid) return this.child.pid;
    return this.pidFileMaster();
  }

  private async pidFileMaster(): Promise<number | undefined> {
    try {
      const pid = Number.parseInt((await readFile(`${this.prefix}/nginx.pid`, 'utf8')).trim(), 10);
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /**
   * A master of this prefix whose service is gone (killed before it could stop it; nginx now belongs to init) is shut
   * down (fast: SIGTERM) before a managed start, which would otherwise fail to bind its ports. One whose service runs
   * (another service managing this prefix) is left alone, and the start fails on the taken ports.
   */
  private async stopMasterLeftRunning(): Promise<void> {
    const pid = await this.pidFileMaster();
    if (pid === undefined) return;
    const command = processCommand(pid);
    // The master retitles itself `nginx: master process <binary> -p <prefix>/ ...`; a pid reused by another program is not it.
    if (!command?.startsWith('nginx: master process') || !` ${command} `.includes(` -p ${this.prefix}/ `) || saldoParentOf(pid)) return;
    this.logger.info('stopping the nginx an earlier run left running', { pid });
    await stopLeftRunning(pid, { signal: 'SIGTERM', what: 'the nginx left running to stop', timeoutMs: 10_000 });
  }

  /** Asks the master to reload (graceful: old workers finish their connections). False when no master runs. */
  async reload(): Promise<boolean> {
    const pid = await this.masterPid();
    if (pid === undefined) return false;
    process.kill(pid, 'SIGHUP');
    return true;
  }

  /** The master's worker processes now (Linux /proc): the ones a reload retires. */
  async workerPids(): Promise<number[]> {
    const master = await this.masterPid();
    if (master === undefined) return [];
    const pids: number[] = [];
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      // Field 4 (after the parenthesized command name) is the parent pid.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === master) pids.push(Number(entry));
    }
    return pids;
  }

  /**
   * Whether an old worker no longer accepts connections: gone, or retitled "shutting down" (nginx does that in the same
   * step in which it closes the worker's listening sockets).
   */
  async retired(pid: number): Promise<boolean> {
    const title = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
    return title === undefined || title === '' || title.includes('shutting down');
  }

  get managedRunning(): boolean {
    return this.child !== undefined;
  }

  /** Stops a managed master: graceful (SIGQUIT), then fast (SIGTERM) after `graceMs`. */
  async stop(graceMs = 1000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGTERM'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
