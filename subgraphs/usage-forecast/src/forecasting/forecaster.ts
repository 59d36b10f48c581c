import { median4 } from './baselines.js';
import { FEATURE_COUNT, FEATURE_NAMES, MAX_HORIZON, MIN_MODEL_HISTORY, lagValue, writeFeatures } from './features.js';
import { profileForecast } from './profile.js';
import { QuantileNetwork, type NetworkShape, type SerializedNetwork } from './network.js';
import { HolidayCalendar, lastDay, type DailySeries } from './series.js';

/** A forecast of one series: `horizon` days from `start` (the day after its origin). */
export interface SeriesForecast {
  id: string;
  /** Day number of the first forecast day. */
  start: number;
  /** Point forecast (median) per day. */
  quantity: Float64Array;
  /** The 80 % range per day. */
  lower: Float64Array;
  upper: Float64Array;
}

/**
 * How the network's medians, the weekday-profile x level forecast and the median-of-4-same-weekdays baseline are
 * combined, and how wide the ranges are, per horizon day: chosen on the training run's validation origins (train.ts).
 */
export interface Calibration {
  /** Weight of the network's median per horizon day. */
  modelWeight: number[];
  /** Weight of the weekday-profile x level forecast per horizon day (1 - both weights go to the median of 4). */
  profileWeight: number[];
  /** Multipliers of the network's lower / upper half-widths that made the validation ranges cover 80 %. */
  lowerScale: number[];
  upperScale: number[];
  /** For series too short for the network: scaled residual quantiles (10 %, 90 %) of the fallback per day. */
  fallbackLower: number[];
  fallbackUpper: number[];
}

/** Everything but the weights that a model version needs to forecast exactly as it was evaluated. */
export interface ForecasterSpec {
  /** 2: features and combination with the weekday-profile x level forecast (1 had neither). */
  formatVersion: 2;
  featureNames: readonly string[];
  horizon: number;
  hidden: readonly number[];
  holidays: string;
  calibration: Calibration;
}

export interface SerializedForecaster {
  spec: ForecasterSpec;
  network: SerializedNetwork;
}

/** Raw per-(series, origin) outputs before combination: what training and evaluation also need. */
export interface RawForecast {
  /** Scale of the series at the origin (0: all-zero history). */
  scale: number;
  /** True when the series was long enough for the network. */
  modelled: boolean;
  /** Per horizon day: network quantiles (unscaled; zero when not modelled), the profile forecast and the baseline. */
  q10: Float64Array;
  q50: Float64Array;
  q90: Float64Array;
  profile: Float64Array;
  baseline: Float64Array;
}

/**
 * The production forecaster: one global network plus its calibration. `forecast` is the only path from history
 * to numbers — used by the GraphQL fields, the background jobs, the CLI and the backtest alike.
 */
export class Forecaster {
  readonly holidays: HolidayCalendar;

  constructor(
    readonly network: QuantileNetwork,
    readonly spec: ForecasterSpec,
  ) {
    this.holidays = HolidayCalendar.parse(spec.holidays);
  }

  static shape(spec: Pick<ForecasterSpec, 'horizon' | 'hidden'>): NetworkShape {
    return { features: FEATURE_COUNT, horizon: spec.horizon, hidden: spec.hidden };
  }

  static async load(serialized: SerializedForecaster): Promise<Forecaster> {
    const { spec } = serialized;
    if (spec.formatVersion !== 2) throw new Error(`unknown forecaster format ${String(spec.formatVersion)}`);
    if (spec.featureNames.join(',') !== FEATURE_NAMES.join(',')) throw new Error('the stored model was trained on other features than this code builds');
    return new Forecaster(await QuantileNetwork.load(serialized.network, Forecaster.shape(spec)), spec);
  }

  async serialize(): Promise<SerializedForecaster> {
    return { spec: this.spec, network: await this.network.serialize() };
  }

  dispose(): void {
    this.network.dispose();
  }

  /** Forecasts `days` days after each series' last day. */
  forecast(series: readonly DailySeries[], days: number): SeriesForecast[] {
    return this.forecastAt(
      series.map((one) => ({ series: one, end: one.values.length - 1 })),
      days,
    );
  }

