import { seededRandom } from '@saldo/service';
import { seasonalNaive } from './baselines.js';
import { FEATURE_COUNT, FEATURE_NAMES, MAX_HORIZON, MIN_MODEL_HISTORY, writeFeatures } from './features.js';
import { Forecaster, combineDay, rawForecasts, type Calibration, type RawForecast } from './forecaster.js';
import { AccuracyAccumulator, maseScale, quantile, type AccuracyReport } from './metrics.js';
import { QuantileNetwork } from './network.js';
import { tensorflowBackend } from './tensorflow.js';
import { HolidayCalendar, lastDay, type DailySeries } from './series.js';

export interface TrainingOptions {
  holidays?: HolidayCalendar;
  /** Training rows sampled over all series and origins (the budget that bounds training time). */
  maxRows?: number;
  epochs?: number;
  /** Extra epoch(s) over windows ending in the validation period, after calibration. */
  fineTuneEpochs?: number;
  batchSize?: number;
  learningRate?: number;
  hidden?: readonly number[];
  /** The last days held out to choose the combination and calibrate the ranges (rolling weekly origins). */
  validationDays?: number;
  seed?: number;
}

/** What one training run measured on its validation origins (1..7 days ahead), per method. */
export interface ValidationReport {
  /** The production forecaster (network and baseline combined as calibrated). */
  combined: AccuracyReport;
  /** The network alone (medians, calibrated ranges). */
  model: AccuracyReport;
  /** The weekday-profile x level forecast alone (profile.ts). */
  profile: AccuracyReport;
  median4: AccuracyReport;
  seasonalNaive: AccuracyReport;
}

export interface TrainingReport {
  backend: string;
  series: number;
  trainingRows: number;
  fineTuneRows: number;
  epochs: number;
  loss: number;
  /** Day numbers of the first and last day the run learned from. */
  window: { from: number; to: number };
  /** The day number validation started after (training targets end on it). */
  cutoff: number;
  validation: ValidationReport;
  calibration: Calibration;
  milliseconds: number;
}

/** The longest series must span this many days: a training window (14 + 14 days) and a validation week. */
export const MIN_TRAINING_DAYS = MIN_MODEL_HISTORY + MAX_HORIZON + 7;

export class TooLittleHistoryError extends Error {
  readonly code = 'INSUFFICIENT_HISTORY';
  constructor(longest: number) {
    super(`too little history to train a model: the longest series has ${longest} days with usage data, at least ${MIN_TRAINING_DAYS} are needed`);
    this.name = 'TooLittleHistoryError';
  }
}

const DEFAULTS = {
  maxRows: 120_000,
  epochs: 3,
  // No fine-tuning by default: the ranges are calibrated on the validation origins with exactly the network that is
  // served (a fine-tuned network drifted narrower: 77-78 % coverage instead of 80 % on the development backtest), and
  // the newest weeks reach the forecast through the profile and lag inputs anyway. The option stays for experiments.
  fineTuneEpochs: 0,
  batchSize: 512,
  learningRate: 0.003,
  hidden: [64, 32] as readonly number[],
  validationDays: 28,
  seed: 1,
};

/** Fewest gradient updates of a training run, whatever the data size. */
const MIN_STEPS = 300;

/**
 * The (network, profile) weights tried per horizon day, in quarters; network first so that ties keep the network.
 * The median of 4 same weekdays is not blended in any more: the profile forecast beat it on every development
 * backtest, and with it in the grid a small training set (a short CSV) sometimes picked it and forecast half the
 * old usage for a tenant that had stopped two weeks ago. It stays a reported baseline.
 */
const BLENDS: ReadonlyArray<readonly [number, number]> = [1, 0.75, 0.5, 0.25, 0].map((model) => [model, 1 - model] as const);
/** Points report 1..7 days ahead: the 7-day forecast the product promises. */
const REPORTED_HORIZON = 7;

/**
 * Trains a forecaster on daily series, all ending on (about) the same day:
 *  1. learns the global network on windows whose targets end before the last `validationDays` days;
 *  2. forecasts from weekly rolling origins in those days and picks, per horizon day, the weights of the network's
 *     median, the weekday-profile x level forecast and the median-of-4 baseline, and how far to widen the ranges
 *     to cover 80 %;
 *  3. optionally (`fineTuneEpochs`, off by default) fine-tunes on the most recent windows.
 * Tensors are created and disposed inside; the caller owns (and disposes) the returned forecaster.
 */
