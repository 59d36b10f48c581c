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

/** Seasons compared (four weeks) and residuals the spread is learned from. */
const SEASONS = 4;

export function severityOf(score: number): Severity | null {
  const magnitude = Math.abs(score);
  if (magnitude > 5) return 'CRITICAL';
  if (magnitude > 4) return 'HIGH';
  if (magnitude > 3) return 'MEDIUM';
  return null;
}

/** Median of the values `period` steps apart before `index` (four seasons back). */
function seasonalExpectation(values: ArrayLike<number>, index: number, period: number): number | null {
  const past: number[] = [];
  for (let season = 1; season <= SEASONS; season += 1) {
    const at = index - season * period;
    if (at < 0) return null;
    past.push(values[at]!);
  }
  return median(past);
}

/**
 * Scores `values[index]` (a day or an hour) against the series' seasonal profile with the given period (7 for days,
 * 168 for hours). `residualWindow` past periods (each with four seasons of its own history) teach the spread. Null
 * when the history is too short to know the profile (a new tenant has no "normal" yet).
 */
export function scorePeriod(values: ArrayLike<number>, index: number, period: number, residualWindow: number): AnomalyScore | null {
  const expected = seasonalExpectation(values, index, period);
  if (expected === null) return null;
  const residuals: number[] = [];
  for (let at = index - 1; at >= 0 && residuals.length < residualWindow; at -= 1) {
    const past = seasonalExpectation(values, at, period);
    if (past === null) break;
    residuals.push(values[at]! - past);
  }
  if (residuals.length < Math.min(residualWindow, 2 * period)) return null;
  const center = median(residuals);
  const mad = median(residuals.map((residual) => Math.abs(residual - center)));
  // A quiet tenant's residuals can all be 0 (MAD 0): counts still vary by about their square root.
  const spread = Math.max(1.4826 * mad, Math.sqrt(Math.max(expected, 1)), 1e-9);
  const observed = values[index]!;
  const score = (observed - expected - center) / spread;
  return { observed, expected, score: Math.round(score * 100) / 100, severity: severityOf(score) };
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
