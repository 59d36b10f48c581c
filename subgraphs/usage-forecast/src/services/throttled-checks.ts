import type { Logger } from '@saldo/service';

/**
 * Runs a per-tenant check after events without letting a busy event stream pile up work: a tenant checked within the
 * last `minIntervalMs` waits for its next turn (it is checked again once the interval passed, so its latest state is
 * seen), checks run one batch at a time (up to `batchSize` tenants), and the event consumer never waits for them.
 */
export class ThrottledChecks {
  private readonly pending = new Set<string>();
  private readonly lastRun = new Map<string, number>();
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: string,
    private readonly check: (tenantIds: string[]) => Promise<unknown>,
    private readonly logger: Logger,
    private readonly options: { minIntervalMs: number; batchSize: number } = { minIntervalMs: 30_000, batchSize: 200 },
  ) {}

  /** Asks for the tenants to be checked soon. */
  request(tenantIds: Iterable<string>): void {
    for (const tenantId of tenantIds) this.pending.add(tenantId);
    this.kick();
  }

  /** Waits for the checks in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.pending.clear();
  }

  private kick(): void {
    if (this.running || this.pending.size === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      this.scheduleLater();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const due = [...this.pending]
        .filter((tenantId) => now - (this.lastRun.get(tenantId) ?? 0) >= this.options.minIntervalMs)
        .slice(0, this.options.batchSize);
      if (due.length === 0) return;
      for (const tenantId of due) {
        this.pending.delete(tenantId);
        this.lastRun.set(tenantId, now);
      }
      try {
        await this.check(due);
      } catch (error) {
        this.logger.error(`${this.name} failed`, { tenants: due.length, error: (error as Error).message });
      }
      if (this.lastRun.size > 200_000) this.lastRun.clear();
    }
  }

  /** Tenants that were throttled get their turn when their interval has passed. */
  private scheduleLater(): void {
    if (this.pending.size === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, this.options.minIntervalMs);
    this.timer.unref();
  }
}
