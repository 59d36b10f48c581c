import { weekdayOf } from '../domain/days.js';
import { profileForecast } from './profile.js';
import type { DailySeries, HolidayCalendar } from './series.js';

/** Days the model forecasts directly from one origin; later days continue the last forecast week. */
export const MAX_HORIZON = 14;
/** Past days the model sees as lags (four weeks). */
export const LAGS = 28;
/** A series needs this many days before the model forecasts it; shorter ones get the short-history fallback. */
export const MIN_MODEL_HISTORY = 14;

const STATS = 6;
/** Layout of one feature row; `FEATURE_NAMES` documents it and is stored with every model version. */
const OFFSET = {
  lags: 0,
  sameWeekday: LAGS,
  stats: LAGS + 7,
  weekday: LAGS + 7 + STATS,
  targetHolidays: LAGS + 7 + STATS + 7,
  lagHolidays: LAGS + 7 + STATS + 7 + MAX_HORIZON,
  profile: LAGS + 7 + STATS + 7 + MAX_HORIZON + 14,
} as const;
export const FEATURE_COUNT = OFFSET.profile + MAX_HORIZON + 1;

export const FEATURE_NAMES: readonly string[] = [
  ...Array.from({ length: LAGS }, (_, k) => `lag_${k + 1}`),
  ...Array.from({ length: 7 }, (_, h) => `same_weekday_median4_h${h + 1}`),
  'mean_7',
  'std_28',
  'zero_share_28',
  'max_28',
  'mean_8_28',
  'log_scale',
  ...['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => `next_day_is_${day}`),
  ...Array.from({ length: MAX_HORIZON }, (_, h) => `holiday_h${h + 1}`),
  ...Array.from({ length: 14 }, (_, k) => `holiday_lag_${k + 1}`),
  ...Array.from({ length: MAX_HORIZON }, (_, h) => `weekday_profile_x_level_h${h + 1}`),
  'profile_level',
];

const scratch = new Float64Array(MAX_HORIZON);

/** A single lag above this many times the series' scale is clipped: one freak day must not dominate the input. */
const CLIP = 25;

/**
 * The per-series scale: the mean of the last four weeks without their two largest days (robust: one freak day of
 * 10^9 in a CSV must not shrink every other input to zero), else their plain mean, else the whole history's. The
 * model sees and predicts usage divided by it, so one global model serves tenants of any size. 0 for an all-zero
 * series.
 */
export function seriesScale(values: ArrayLike<number>, end: number): number {
  let sum = 0;
  let count = 0;
  let largest = 0;
  let second = 0;
  for (let index = Math.max(0, end - LAGS + 1); index <= end; index += 1) {
    const value = values[index]!;
    sum += value;
    count += 1;
    if (value > largest) {
      second = largest;
      largest = value;
    } else if (value > second) second = value;
  }
  if (count >= 14 && sum - largest - second > 0) return (sum - largest - second) / (count - 2);
  if (sum > 0) return sum / count;
  let total = 0;
  for (let index = 0; index <= end; index += 1) total += values[index]!;
  return total > 0 ? total / (end + 1) : 0;
}

/**
 * The value `back` days before index `end` (0 = the day at `end`). Before the series began, the same weekday of
 * the earliest observed week stands in (a seasonal fill), so short histories still give a full lag window.
 */
export function lagValue(values: ArrayLike<number>, end: number, back: number): number {
  let index = end - back;
  while (index < 0) index += 7;
  return values[Math.min(index, end)]!;
}

/** The median of four numbers: the mean of the two middle ones (no array, no sort: it runs millions of times). */
function median4(a: number, b: number, c: number, d: number): number {
  const low1 = Math.min(a, b);
  const high1 = Math.max(a, b);
  const low2 = Math.min(c, d);
  const high2 = Math.max(c, d);
  return (Math.max(low1, low2) + Math.min(high1, high2)) / 2;
}

/** Median of the last four values on the weekday of `end + h` (h >= 1), a strong baseline and a feature. */
export function sameWeekdayMedian(values: ArrayLike<number>, end: number, h: number): number {
  const step = ((h - 1) % 7) + 1;
  const first = 7 - step;
  return median4(lagValue(values, end, first), lagValue(values, end, first + 7), lagValue(values, end, first + 14), lagValue(values, end, first + 21));
}

/**
 * Writes the feature row of `series` at origin index `end` (the last observed day) into `out` at `offset`;
 * returns the series' scale (0 for an all-zero history, in which case the row is all zeros but calendar fields).
 * `profile` receives the unscaled "weekday profile x level" forecast of the MAX_HORIZON days (a feature and one of
 * the methods the forecaster combines), so it is computed once per row.
 */
export function writeFeatures(series: DailySeries, end: number, holidays: HolidayCalendar, out: Float32Array, offset: number, profile?: Float64Array): number {
  const values = series.values;
  const scale = seriesScale(values, end);
  const inverse = scale > 0 ? 1 / scale : 0;
  let sum7 = 0;
  let sum28 = 0;
  let sumSquares = 0;
  let zeros = 0;
  let max = 0;
  for (let back = 0; back < LAGS; back += 1) {
    const value = lagValue(values, end, back);
    out[offset + OFFSET.lags + back] = Math.min(value * inverse, CLIP);
    if (back < 7) sum7 += value;
    sum28 += value;
    sumSquares += value * value;
    if (value === 0) zeros += 1;
    if (value > max) max = value;
  }
  for (let h = 1; h <= 7; h += 1) out[offset + OFFSET.sameWeekday + h - 1] = Math.min(sameWeekdayMedian(values, end, h) * inverse, CLIP);
  const mean28 = sum28 / LAGS;
  const std28 = Math.sqrt(Math.max(0, sumSquares / LAGS - mean28 * mean28));
  const stats = offset + OFFSET.stats;
  out[stats] = Math.min((sum7 / 7) * inverse, CLIP);
  out[stats + 1] = Math.min(std28 * inverse, CLIP);
  out[stats + 2] = zeros / LAGS;
  out[stats + 3] = Math.min(max * inverse, CLIP);
  out[stats + 4] = Math.min(((sum28 - sum7) / 21) * inverse, CLIP);
  out[stats + 5] = Math.log1p(scale) / 8;

  const lastDay = series.start + end;
  for (let day = 0; day < 7; day += 1) out[offset + OFFSET.weekday + day] = 0;
  out[offset + OFFSET.weekday + weekdayOf(lastDay + 1)] = 1;
  for (let h = 1; h <= MAX_HORIZON; h += 1) out[offset + OFFSET.targetHolidays + h - 1] = holidays.isHoliday(lastDay + h, series.group) ? 1 : 0;
  for (let back = 0; back < 14; back += 1) out[offset + OFFSET.lagHolidays + back] = holidays.isHoliday(lastDay - back, series.group) ? 1 : 0;
  const forecast = profile ?? scratch;
  const level = profileForecast(series, end, holidays, MAX_HORIZON, forecast);
  for (let h = 0; h < MAX_HORIZON; h += 1) out[offset + OFFSET.profile + h] = Math.min(forecast[h]! * inverse, CLIP);
  out[offset + OFFSET.profile + MAX_HORIZON] = Math.min(level * inverse, CLIP);
  return scale;
}
