import { fields, parseConfig, z, type Env } from '@saldo/config';
import { subgraphConfigSchema } from '@saldo/subgraph';
import { HolidayCalendar } from './forecasting/index.js';

const ratio = (fallback: number) => z.coerce.number().positive().default(fallback);

/** Forecasting, anomaly, fraud and drift settings on top of the shared subgraph settings. */
export const usageForecastConfigSchema = subgraphConfigSchema.extend({
  /** Seconds between scheduled retrainings of the forecast model (also retrained at start when none exists, and on drift). */
  MODEL_UPDATE_INTERVAL: fields.positiveInt(3600),
  /** How often each instance checks the registry's active version (hot swap), in milliseconds. */
  MODEL_POLL_INTERVAL_MS: fields.positiveInt(5000),
  /** Days of usage history a training run learns from. */
  FORECAST_HISTORY_DAYS: fields.positiveInt(180),
  /** Training windows sampled per run (bounds training time) and epochs. */
  FORECAST_TRAINING_ROWS: fields.positiveInt(120_000),
  FORECAST_TRAINING_EPOCHS: fields.positiveInt(3),
  /** Holidays the model knows: `2026-12-25,DE:2026-10-03` (plain days everywhere; `CC:` days for one country). */
  FORECAST_HOLIDAYS: z
    .string()
    .default('')
    .superRefine((value, context) => {
      try {
        HolidayCalendar.parse(value);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  /** forecast.depletion_soon is published when the balance is forecast to run out within this many days. */
  DEPLETION_WARNING_DAYS: fields.positiveInt(7),
  /** The most units one tenant can use in an hour: "new tenant at the maximum rate" is measured against it. */
  FRAUD_MAX_HOURLY_UNITS: fields.positiveInt(600),
  /** Drift: flag when the rolling 24 h WAPE exceeds validation WAPE x DRIFT_ERROR_RATIO + DRIFT_CHECK_THRESHOLD ... */
  DRIFT_ERROR_RATIO: ratio(1.5),
  DRIFT_CHECK_THRESHOLD: ratio(0.15),
  /** ... or the forecasts are off in one direction by more than this share (sum actual / sum forecast - 1) ... */
  DRIFT_BIAS_THRESHOLD: ratio(0.2),
  /** ... or the inputs' PSI exceeds DRIFT_PSI_THRESHOLD, in DRIFT_CONSECUTIVE_CHECKS hourly checks in a row. */
  DRIFT_PSI_THRESHOLD: ratio(0.25),
  DRIFT_CONSECUTIVE_CHECKS: fields.positiveInt(2),
});
export type UsageForecastConfig = z.output<typeof usageForecastConfigSchema>;

export function loadUsageForecastConfig(env: Env): UsageForecastConfig {
  return parseConfig('usage-forecast', usageForecastConfigSchema, env);
}