  /** Forecasts `days` days after origin index `end` of each item (the backtest's rolling origins). */
  forecastAt(items: ReadonlyArray<{ series: DailySeries; end: number }>, days: number): SeriesForecast[] {
    const raw = rawForecasts(this.network, this.holidays, items);
    return items.map((item, index) => combine(item.series, item.end, raw[index]!, this.spec.calibration, days));
  }
}

/** Runs the network over every item long enough for it (one batched call) and computes the baseline. */
export function rawForecasts(network: QuantileNetwork, holidays: HolidayCalendar, items: ReadonlyArray<{ series: DailySeries; end: number }>): RawForecast[] {
  const horizon = network.shape.horizon;
  const modelled = items.map((item) => item.end + 1 >= MIN_MODEL_HISTORY);
  const rows = modelled.filter(Boolean).length;
  const x = new Float32Array(rows * FEATURE_COUNT);
  const scales = new Float64Array(items.length);
  const profiles = items.map((_, index) => (modelled[index] ? new Float64Array(MAX_HORIZON) : undefined));
  let row = 0;
  items.forEach((item, index) => {
    if (modelled[index]) {
      scales[index] = writeFeatures(item.series, item.end, holidays, x, row * FEATURE_COUNT, profiles[index]);
      row += 1;
    }
  });
  const predicted = rows > 0 ? network.predict(x, rows) : new Float32Array(0);
  row = 0;
  return items.map((item, index) => {
    const q10 = new Float64Array(horizon);
    const q50 = new Float64Array(horizon);
    const q90 = new Float64Array(horizon);
    const baseline = new Float64Array(horizon);
    for (let h = 1; h <= horizon; h += 1) baseline[h - 1] = shortOrMedian4(item.series.values, item.end, h);
    if (!modelled[index]) return { scale: fallbackScale(item.series.values, item.end), modelled: false, q10, q50, q90, profile: baseline, baseline };
    const profile = profiles[index]!.subarray(0, horizon);
    const scale = scales[index]!;
    const base = row * horizon * 3;
    row += 1;
    // The network predicts scaled corrections to the profile forecast.
    for (let h = 0; h < horizon; h += 1) {
      const anchor = scale > 0 ? Math.min(profile[h]! / scale, 50) : 0;
      q10[h] = Math.max(0, (anchor + predicted[base + h * 3]!) * scale);
      q50[h] = Math.max(0, (anchor + predicted[base + h * 3 + 1]!) * scale);
      q90[h] = Math.max(0, (anchor + predicted[base + h * 3 + 2]!) * scale);
    }
    // Extreme inputs (values near the float limits in a CSV) must not reach anyone as NaN: the fallback serves them.
    if (!q10.every(Number.isFinite) || !q50.every(Number.isFinite) || !q90.every(Number.isFinite)) {
      return { scale: fallbackScale(item.series.values, item.end), modelled: false, q10, q50, q90, profile: baseline, baseline };
    }
    return { scale, modelled: true, q10, q50, q90, profile, baseline };
  });
}

/**
 * Until a model version is active (a fresh installation trains in the background): the weekday profile x level
 * forecast (the best single method on the backtest) for series of two weeks or more, the short-history fallback
 * below that, with ranges of +-35 % of the series' scale (a typical 80 % spread of daily usage). The same combination
 * code as a model's short-history fallback.
 */
export const BASELINE_CALIBRATION: Calibration = {
  modelWeight: [],
  profileWeight: [],
  lowerScale: [],
  upperScale: [],
  fallbackLower: Array.from({ length: MAX_HORIZON }, () => -0.35),
  fallbackUpper: Array.from({ length: MAX_HORIZON }, () => 0.35),
};

