// The shard move copy's pace (pure): the rate halves while the shards are busy, climbs while they are quiet, stays
// between the floor and the ceiling, and the copy waits as long as its rate asks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CopyPace, nextRate, type PaceClock } from './pace.js';

const settings = { minRowsPerS: 10_000, maxRowsPerS: 50_000 };

/** A clock whose sleeps advance it (the waits asked for are recorded, nothing waits for real). */
function fakeClock(): PaceClock & { waits: number[]; advance(ms: number): void } {
  let now = 0;
  const waits: number[] = [];
  return {
    waits,
    now: () => now,
    advance: (ms) => void (now += ms),
    sleep: async (ms) => {
      waits.push(ms);
      now += ms;
    },
  };
}

describe('copy pace', () => {
  test('the rate halves when busy, climbs a fifth of the span when quiet, within floor and ceiling', () => {
    assert.equal(nextRate(40_000, true, settings), 20_000);
    assert.equal(nextRate(15_000, true, settings), 10_000, 'never below the floor');
    assert.equal(nextRate(10_000, false, settings), 18_000);
    assert.equal(nextRate(48_000, false, settings), 50_000, 'never above the ceiling');
    let rate = settings.minRowsPerS;
    for (let range = 0; range < 5; range += 1) rate = nextRate(rate, false, settings);
    assert.equal(rate, settings.maxRowsPerS, 'five quiet ranges from the floor to the ceiling');
  });

  test('the copy waits for its rows at the rate, less the time the range already took', async () => {
    const clock = fakeClock();
    const busy = [false, false, true, true];
    const pace = new CopyPace(settings, async () => busy.shift()!, clock);
    // Quiet: 18,000 rows/s after the first probe, 5,000 rows take 278 ms; the range took 100 ms of it already.
    clock.advance(100);
    assert.equal(await pace.afterRange(5_000), false);
    assert.equal(Math.round(clock.waits.at(-1)!), 178);
    // Quiet again: 26,000 rows/s, 192 ms for the next 5,000, counted from where the last wait ended.
    assert.equal(await pace.afterRange(5_000), false);
    assert.equal(Math.round(clock.waits.at(-1)!), 192);
    // Busy: half the rate, 385 ms per 5,000 rows.
    assert.equal(await pace.afterRange(5_000), true);
    assert.equal(pace.rate, 13_000);
    assert.equal(Math.round(clock.waits.at(-1)!), 385);
    // Busy again: the floor, 500 ms per 5,000 rows. A range slower than the rate asks waits for nothing, and its debt
    // is not caught up in a burst later.
    clock.advance(5_000);
    assert.equal(await pace.afterRange(5_000), true);
    assert.equal(pace.rate, 10_000);
    assert.equal(Math.round(clock.waits.at(-1)!), 500 - 250);
    assert.deepEqual({ ranges: pace.stats.ranges, busyRanges: pace.stats.busyRanges }, { ranges: 4, busyRanges: 2 });
  });

  test('refuses a floor above the ceiling or not positive', () => {
    assert.throws(() => new CopyPace({ minRowsPerS: 0, maxRowsPerS: 10 }, async () => false));
    assert.throws(() => new CopyPace({ minRowsPerS: 20, maxRowsPerS: 10 }, async () => false));
  });
});
