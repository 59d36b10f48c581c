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
 * Stops `stop` once on SIGINT/SIGTERM and exits; a second signal (Ctrl-C again) exits at once.
 * Used only by entry points (main.ts), never by libraries or tests.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stoppingSince: number | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < ECHO_WINDOW_MS) return;
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
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