export async function trainForecaster(
  series: readonly DailySeries[],
  options: TrainingOptions = {},
): Promise<{ forecaster: Forecaster; report: TrainingReport }> {
  const started = performance.now();
  const settings = { ...DEFAULTS, ...options };
  const holidays = options.holidays ?? HolidayCalendar.none;
  const backend = await tensorflowBackend();
  const horizon = MAX_HORIZON;
  if (series.length === 0) throw new Error('no series to train on');
  const last = Math.max(...series.map(lastDay));
  const first = Math.min(...series.map((one) => one.start));
  const longest = Math.max(...series.map((one) => one.values.length));
  if (longest < MIN_TRAINING_DAYS) throw new TooLittleHistoryError(longest);
  // Short histories (a young platform, a small CSV) keep at least as many days for training as for validation.
  const validationDays = Math.min(settings.validationDays, Math.max(7, Math.floor((longest - MIN_MODEL_HISTORY - horizon) / 2)));
  const cutoff = last - validationDays;
  const random = seededRandom(settings.seed);

  const training = sampleRows(series, holidays, horizon, (one) => [MIN_MODEL_HISTORY - 1, cutoff - horizon - one.start], settings.maxRows, random);
  if (training.rows === 0) throw new TooLittleHistoryError(longest);
  const network = await QuantileNetwork.create({ features: FEATURE_COUNT, horizon, hidden: settings.hidden }, settings.seed);
  try {
    // Small data (a young platform, a short CSV) gets smaller batches and more epochs: at least MIN_STEPS updates.
    const batchSize = Math.min(settings.batchSize, Math.max(16, Math.floor(training.rows / 8)));
    const epochs = Math.min(200, Math.max(settings.epochs, Math.ceil(MIN_STEPS / Math.ceil(training.rows / batchSize))));
    let loss = await network.fit(training.x, training.y, training.rows, { ...settings, batchSize, epochs });

    const validation = validationPoints(network, holidays, series, cutoff, last);
    const calibration = calibrate(validation, horizon);
    const report = validationReport(validation, calibration);

    // Fine-tuning: windows whose targets reach into the validation period, plus as many older ones to keep balance.
    const recent = sampleRows(
      series,
      holidays,
      horizon,
      (one) => [Math.max(MIN_MODEL_HISTORY - 1, cutoff - horizon - one.start + 1), last - horizon - one.start],
      Math.floor(settings.maxRows / 4),
      random,
    );
    let fineTuneRows = 0;
    if (settings.fineTuneEpochs > 0 && recent.rows > 0) {
      const mixed = concatRows(recent, training, Math.min(training.rows, recent.rows), horizon);
      loss = await network.fit(mixed.x, mixed.y, mixed.rows, {
        ...settings,
        batchSize,
        epochs: Math.max(settings.fineTuneEpochs, Math.ceil(epochs / 4)),
        learningRate: settings.learningRate / 3,
      });
      fineTuneRows = mixed.rows;
    }

    const forecaster = new Forecaster(network, {
      formatVersion: 2,
      featureNames: FEATURE_NAMES,
      horizon,
      hidden: settings.hidden,
      holidays: holidays.toString(),
      calibration,
    });
    return {
      forecaster,
      report: {
        backend,
        series: series.length,
        trainingRows: training.rows,
        fineTuneRows,
        epochs,
        loss,
        window: { from: first, to: last },
        cutoff,
        validation: report,
        calibration,
        milliseconds: Math.round(performance.now() - started),
      },
    };
  } catch (error) {
    network.dispose();
    throw error;
  }
}

interface Rows {
  x: Float32Array;
  y: Float32Array;
  rows: number;
}

/**
 * Samples up to `budget` training windows: per series, random origins within `range(series)` (origin indexes,
 * inclusive), spread evenly over series. Each row's targets are the actuals minus the profile forecast, scaled by
 * the series' scale at the origin, and the row is weighted by its scale relative to the mean (capped at 10 x): the
 * pinball loss then weighs absolute errors in usage units, as the volume-weighted WAPE the product reports does
 * (on the development backtest this beat the earlier sqrt(scale) weighting slightly). All-zero windows carry no
 * information and are skipped.
 */
