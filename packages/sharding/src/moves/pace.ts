import { setTimeout as delay } from 'node:timers/promises';

/**
 * The pace of a shard move's copy. Unpaced, the copy takes all the CPU and I/O the database gives it (a reader and two
 * writers, flat out): on the benchmark's two cores the tenant's writes fell behind (168 of 200 calls/s served) and waited
 * seconds (p99 16.8 s) in the queue that built up. The copy is background work with a deadline measured in tens of
 * seconds; the writes are live traffic with one measured in milliseconds. So the copy goes at a rate (rows/s) between a
 * floor and a ceiling: it climbs towards the ceiling while the shards are quiet, halves when a probe finds the shards'
 * live transactions waiting, and never drops below the floor, so a move on a shard that is always busy still ends.
 * While the shards are busy the copy also writes with one target connection instead of two.
 */
export interface CopyPaceSettings {
  /** The copy never goes faster (rows/s): an operator's cap on what a move may take from a shard. */
  maxRowsPerS: number;
  /** The copy keeps at least this rate however busy the shards are (a move must end; 1,000,000 rows in 71 s at 14,000). */
  minRowsPerS: number;
}

/** The copy's connections' application_name: the busy probe leaves them out (see ShardMover.shardsBusy). */
export const COPY_APPLICATION_NAME = 'saldo-shard-move-copy';

export const DEFAULT_COPY_PACE: CopyPaceSettings = { maxRowsPerS: 50_000, minRowsPerS: 14_000 };

/** Ranges from the floor to the ceiling when the shards stay quiet (a fifth of the span per range). */
const CLIMB_RANGES = 5;
/**
 * A rate behind its schedule by more than this (a slow range, a probe) does not catch up in a burst afterwards: the
 * schedule restarts from now.
 */
const MAX_DEBT_MS = 250;

/** The rate after a probe: half as fast when the shards are busy, a step (a fifth of the span) faster when quiet, within the settings. */
export function nextRate(rate: number, busy: boolean, settings: CopyPaceSettings): number {
  const { minRowsPerS: min, maxRowsPerS: max } = settings;
  const next = busy ? rate / 2 : rate + Math.max(1, (max - min) / CLIMB_RANGES);
  return Math.min(max, Math.max(min, next));
}

export interface PaceClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: PaceClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : {}),
};

/**
 * One table's copy pace. `afterRange` is called as each range has been handed to a writer, before the next is read,
 * with its rows: it probes the shards, adjusts the rate and waits as long as the rate asks (the range's rows at the
 * current rate, less the time the copy already spent; the write goes on meanwhile). Returns whether the shards were
 * busy (the copy then keeps one write in flight).
 */
export class CopyPace {
  rate: number;
  /** Time spent waiting and ranges found busy, for the copy's log line. */
  readonly stats = { pausedMs: 0, ranges: 0, busyRanges: 0 };
  private due: number;

  constructor(
    private readonly settings: CopyPaceSettings,
    /** Whether live transactions on the shards are waiting (see ShardMover.shardsBusy). */
    private readonly probe: () => Promise<boolean>,
    private readonly clock: PaceClock = realClock,
  ) {
    if (!(settings.minRowsPerS > 0) || settings.maxRowsPerS < settings.minRowsPerS)
      throw new Error(`Copy pace needs 0 < minRowsPerS <= maxRowsPerS (got ${settings.minRowsPerS}, ${settings.maxRowsPerS})`);
    // Start at the floor: the first probes decide whether the shards can spare more.
    this.rate = settings.minRowsPerS;
    this.due = clock.now();
  }

  async afterRange(rows: number, signal?: AbortSignal): Promise<boolean> {
    const busy = await this.probe();
    this.stats.ranges += 1;
    if (busy) this.stats.busyRanges += 1;
    this.rate = nextRate(this.rate, busy, this.settings);
    const now = this.clock.now();
    this.due = Math.max(this.due, now - MAX_DEBT_MS) + (rows * 1000) / this.rate;
    const wait = this.due - now;
    if (wait > 1) {
      this.stats.pausedMs += wait;
      await this.clock.sleep(wait, signal);
    }
    return busy;
  }
}
