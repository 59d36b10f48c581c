// The forecasting capability's public surface: plain domain code (no database, no GraphQL), shared by the
// subgraph's services, the offline CLI (`pnpm -s forecast`) and the backtest (`pnpm forecast:backtest`).
export { HolidayCalendar, lastDay, seriesFromDays, truncateSeries, type DailySeries } from './series.js';
export { FEATURE_NAMES, LAGS, MAX_HORIZON, MIN_MODEL_HISTORY, seriesScale } from './features.js';
export { PROFILE_DAYS, profileForecast } from './profile.js';
export { BASELINES, baselineForecast, median4, seasonalNaive, type Baseline } from './baselines.js';
export { AccuracyAccumulator, maseScale, quantile, type AccuracyReport } from './metrics.js';
export { QUANTILES, type SerializedNetwork } from './network.js';
export {
  BASELINE_CALIBRATION,
  Forecaster,
  baselineForecasts,
  type Calibration,
  type ForecasterSpec,
  type SerializedForecaster,
  type SeriesForecast,
} from './forecaster.js';
export { MIN_TRAINING_DAYS, TooLittleHistoryError, trainForecaster, type TrainingOptions, type TrainingReport, type ValidationReport } from './train.js';
export { backtest, type BacktestOptions, type BacktestResult } from './backtest.js';
export { syntheticUsage, gaussian, poisson, type SyntheticData, type SyntheticOptions } from './synthetic.js';
export { CsvError, FORECAST_HEADER, HISTORY_HEADER, formatForecastCsv, parseHistoryCsv, type CsvProblem } from './csv.js';
export { tensorflowBackend } from './tensorflow.js';
