/**
 * Drift of a model version, checked every hour over the last 24 hours:
 *  - rolling forecast error: WAPE and bias, across tenants, of the version's forecasts of the last 24 hours against
 *    what was used (daily forecasts spread over hours by each tenant's own hour-of-day profile);
 *  - input distribution: the population stability index (PSI) of the model's trend input (last 7 days over the 21
 *    before, per tenant) against the distribution the version was trained on.
 * A version is flagged when its error is well beyond what it showed in validation, its forecasts are off in one
 * direction across the population, or the inputs moved (PSI above 0.25, the usual "significant shift" mark), in two
 * consecutive checks: one unusual hour is not drift.
 */
export interface DriftThresholds {
  /** Flag when rolling WAPE > reference x ratio + margin ... */
  errorRatio: number;
  errorMargin: number;
  /** ... or the forecasts are off in one direction: |sum actual / sum forecast - 1| above this ... */
  bias: number;
  /** ... or PSI above this. */
  psi: number;
  /** Consecutive hourly checks that must agree. */
  consecutive: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = { errorRatio: 1.5, errorMargin: 0.15, bias: 0.2, psi: 0.25, consecutive: 2 };

/** Bin edges (ascending, interior) and the reference share of each of the edges.length + 1 bins. */
export interface PsiReference {
  edges: number[];
  shares: number[];
}

/** Ten bins at the reference sample's deciles. */
export function psiReference(sample: readonly number[]): PsiReference {
  const sorted = [...sample].filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length < 20) return { edges: [], shares: [1] };
  const edges: number[] = [];
  for (let decile = 1; decile < 10; decile += 1) {
    const edge = sorted[Math.floor((sorted.length * decile) / 10)]!;
    if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge);
  }
  return { edges, shares: binShares(sorted, edges) };
}

function binShares(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const value of values) {
    let bin = 0;
    while (bin < edges.length && value >= edges[bin]!) bin += 1;
    counts[bin]! += 1;
  }
  return counts.map((count) => count / Math.max(1, values.length));
}

/** PSI = sum over bins of (actual - expected) x ln(actual / expected), shares floored at 0.001. */
export function psi(reference: PsiReference, sample: readonly number[]): number {
  if (reference.edges.length === 0 || sample.length === 0) return 0;
  const actual = binShares(sample.filter(Number.isFinite), reference.edges);
  let total = 0;
  reference.shares.forEach((expectedShare, bin) => {
    const expected = Math.max(expectedShare, 0.001);
    const observed = Math.max(actual[bin]!, 0.001);
    total += (observed - expected) * Math.log(observed / expected);
  });
  return Math.round(total * 10_000) / 10_000;
}

/** The trend input: log of the last 7 days' mean over the 21 days before (0 when either is empty). */
export function trendInput(last7: number, previous21: number): number {
  if (last7 <= 0 || previous21 <= 0) return 0;
  return Math.log(last7 / 7 / (previous21 / 21));
}

export interface DriftObservation {
  rollingWape: number;
  /** sum actual / sum forecast - 1 over the window: a population-wide shift shows here first. */
  bias: number;
  psi: number;
}

/** Whether this check exceeds the thresholds (before the consecutive-checks rule). */
export function exceeds(observation: DriftObservation, referenceWape: number, thresholds: DriftThresholds = DEFAULT_DRIFT_THRESHOLDS): boolean {
  return (
    observation.rollingWape > referenceWape * thresholds.errorRatio + thresholds.errorMargin ||
    Math.abs(observation.bias) > thresholds.bias ||
    observation.psi > thresholds.psi
  );
}

/** The version drifted: the last `consecutive` checks (newest last) all exceed. */
export function drifted(recent: readonly boolean[], thresholds: DriftThresholds = DEFAULT_DRIFT_THRESHOLDS): boolean {
  return recent.length >= thresholds.consecutive && recent.slice(-thresholds.consecutive).every(Boolean);
}

/** Aggregate bias of per-tenant (actual, forecast) pairs: sum actual / sum forecast - 1. */
export function bias(pairs: ReadonlyArray<{ actual: number; forecast: number }>): number {
  let actual = 0;
  let forecast = 0;
  for (const pair of pairs) {
    actual += pair.actual;
    forecast += pair.forecast;
  }
  return forecast > 0 ? actual / forecast - 1 : 0;
}

/** WAPE of per-tenant (actual, forecast) pairs. */
export function wape(pairs: ReadonlyArray<{ actual: number; forecast: number }>): number {
  let error = 0;
  let total = 0;
  for (const { actual, forecast } of pairs) {
    error += Math.abs(actual - forecast);
    total += actual;
  }
  return total > 0 ? error / total : 0;
}