function sampleRows(
  series: readonly DailySeries[],
  holidays: HolidayCalendar,
  horizon: number,
  range: (series: DailySeries) => [number, number],
  budget: number,
  random: () => number,
): Rows {
  const candidates: Array<{ series: DailySeries; from: number; to: number }> = [];
  for (const one of series) {
    const [from, to] = range(one);
    const end = Math.min(to, one.values.length - 1 - horizon);
    if (end >= from) candidates.push({ series: one, from, to: end });
  }
  const perSeries = Math.max(1, Math.ceil(budget / Math.max(1, candidates.length)));
  const capacity = Math.min(
    budget,
    candidates.reduce((sum, one) => sum + Math.min(perSeries, one.to - one.from + 1), 0),
  );
  const x = new Float32Array(capacity * FEATURE_COUNT);
  const y = new Float32Array(capacity * (horizon + 1));
  let rows = 0;
  const weights: number[] = [];
  const profile = new Float64Array(MAX_HORIZON);
  for (const candidate of candidates) {
    const span = candidate.to - candidate.from + 1;
    const take = Math.min(perSeries, span);
    for (let pick = 0; pick < take && rows < capacity; pick += 1) {
      // Stratified: one origin per equal slice of the span, at a random place in it.
      const end = candidate.from + Math.floor(((pick + random()) * span) / take);
      const scale = writeFeatures(candidate.series, end, holidays, x, rows * FEATURE_COUNT, profile);
      if (scale <= 0) continue;
      const base = rows * (horizon + 1);
      // The network learns the correction to the profile forecast (residual learning; see network.ts).
      for (let h = 1; h <= horizon; h += 1) y[base + h - 1] = Math.min(candidate.series.values[end + h]! / scale, 50) - Math.min(profile[h - 1]! / scale, 50);
      weights.push(scale);
      rows += 1;
    }
  }
  const mean = weights.reduce((sum, weight) => sum + weight, 0) / Math.max(1, weights.length);
  weights.forEach((weight, row) => (y[row * (horizon + 1) + horizon] = Math.min(weight / mean, 10)));
  return { x, y, rows };
}

function concatRows(a: Rows, b: Rows, fromB: number, horizon: number): Rows {
  const rows = a.rows + fromB;
  const x = new Float32Array(rows * FEATURE_COUNT);
  const y = new Float32Array(rows * (horizon + 1));
  x.set(a.x.subarray(0, a.rows * FEATURE_COUNT));
  y.set(a.y.subarray(0, a.rows * (horizon + 1)));
  x.set(b.x.subarray(0, fromB * FEATURE_COUNT), a.rows * FEATURE_COUNT);
  y.set(b.y.subarray(0, fromB * (horizon + 1)), a.rows * (horizon + 1));
  return { x, y, rows };
}

/** One validation origin of one series, with its actuals. */
export interface ValidationPoint {
  series: DailySeries;
  end: number;
  raw: RawForecast;
  maseScale: number;
}

/** Forecasts from weekly origins cutoff, cutoff + 7, ... (as long as a target day is left) for every series. */
function validationPoints(
  network: QuantileNetwork,
  holidays: HolidayCalendar,
  series: readonly DailySeries[],
  cutoff: number,
  last: number,
): ValidationPoint[] {
  const items: Array<{ series: DailySeries; end: number }> = [];
  for (let origin = cutoff; origin < last; origin += 7) {
    for (const one of series) {
      const end = origin - one.start;
      if (end >= MIN_MODEL_HISTORY - 1 && end < one.values.length - 1) items.push({ series: one, end });
    }
  }
  const raw = rawForecasts(network, holidays, items);
  return items.map((item, index) => ({ ...item, raw: raw[index]!, maseScale: maseScale(item.series.values, item.end) }));
}

/** Calls `visit(h, actual)` for every horizon day of a point that has an actual. */
function eachTarget(point: ValidationPoint, horizon: number, visit: (h: number, actual: number) => void): void {
  const available = Math.min(horizon, point.series.values.length - 1 - point.end);
  for (let h = 1; h <= available; h += 1) visit(h, point.series.values[point.end + h]!);
}

