import { spawnSync } from 'node:child_process';
import { waitUntil } from './wait.js';

/**
 * Other processes of the machine, as a Saldo that runs helpers (PostgreSQL, nginx, pebble) in their own process groups
 * sees them: those helpers outlive a Saldo that was killed (SIGKILL, the OOM killer), and the next start recognises them
 * by pid and command line and stops them. `ps` answers on Linux and macOS alike.
 */

/** A process's field from `ps`; undefined when the process is gone (or ps is missing). */
function ps(pid: number, field: 'args' | 'ppid'): string | undefined {
  const result = spawnSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8' });
  const value = result.status === 0 ? result.stdout.trim() : '';
  return value || undefined;
}

/** The command line a process shows (servers such as nginx retitle themselves: "nginx: master process ..."). */
export function processCommand(pid: number): string | undefined {
  return ps(pid, 'args');
}

export function processParent(pid: number): number | undefined {
  const parent = Number.parseInt(ps(pid, 'ppid') ?? '', 10);
  return Number.isInteger(parent) ? parent : undefined;
}

/** Whether `pid` exists (a zombie its parent has not reaped yet counts). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, of another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The Saldo (a node process) that runs `pid` as its child, or undefined when the process was left running: its parent
 * is gone and it now belongs to init or a subreaper.
 */
export function saldoParentOf(pid: number): number | undefined {
  const parent = processParent(pid);
  const parentCommand = parent ? processCommand(parent) : undefined;
  return parent && parent > 1 && parentCommand && /node/.test(parentCommand) ? parent : undefined;
}

/**
 * Sends `signal` to a helper left running and waits until it is gone (or `stopped()` says it shut down), escalating
 * to SIGKILL after `timeoutMs` unless `escalate` is false; rejects if it still runs then.
 */
export async function stopLeftRunning(
  pid: number,
  options: { signal: NodeJS.Signals; what: string; timeoutMs: number; escalate?: boolean; stopped?: () => boolean },
): Promise<void> {
  const gone = () => !isProcessAlive(pid) || (options.stopped?.() ?? false);
  process.kill(pid, options.signal);
  try {
    await waitUntil(gone, options.what, { timeoutMs: options.timeoutMs, intervalMs: 50 });
  } catch (error) {
    if (options.escalate === false) throw error;
    process.kill(pid, 'SIGKILL');
    await waitUntil(gone, `${options.what} (SIGKILL)`, { timeoutMs: 5_000, intervalMs: 50 });
  }
}
