import type { DailySeries, SeriesForecast } from '../forecasting/index.js';
import { bias, psi, trendInput, wape, type DriftObservation, type PsiReference } from './drift.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** One tenant's data for a drift check of the 24 hours ending at `windowEnd`. */
export interface DriftTenantData {
  /** Daily usage up to the day before the window starts (the forecasts' origin), and later days if complete. */
  daily: DailySeries;
  /** Usage per hour of the window (24 values, oldest first). */
  window: ArrayLike<number>;
  /** The tenant's share of a day's usage per UTC hour (24 values summing to 1), from its recent history. */
  hourShares: ArrayLike<number>;
}

/** What a forecaster must offer the monitor: forecasts from chosen origins. */
export interface DriftForecaster {
  forecastAt(items: ReadonlyArray<{ series: DailySeries; end: number }>, days: number): SeriesForecast[];
}

/**
 * The rolling error and input PSI of a model for the 24 hours ending at `windowEnd` (a whole hour): each tenant's
 * forecasts for the window's two UTC days are made ex ante (from the day before the window starts), spread over
 * hours by its hour-of-day shares, summed over the window's hours and compared with what it used.
 */
export function observeDrift(
  model: DriftForecaster,
  reference: PsiReference,
  tenants: readonly DriftTenantData[],
  windowEnd: Date,
): DriftObservation & { tenants: number } {
  const end = Math.floor(windowEnd.getTime() / HOUR_MS) * HOUR_MS;
  const start = end - DAY_MS;
  const firstDay = Math.floor(start / DAY_MS);
  const origin = firstDay - 1;
  const usable = tenants.filter((tenant) => origin - tenant.daily.start >= 13);
  const forecasts = model.forecastAt(
    usable.map((tenant) => ({ series: tenant.daily, end: origin - tenant.daily.start })),
    2,
  );
  const pairs = usable.map((tenant, index) => {
    const forecast = forecasts[index]!;
    let expected = 0;
    let actual = 0;
    for (let hour = 0; hour < 24; hour += 1) {
      const at = start + hour * HOUR_MS;
      const day = Math.floor(at / DAY_MS) - firstDay;
      expected += forecast.quantity[day]! * tenant.hourShares[new Date(at).getUTCHours()]!;
      actual += tenant.window[hour]!;
    }
    return { actual, forecast: expected };
  });
  // The input distribution: the trend input over the latest complete days each tenant's series has.
  const trends = usable.map((tenant) => {
    const values = tenant.daily.values;
    const last = values.length - 1;
    let last7 = 0;
    let previous21 = 0;
    for (let back = 0; back < 28 && last - back >= 0; back += 1) {
      if (back < 7) last7 += values[last - back]!;
      else previous21 += values[last - back]!;
    }
    return trendInput(last7, previous21);
  });
  return {
    rollingWape: Math.round(wape(pairs) * 10_000) / 10_000,
    bias: Math.round(bias(pairs) * 10_000) / 10_000,
    psi: psi(reference, trends),
    tenants: usable.length,
  };
}

/** Hour-of-day shares of a tenant's usage from its hourly history (uniform when it has none). */
export function hourShares(hourly: ReadonlyArray<{ hour: Date; quantity: number }>): number[] {
  const totals = new Array<number>(24).fill(0);
  let sum = 0;
  for (const { hour, quantity } of hourly) {
    totals[hour.getUTCHours()]! += quantity;
    sum += quantity;
  }
  return sum > 0 ? totals.map((total) => total / sum) : totals.map(() => 1 / 24);
}
