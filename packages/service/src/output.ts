/**
 * Writes whose reader is gone. A service started from a terminal that was closed gets SIGHUP and stops (lifecycle.ts),
 * but every write to the terminal fails from then on (EIO), as every write to a pipe whose reader exited does (EPIPE).
 * Such a line has nobody to read it: it is dropped, and must not end the process with an unhandled 'error' halfway
 * through its shutdown (which would leave the embedded PostgreSQL, nginx and pebble running).
 */
const GONE_CODES = new Set(['EIO', 'EPIPE']);

/** Whether a write failed because the output's reader is gone: its terminal closed (EIO), its pipe's reader exited (EPIPE). */
export function isOutputGone(error: unknown): boolean {
  return typeof error === 'object' && error !== null && GONE_CODES.has(String((error as { code?: unknown }).code));
}

let dropping = false;

/**
 * From now on, a write to process.stdout or process.stderr whose reader is gone is dropped instead of crashing the
 * process (Node emits the failure as an 'error' event, which nothing else listens to); other write errors still do.
 */
export function dropWritesToGoneOutput(): void {
  if (dropping) return;
  dropping = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error) => {
      if (!isOutputGone(error)) throw error;
    });
  }
}
