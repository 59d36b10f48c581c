import type { Severity } from '../entities/usage-anomaly.js';

/**
 * Robust anomaly scores against a tenant's own seasonal profile. The expected value of a period is the median of
 * the same period in the last four seasons (the same weekday for days, the same hour of the same weekday for hours),
 * so an ordinary weekly rhythm is expected, not anomalous. The score is the period's residual, less the typical
 * residual, over 1.4826 x the median absolute deviation of the tenant's past residuals (a robust standard deviation),
 * never smaller than a count's Poisson noise. Severities follow the product strategy's scale.
 */
export interface AnomalyScore {
  observed: number;
  expected: number;
  score: number;
  severity: Severity | null;
}

/** An anomaly must also be material: at least this many units and this share of the expected value away. */
const MIN_DEVIATION_UNITS = 8;
const MIN_DEVIATION_SHARE = 0.25;

/** Seasons compared (four weeks) and residuals the spread is learned from. */
const SEASONS = 4;

export function severityOf(score: number): Severity | null {
  const magnitude = Math.abs(score);
  if (magnitude > 5) return 'CRITICAL';
  if (magnitude > 4) return 'HIGH';
  if (magnitude > 3) return 'MEDIUM';
  return null;
}

/**
 * The expectation of `values[index]`: the median of the same period in the last four seasons, and the level its
 * count noise is judged by (the larger of that median and the seasons' mean: a median of small counts understates it).
 */
function seasonalExpectation(values: ArrayLike<number>, index: number, period: number): { expected: number; level: number } | null {
  const past: number[] = [];
  for (let season = 1; season <= SEASONS; season += 1) {
    const at = index - season * period;
    if (at < 0) return null;
    past.push(values[at]!);
  }
  const expected = median(past);
  return { expected, level: Math.max(expected, past.reduce((sum, value) => sum + value, 0) / past.length) };
}

/**
 * Scores `values[index]` (a day or an hour) against the series' seasonal profile with the given period (7 for days,
 * 168 for hours). `residualWindow` past periods (each with four seasons of its own history) teach the spread. Null
 * when the history is too short to know the profile (a new tenant has no "normal" yet).
 */
export function scorePeriod(values: ArrayLike<number>, index: number, period: number, residualWindow: number): AnomalyScore | null {
  const expectation = seasonalExpectation(values, index, period);
  if (expectation === null) return null;
  const { expected, level } = expectation;
  // Residuals are standardized by the count noise of their expectation (busy hours vary more than quiet ones in
  // absolute terms), then scored against the tenant's own robust spread of such residuals.
  const residuals: number[] = [];
  for (let at = index - 1; at >= 0 && residuals.length < residualWindow; at -= 1) {
    const past = seasonalExpectation(values, at, period);
    if (past === null) break;
    residuals.push((values[at]! - past.expected) / countNoise(past.level));
  }
  if (residuals.length < Math.min(residualWindow, 2 * period)) return null;
  const center = median(residuals);
  const mad = median(residuals.map((residual) => Math.abs(residual - center)));
  // A perfectly regular tenant's MAD can be 0: never narrower than pure count noise.
  const spread = Math.max(1.4826 * mad, 1);
  const observed = values[index]!;
  const score = ((observed - expected) / countNoise(level) - center) / spread;
  // Statistically unusual but immaterial (a quiet night hour with 7 calls instead of 1) is not worth an alarm.
  const material = Math.abs(observed - expected) >= Math.max(MIN_DEVIATION_UNITS, MIN_DEVIATION_SHARE * expected);
  return { observed, expected, score: Math.round(score * 100) / 100, severity: material ? severityOf(score) : null };
}

/** Typical deviation of a count around `expected`: Poisson (sqrt) plus 10 % for day-to-day variation. */
function countNoise(expected: number): number {
  return Math.sqrt(expected + 1) + 0.1 * expected;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Daily checks: residuals of the last 8 weeks (with 4 weeks of profile each). */
export const DAILY = { period: 7, residualWindow: 56 } as const;
/** Hourly checks: residuals of the last 2 weeks of hours. */
export const HOURLY = { period: 168, residualWindow: 336 } as const;
