import { seededRandom } from '@saldo/service';
import { weekdayOf } from '../domain/days.js';
import { HolidayCalendar, type DailySeries } from './series.js';

/**
 * Realistic synthetic tenants' daily usage for backtests and benchmarks (never a real data set): tenants of very
 * different sizes (log-normal levels), business kinds with their own weekly rhythm (offices quiet at weekends,
 * hospitality busier, round-the-clock services flat), slow trends, level shifts (a tenant adds or loses a
 * location), multiplicative day-to-day noise on top of count noise, intermittent small tenants with many zero
 * days, rare one-off spikes, holidays on which offices behave like a Sunday, and tenants that joined late.
 */
export interface SyntheticOptions {
  series: number;
  days: number;
  /** Day number of every series' last day. */
  lastDay: number;
  seed?: number;
  /** Share of tenants that joined during the window (their series start late, at least 35 days before the end). */
  lateJoiners?: number;
}

export interface SyntheticData {
  series: DailySeries[];
  holidays: HolidayCalendar;
}

type Kind = 'office' | 'hospitality' | 'always_on' | 'intermittent';

const WEEKLY: Record<Exclude<Kind, 'intermittent'>, readonly number[]> = {
  // Monday .. Sunday
  office: [1.05, 1.1, 1.05, 1.0, 0.9, 0.3, 0.15],
  hospitality: [0.8, 0.75, 0.8, 0.9, 1.2, 1.45, 1.1],
  always_on: [1.0, 1.0, 1.0, 1.0, 1.02, 0.96, 0.95],
};

export function syntheticUsage(options: SyntheticOptions): SyntheticData {
  const random = seededRandom(options.seed ?? 7);
  const normal = gaussian(random);
  const first = options.lastDay - options.days + 1;
  const holidays = new HolidayCalendar();
  // About one holiday a month, never two in a row.
  for (let day = first + 10; day <= options.lastDay + 30; day += 20 + Math.floor(random() * 20)) holidays.add(day);

  const series: DailySeries[] = [];
  for (let index = 0; index < options.series; index += 1) {
    const pick = random();
    const kind: Kind = pick < 0.45 ? 'office' : pick < 0.65 ? 'hospitality' : pick < 0.85 ? 'always_on' : 'intermittent';
    const level = kind === 'intermittent' ? 0.2 + random() * 3 : Math.exp(4.2 + normal() * 1.0);
    const weekly = kind === 'intermittent' ? WEEKLY.office : WEEKLY[kind].map((factor) => factor * (1 + normal() * 0.05));
    const trend = random() < 0.5 ? normal() * 0.002 : 0;
    // Larger tenants are sums over many callers: relatively calmer than small ones.
    const noise = 0.04 + random() * 0.08 + 0.1 / Math.sqrt(1 + level / 10);
    const joinsLate = random() < (options.lateJoiners ?? 0.1);
    const start = joinsLate ? options.lastDay - 35 - Math.floor(random() * Math.max(0, options.days - 60)) : first;
    const shiftAt = random() < 0.2 ? start + 20 + Math.floor(random() * Math.max(1, options.lastDay - start - 20)) : Number.POSITIVE_INFINITY;
    const shift = Math.exp(normal() * 0.4);
    const values = new Float64Array(options.lastDay - start + 1);
    let drift = 0;
    for (let day = start; day <= options.lastDay; day += 1) {
      drift = 0.8 * drift + normal() * noise * 0.25; // autocorrelated busy and quiet spells
      const weekday = weekdayOf(day);
      const rhythm = holidays.isHoliday(day) && kind !== 'always_on' ? (kind === 'hospitality' ? 1.3 : 0.15) : weekly[weekday]!;
      let mean = level * rhythm * Math.exp(trend * (day - start) + drift + normal() * noise) * (day >= shiftAt ? shift : 1);
      if (random() < 0.005) mean *= 2 + random() * 3;
      values[day - start] = poisson(mean, random, normal);
    }
    series.push({ id: `tenant-${String(index + 1).padStart(5, '0')}`, start, values });
  }
  return { series, holidays };
}

/** Standard normal draws (Box-Muller). */
export function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Poisson draws: exact for small means, normal approximation for large ones. */
export function poisson(mean: number, random: () => number, normal: () => number): number {
  if (mean <= 0) return 0;
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal()));
  const limit = Math.exp(-mean);
  let count = 0;
  let product = random();
  while (product > limit) {
    count += 1;
    product *= random();
  }
  return count;
}