export function baselineForecasts(series: readonly DailySeries[], days: number): SeriesForecast[] {
  return series.map((one) => {
    const end = one.values.length - 1;
    const baseline = new Float64Array(MAX_HORIZON);
    if (end + 1 >= MIN_MODEL_HISTORY) profileForecast(one, end, HolidayCalendar.none, MAX_HORIZON, baseline);
    else for (let h = 1; h <= MAX_HORIZON; h += 1) baseline[h - 1] = shortOrMedian4(one.values, end, h);
    const empty = new Float64Array(MAX_HORIZON);
    const raw: RawForecast = { scale: fallbackScale(one.values, end), modelled: false, q10: empty, q50: empty, q90: empty, profile: baseline, baseline };
    return combine(one, end, raw, BASELINE_CALIBRATION, days);
  });
}

/** Median of 4 same weekdays with enough history; the mean of what there is otherwise (new tenants). */
function shortOrMedian4(values: ArrayLike<number>, end: number, h: number): number {
  if (end + 1 >= 28) return median4(values, end, h);
  if (end + 1 >= 7) return lagValue(values, end, 7 - (((h - 1) % 7) + 1));
  let sum = 0;
  for (let index = 0; index <= end; index += 1) sum += values[index]!;
  return end >= 0 ? sum / (end + 1) : 0;
}

function fallbackScale(values: ArrayLike<number>, end: number): number {
  let sum = 0;
  for (let index = 0; index <= end; index += 1) sum += values[index]!;
  return end >= 0 ? sum / (end + 1) : 0;
}

/**
 * The combined point forecast and calibrated range for horizon day h (1-based, at most the network's horizon).
 * Exported for training, which calibrates with exactly this arithmetic.
 */
export function combineDay(raw: RawForecast, calibration: Calibration, h: number): { quantity: number; lower: number; upper: number } {
  const i = h - 1;
  if (!raw.modelled) {
    const quantity = raw.baseline[i]!;
    return {
      quantity,
      lower: Math.max(0, quantity + (calibration.fallbackLower[i] ?? -0.5) * raw.scale),
      upper: Math.max(quantity, quantity + (calibration.fallbackUpper[i] ?? 0.5) * raw.scale),
    };
  }
  const weight = calibration.modelWeight[i] ?? 1;
  const profileWeight = calibration.profileWeight[i] ?? 0;
  const quantity = weight * raw.q50[i]! + profileWeight * raw.profile[i]! + (1 - weight - profileWeight) * raw.baseline[i]!;
  // The network's spread, but never narrower than a quarter of the baseline's measured spread: an undertrained
  // network (little data) may collapse its quantiles, and a zero-width range is never honest.
  const floorBelow = -0.25 * (calibration.fallbackLower[i] ?? -0.5) * raw.scale;
  const floorAbove = 0.25 * (calibration.fallbackUpper[i] ?? 0.5) * raw.scale;
  const below = Math.max(floorBelow, raw.q50[i]! - raw.q10[i]!) * (calibration.lowerScale[i] ?? 1);
  const above = Math.max(floorAbove, raw.q90[i]! - raw.q50[i]!) * (calibration.upperScale[i] ?? 1);
  return { quantity, lower: Math.max(0, quantity - below), upper: quantity + above };
}

/**
 * Days beyond the network's horizon repeat the forecast of the same weekday in its last week, with the range
 * widened by sqrt(h / h') (uncertainty grows with the distance; usage stays weekly).
 */
function combine(series: DailySeries, end: number, raw: RawForecast, calibration: Calibration, days: number): SeriesForecast {
  const horizon = raw.q50.length;
  const quantity = new Float64Array(days);
  const lower = new Float64Array(days);
  const upper = new Float64Array(days);
  for (let h = 1; h <= days; h += 1) {
    const source = h <= horizon ? h : horizon - 6 + ((h - horizon - 1) % 7);
    const day = combineDay(raw, calibration, source);
    const widen = Math.sqrt(h / source);
    quantity[h - 1] = day.quantity;
    lower[h - 1] = Math.max(0, day.quantity - (day.quantity - day.lower) * widen);
    upper[h - 1] = day.quantity + (day.upper - day.quantity) * widen;
  }
  return { id: series.id, start: series.start + end + 1, quantity, lower, upper };
}

export { MAX_HORIZON, lastDay };
