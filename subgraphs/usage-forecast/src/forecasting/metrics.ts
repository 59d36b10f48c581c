/**
 * Accuracy of point forecasts and 80 % ranges, accumulated over many (series, origin, horizon) points:
 * WAPE = sum |actual - forecast| / sum actual; MASE = mean over series of MAE / in-sample mean absolute
 * seasonal (7-day) difference; coverage = share of actuals within [lower, upper].
 */
export interface AccuracyReport {
  wape: number;
  /** 1 - WAPE, the product strategy's "accuracy". */
  accuracy: number;
  mase: number;
  coverage: number;
  /** Mean width of the range relative to the mean actual (narrower is better at equal coverage). */
  relativeWidth: number;
  points: number;
}

export class AccuracyAccumulator {
  private absoluteError = 0;
  private actualSum = 0;
  private covered = 0;
  private width = 0;
  private points = 0;
  /** Per series: sum of absolute errors, count, and the MASE scale. */
  private readonly perSeries = new Map<string, { error: number; count: number; scale: number }>();

  add(seriesId: string, maseScale: number, actual: number, forecast: number, lower: number, upper: number): void {
    const error = Math.abs(actual - forecast);
    this.absoluteError += error;
    this.actualSum += actual;
    if (actual >= lower && actual <= upper) this.covered += 1;
    this.width += upper - lower;
    this.points += 1;
    const own = this.perSeries.get(seriesId) ?? { error: 0, count: 0, scale: maseScale };
    own.error += error;
    own.count += 1;
    this.perSeries.set(seriesId, own);
  }

  report(): AccuracyReport {
    let maseSum = 0;
    let maseCount = 0;
    for (const own of this.perSeries.values()) {
      if (own.scale > 0 && own.count > 0) {
        maseSum += own.error / own.count / own.scale;
        maseCount += 1;
      }
    }
    const wape = this.actualSum > 0 ? this.absoluteError / this.actualSum : this.absoluteError > 0 ? 1 : 0;
    const meanActual = this.points > 0 ? this.actualSum / this.points : 0;
    return {
      wape,
      accuracy: 1 - wape,
      mase: maseCount > 0 ? maseSum / maseCount : Number.NaN,
      coverage: this.points > 0 ? this.covered / this.points : Number.NaN,
      relativeWidth: meanActual > 0 ? this.width / this.points / meanActual : Number.NaN,
      points: this.points,
    };
  }
}

/** The MASE denominator: mean absolute 7-day difference over values[0..end] (0 when it cannot be computed). */
export function maseScale(values: ArrayLike<number>, end: number): number {
  let sum = 0;
  let count = 0;
  for (let index = 7; index <= end; index += 1) {
    sum += Math.abs(values[index]! - values[index - 7]!);
    count += 1;
  }
  return count > 0 ? sum / count : 0;
}

/** The q-quantile of numbers (linear interpolation); NaN for none. */
export function quantile(values: readonly number[] | Float64Array, q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}
