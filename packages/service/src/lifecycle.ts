import type { Logger } from './logger.js';

/** Every runnable Saldo service is a factory result with this shape. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Signals this soon after the first are echoes (a package manager forwarding Ctrl-C to its child). */
const ECHO_WINDOW_MS = 1000;

/**
 * The signals that stop a service: Ctrl-C (SIGINT), `kill`, docker stop and systemd (SIGTERM), and SIGHUP, which a
 * process gets when its terminal goes away (the terminal window closed, an SSH session dropped). SIGHUP is not "reload
 * your configuration" here, as it is for daemons such as nginx: Saldo's configuration is its environment, read once at
 * start, so there is nothing to reload, and a Saldo that ignored SIGHUP (or died of it, Node's default) would leave its
 * embedded PostgreSQL, nginx and pebble running after the terminal closed.
 */
const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Stops `stop` once on SIGINT/SIGTERM/SIGHUP and exits; a second SIGINT or SIGTERM (Ctrl-C again) exits at once.
 * A repeated SIGHUP never does: nobody pressed anything (a closing terminal's shell and the kernel may both send it),
 * and exiting early would leave the embedded PostgreSQL running. Log lines written after the terminal is gone are
 * dropped (logger.ts), so the stop runs to its end. Used only by entry points (main.ts), never by libraries or tests.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stoppingSince: number | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (stoppingSince !== undefined) {
      if (signal === 'SIGHUP' || Date.now() - stoppingSince < ECHO_WINDOW_MS) return;
      logger.warn('second signal, exiting immediately', { signal });
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info('shutting down', { signal });
    stop().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, handler);
}
