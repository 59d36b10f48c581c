import { lagValue, sameWeekdayMedian } from './features.js';

/** The strong simple baselines the model must beat (or be combined with). */
export const BASELINES = ['seasonal_naive', 'median4'] as const;
export type Baseline = (typeof BASELINES)[number];

/** Seasonal naive: the value of the same weekday in the last observed week. */
export function seasonalNaive(values: ArrayLike<number>, end: number, h: number): number {
  const step = ((h - 1) % 7) + 1;
  return lagValue(values, end, 7 - step);
}

/** Median of the last four same weekdays. */
export function median4(values: ArrayLike<number>, end: number, h: number): number {
  return sameWeekdayMedian(values, end, h);
}

export function baselineForecast(baseline: Baseline, values: ArrayLike<number>, end: number, h: number): number {
  return baseline === 'seasonal_naive' ? seasonalNaive(values, end, h) : median4(values, end, h);
}
