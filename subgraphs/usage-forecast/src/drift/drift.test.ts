import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dayNumber } from '../domain/days.js';
import { seededRandom } from '@saldo/testing/random';
import { gaussian, syntheticUsage, trainForecaster, truncateSeries, type DailySeries, type Forecaster } from '../forecasting/index.js';
import { trendOf } from '../models/trainer.js';
import { DEFAULT_DRIFT_THRESHOLDS, drifted, exceeds, psi, psiReference } from './drift.js';
import { observeDrift, type DriftTenantData } from './monitor.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const TRAINED_THROUGH = dayNumber('2026-05-31');
/** Office-shaped share of a day's usage per UTC hour. */
const SHARES = (() => {
  const raw = Array.from({ length: 24 }, (_, hour) => (hour >= 8 && hour < 18 ? 1 : hour >= 6 && hour < 21 ? 0.3 : 0.03));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((value) => value / sum);
})();

interface Stream {
  /** Per tenant: hourly usage from TRAINED_THROUGH + 1, 00:00. */
  hourly: Float64Array[];
  history: DailySeries[];
}

/**
 * The days after training as an hourly stream: each tenant's generated daily usage spread over office hours. From
 * `onset` on (if any), the usage of every other tenant of three in five tenants doubles (a product launch, a pricing change).
 */
function stream(full: readonly DailySeries[], days: number, onset: number | null): Stream {
  const random = seededRandom(5);
  const normal = gaussian(random);
  const hourly = full.map((series, index) => {
    const values = new Float64Array(days * 24);
    for (let hour = 0; hour < values.length; hour += 1) {
      const day = TRAINED_THROUGH + 1 + Math.floor(hour / 24);
      const at = (TRAINED_THROUGH + 1) * DAY_MS + hour * HOUR_MS;
      const shifted = onset !== null && at >= onset && index % 5 < 3 ? 2 : 1;
      // Each hour varies around its share of the day (+-20 %), as real hours do.
      values[hour] = series.values[day - series.start]! * SHARES[hour % 24]! * shifted * Math.exp(normal() * 0.2);
    }
    return values;
  });
  return { hourly, history: full.map((series) => truncateSeries(series, TRAINED_THROUGH)!) };
}

/** What the monitor sees for the 24 hours ending at `end`: daily history to the day before, the window's hours. */
function windowData(data: Stream, end: number): DriftTenantData[] {
  const start = end - DAY_MS;
  const firstHour = (start - (TRAINED_THROUGH + 1) * DAY_MS) / HOUR_MS;
  const originDay = Math.floor(start / DAY_MS) - 1;
  return data.history.map((history, index) => {
    const hourly = data.hourly[index]!;
    const extra = originDay - TRAINED_THROUGH;
    const values = new Float64Array(history.values.length + extra);
    values.set(history.values);
    for (let day = 0; day < extra; day += 1)
      for (let hour = 0; hour < 24; hour += 1) values[history.values.length + day] = values[history.values.length + day]! + hourly[day * 24 + hour]!;
    return { daily: { ...history, values }, window: hourly.subarray(firstHour, firstHour + 24), hourShares: SHARES };
  });
}

describe('drift of a model version', () => {
  let full: DailySeries[];
  let forecaster: Forecaster;
  let referenceWape: number;
  let reference: ReturnType<typeof psiReference>;

  before(async () => {
    full = syntheticUsage({ series: 150, days: 130, lastDay: TRAINED_THROUGH + 10, seed: 17, lateJoiners: 0 }).series;
    const training = full.map((series) => truncateSeries(series, TRAINED_THROUGH)!);
    const trained = await trainForecaster(training, { maxRows: 6_000, epochs: 3, seed: 2 });
    forecaster = trained.forecaster;
    referenceWape = trained.report.validation.combined.wape;
    reference = psiReference(training.map((series) => trendOf(series.values, series.values.length - 1)));
  });
  after(() => forecaster.dispose());

  /** Hourly checks from `from` to `to` (window ends, ms); returns the first hour the version counts as drifted. */
  function firstFlag(data: Stream, from: number, to: number): { at: number | null; checks: number; maxWape: number } {
    const history: boolean[] = [];
    let maxWape = 0;
    for (let end = from; end <= to; end += HOUR_MS) {
      const observation = observeDrift(forecaster, reference, windowData(data, end), new Date(end));
      maxWape = Math.max(maxWape, observation.rollingWape);
      history.push(exceeds(observation, referenceWape, DEFAULT_DRIFT_THRESHOLDS));
      if (drifted(history, DEFAULT_DRIFT_THRESHOLDS)) return { at: end, checks: history.length, maxWape };
    }
    return { at: null, checks: history.length, maxWape };
  }

  it('never flags a stable stream (five simulated days of hourly checks)', () => {
    const from = (TRAINED_THROUGH + 3) * DAY_MS;
    const result = firstFlag(stream(full, 9, null), from, from + 5 * DAY_MS);
    assert.equal(result.at, null, `flagged on stable data (max rolling WAPE ${result.maxWape}, reference ${referenceWape})`);
    assert.equal(result.checks, 121);
  });

  it('flags a shifted stream within 24 hours of the onset, and not before it', () => {
    const onset = (TRAINED_THROUGH + 5) * DAY_MS + 9 * HOUR_MS;
    const from = (TRAINED_THROUGH + 3) * DAY_MS;
    const result = firstFlag(stream(full, 9, onset), from, from + 5 * DAY_MS);
    assert.ok(result.at !== null, `never flagged (max rolling WAPE ${result.maxWape}, reference ${referenceWape})`);
    assert.ok(result.at > onset, 'not before the onset');
    assert.ok(result.at - onset <= 24 * HOUR_MS, `flagged ${(result.at - onset) / HOUR_MS} h after the onset`);
  });

  it('computes the population stability index of a shifted input distribution', () => {
    const sample = Array.from({ length: 1000 }, (_, index) => Math.sin(index) * 0.3);
    const ref = psiReference(sample);
    assert.ok(psi(ref, sample) < 0.01);
    assert.ok(
      psi(
        ref,
        sample.map((value) => value + 0.3),
      ) > 0.25,
    );
  });
});
