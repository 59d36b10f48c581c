import { seasonalNaive } from './baselines.js';
import { MIN_MODEL_HISTORY } from './features.js';
import { combineDay, rawForecasts, type Calibration } from './forecaster.js';
import { AccuracyAccumulator, maseScale, type AccuracyReport } from './metrics.js';
import { lastDay, truncateSeries, type DailySeries } from './series.js';
import { trainForecaster, type TrainingOptions, type TrainingReport } from './train.js';

export interface BacktestOptions {
  /** Days at the end the training never sees; forecasts start from weekly origins inside them. */
  holdoutDays?: number;
  /** Days ahead evaluated from each origin. */
  horizon?: number;
  training?: TrainingOptions;
}

export interface BacktestResult {
  /** What production serves: the network combined with the baseline as its training run calibrated. */
  forecaster: AccuracyReport;
  /** The network's own medians and ranges. */
  model: AccuracyReport;
  /** The weekday-profile x level forecast alone. */
  profile: AccuracyReport;
  median4: AccuracyReport;
  seasonalNaive: AccuracyReport;
  origins: number;
  training: TrainingReport;
}

/**
 * Rolling-origin backtest on held-out data: trains on everything before the last `holdoutDays` days (exactly as
 * production trains), then forecasts `horizon` days from every weekly origin in the holdout and scores the
 * forecaster, the network alone and both baselines on the same points. Baselines get 80 % ranges from the
 * scaled residual quantiles the training run measured, so coverage compares like with like.
 */
export async function backtest(series: readonly DailySeries[], options: BacktestOptions = {}): Promise<BacktestResult> {
  const holdoutDays = options.holdoutDays ?? 28;
  const horizon = options.horizon ?? 7;
  const last = Math.max(...series.map(lastDay));
  const cutoff = last - holdoutDays;
  const training = series.flatMap((one) => truncateSeries(one, cutoff) ?? []);
  const { forecaster, report } = await trainForecaster(training, options.training);
  try {
    const calibration = forecaster.spec.calibration;
    const modelOnly: Calibration = { ...calibration, modelWeight: calibration.modelWeight.map(() => 1), profileWeight: calibration.profileWeight.map(() => 0) };
    const accumulators = {
      forecaster: new AccuracyAccumulator(),
      model: new AccuracyAccumulator(),
      profile: new AccuracyAccumulator(),
      median4: new AccuracyAccumulator(),
      seasonalNaive: new AccuracyAccumulator(),
    };
    let origins = 0;
    for (let origin = cutoff; origin < last; origin += 7) {
      origins += 1;
      const items = series.flatMap((one) => {
        const end = origin - one.start;
        return end >= MIN_MODEL_HISTORY - 1 && end < one.values.length - 1 ? [{ series: one, end }] : [];
      });
      const raws = rawForecasts(forecaster.network, forecaster.holidays, items);
      items.forEach((item, index) => {
        const raw = raws[index]!;
        const scale = maseScale(item.series.values, item.end);
        const available = Math.min(horizon, item.series.values.length - 1 - item.end);
        for (let h = 1; h <= available; h += 1) {
          const actual = item.series.values[item.end + h]!;
          const id = item.series.id;
          const combined = combineDay(raw, calibration, h);
          accumulators.forecaster.add(id, scale, actual, combined.quantity, combined.lower, combined.upper);
          const alone = combineDay(raw, modelOnly, h);
          accumulators.model.add(id, scale, actual, alone.quantity, alone.lower, alone.upper);
          const low = (calibration.fallbackLower[h - 1] ?? -0.5) * raw.scale;
          const high = (calibration.fallbackUpper[h - 1] ?? 0.5) * raw.scale;
          const pf = raw.profile[h - 1]!;
          accumulators.profile.add(id, scale, actual, pf, Math.max(0, pf + low), pf + high);
          const m4 = raw.baseline[h - 1]!;
          accumulators.median4.add(id, scale, actual, m4, Math.max(0, m4 + low), m4 + high);
          const sn = seasonalNaive(item.series.values, item.end, h);
          accumulators.seasonalNaive.add(id, scale, actual, sn, Math.max(0, sn + low), sn + high);
        }
      });
    }
    return {
      forecaster: accumulators.forecaster.report(),
      model: accumulators.model.report(),
      profile: accumulators.profile.report(),
      median4: accumulators.median4.report(),
      seasonalNaive: accumulators.seasonalNaive.report(),
      origins,
      training: report,
    };
  } finally {
    forecaster.dispose();
  }
}
