import type { Logger } from './logger.js';

/** What one pass of a work loop did. */
export interface PassResult {
  /** Items the pass handled (events relayed, attempts run, ...); `drain()` repeats passes while this is above zero. */
  handled: number;
  /** More is waiting right now (a full batch): the loop runs another pass at once. */
  more?: boolean;
  /** Look again this soon instead of after the poll interval (another instance held the work's lock, say). */
  retryInMs?: number;
}

export interface WorkLoopOptions {
  /** Names the loop in its log lines: `<name> pass failed; will retry`. */
  name: string;
  /** One pass over the work. Throwing counts as a failed pass: the loop backs off and tries again. */
  pass: () => Promise<PassResult>;
  /** Safety-net poll: the loop passes this long after its last pass even when nobody poked it. */
  pollIntervalMs: number;
  /**
   * After a failed pass the loop waits the poll interval, doubled per consecutive failure up to this cap; pokes do
   * not shorten the wait. Defaults to the poll interval (a constant retry).
   */
  maxRetryDelayMs?: number;
  logger: Logger;
}

/**
 * The poll/poke worker loop: work that is written by commits (outbox rows, auto-top-up attempts) and picked up by a
 * background loop. A commit pokes the loop so its work is handled at once; a poll is the safety net for pokes that
 * were lost (a crash, another instance's commit). Passes never overlap: a poke while one runs asks for another pass
 * right after it, so under load each pass takes what accumulated during the previous one. A failed pass is logged and
 * retried with backoff; `drain()` runs passes until the work is done, exclusively (tests, shutdown).
 */
export class WorkLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private rerun = false;
  /** Pokes so far: a drain asks for another pass only for pokes after its last pass started. */
  private pokes = 0;
  private stopped = true;
  /** Consecutive failed passes; while above zero the loop backs off. */
  private failures = 0;
  private readonly maxRetryDelayMs: number;

  constructor(private readonly options: WorkLoopOptions) {
    this.maxRetryDelayMs = Math.max(options.maxRetryDelayMs ?? options.pollIntervalMs, options.pollIntervalMs);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops polling and waits for a pass in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Asks for a pass now (after a commit that wrote work). */
  poke(): void {
    if (this.stopped) return;
    this.pokes += 1;
    // While a pass runs, or while backing off after a failure, a poke asks for a pass right after.
    if (this.running || this.failures > 0) {
      this.rerun = true;
      return;
    }
    this.schedule(0);
  }

  /**
   * Runs passes until one handles nothing, never alongside a scheduled pass, and returns how many items they handled.
   * Afterwards the loop polls again after the full interval, or passes at once for a poke that came after the drain's
   * last pass started (that pass may not have seen the poker's commit; earlier pokes it covered).
   */
  async drain(): Promise<number> {
    while (this.running) await this.running;
    if (this.timer) clearTimeout(this.timer);
    let total = 0;
    let pokesBeforeLastPass = this.pokes;
    const draining = (async () => {
      for (;;) {
        pokesBeforeLastPass = this.pokes;
        const result = await this.options.pass();
        total += result.handled;
        if (result.handled === 0) return;
      }
    })();
    this.running = draining;
    try {
      await draining;
    } finally {
      this.running = undefined;
      this.rerun = false;
      if (!this.stopped) this.schedule(this.pokes !== pokesBeforeLastPass ? 0 : this.options.pollIntervalMs);
    }
    return total;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const pass = this.loop();
      this.running = pass;
      void pass.then((next) => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.rerun && this.failures === 0 ? 0 : next);
        this.rerun = false;
      });
    }, delayMs);
    this.timer.unref();
  }

  /** Passes while there is work (a full batch, or a poke during the pass); resolves to the delay before the next. */
  private async loop(): Promise<number> {
    try {
      let result: PassResult;
      do {
        this.rerun = false;
        result = await this.options.pass();
      } while (!this.stopped && (result.more || this.rerun));
      this.failures = 0;
      return result.retryInMs ?? this.options.pollIntervalMs;
    } catch (error) {
      this.failures += 1;
      const retryInMs = this.retryDelay();
      this.options.logger.warn(`${this.options.name} pass failed; will retry`, { error, attempt: this.failures, retryInMs });
      return retryInMs;
    }
  }

  /** Backoff after consecutive failed passes: the poll interval, doubled each time, capped. */
  private retryDelay(): number {
    return Math.min(this.maxRetryDelayMs, this.options.pollIntervalMs * 2 ** Math.min(Math.max(this.failures - 1, 0), 20));
  }
}