/** Per horizon day: the blend weight with the lowest absolute error, then range multipliers that cover 80 %. */
function calibrate(points: readonly ValidationPoint[], horizon: number): Calibration {
  const calibration: Calibration = { modelWeight: [], profileWeight: [], lowerScale: [], upperScale: [], fallbackLower: [], fallbackUpper: [] };
  for (let h = 1; h <= horizon; h += 1) {
    const errors = BLENDS.map(() => 0);
    const fallbackResiduals: number[] = [];
    const usable = points.filter((point) => point.end + h < point.series.values.length);
    for (const point of usable) {
      const actual = point.series.values[point.end + h]!;
      const { raw } = point;
      if (raw.scale > 0) fallbackResiduals.push((actual - raw.baseline[h - 1]!) / raw.scale);
      if (!raw.modelled) continue;
      const q50 = raw.q50[h - 1]!;
      const profile = raw.profile[h - 1]!;
      const baseline = raw.baseline[h - 1]!;
      BLENDS.forEach(([model, share], index) => (errors[index]! += Math.abs(actual - (model * q50 + share * profile + (1 - model - share) * baseline))));
    }
    const [model, share] = BLENDS[errors.indexOf(Math.min(...errors))] ?? [1, 0];
    calibration.modelWeight.push(model);
    calibration.profileWeight.push(share);
    calibration.fallbackLower.push(clamp(quantile(fallbackResiduals, 0.1), -5, 0, -0.5));
    calibration.fallbackUpper.push(clamp(quantile(fallbackResiduals, 0.9), 0, 10, 0.5));
    // The multiplier that leaves 10 % of validation actuals below (above) the range, within sane bounds, measured
    // with the same spreads combineDay uses (so the multiplier 1 is what the uncalibrated spreads give).
    calibration.lowerScale.push(1);
    calibration.upperScale.push(1);
    const lowRatios: number[] = [];
    const highRatios: number[] = [];
    for (const point of usable) {
      if (!point.raw.modelled) continue;
      const actual = point.series.values[point.end + h]!;
      const day = combineDay(point.raw, calibration, h);
      lowRatios.push((day.quantity - actual) / Math.max(day.quantity - day.lower, 1e-9));
      highRatios.push((actual - day.quantity) / Math.max(day.upper - day.quantity, 1e-9));
    }
    calibration.lowerScale[h - 1] = clamp(quantile(lowRatios, 0.9), 0.3, 6, 1);
    calibration.upperScale[h - 1] = clamp(quantile(highRatios, 0.9), 0.3, 6, 1);
  }
  return calibration;
}

function clamp(value: number, min: number, max: number, fallback: number): number {
  if (!Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, value));
}

function validationReport(points: readonly ValidationPoint[], calibration: Calibration): ValidationReport {
  const combined = new AccuracyAccumulator();
  const model = new AccuracyAccumulator();
  const profile = new AccuracyAccumulator();
  const median4 = new AccuracyAccumulator();
  const naive = new AccuracyAccumulator();
  const modelOnly: Calibration = { ...calibration, modelWeight: calibration.modelWeight.map(() => 1), profileWeight: calibration.profileWeight.map(() => 0) };
  for (const point of points) {
    eachTarget(point, REPORTED_HORIZON, (h, actual) => {
      const id = point.series.id;
      const day = combineDay(point.raw, calibration, h);
      combined.add(id, point.maseScale, actual, day.quantity, day.lower, day.upper);
      const alone = combineDay(point.raw, modelOnly, h);
      model.add(id, point.maseScale, actual, alone.quantity, alone.lower, alone.upper);
      const spreadLow = (calibration.fallbackLower[h - 1] ?? -0.5) * point.raw.scale;
      const spreadHigh = (calibration.fallbackUpper[h - 1] ?? 0.5) * point.raw.scale;
      const pf = point.raw.profile[h - 1]!;
      profile.add(id, point.maseScale, actual, pf, Math.max(0, pf + spreadLow), pf + spreadHigh);
      const m4 = point.raw.baseline[h - 1]!;
      median4.add(id, point.maseScale, actual, m4, Math.max(0, m4 + spreadLow), m4 + spreadHigh);
      const sn = seasonalNaive(point.series.values, point.end, h);
      naive.add(id, point.maseScale, actual, sn, Math.max(0, sn + spreadLow), sn + spreadHigh);
    });
  }
  return { combined: combined.report(), model: model.report(), profile: profile.report(), median4: median4.report(), seasonalNaive: naive.report() };
}
