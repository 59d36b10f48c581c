import { seededRandom } from '@saldo/service';
import { gaussian, poisson } from '../forecasting/index.js';
import { OPEN_SCORE, RISK_HISTORY_HOURS, combinedScore, fraudSignals, type RiskView } from './scoring.js';

/**
 * A labelled synthetic fraud benchmark: tenants with four weeks of realistic hourly usage (office hours, quiet
 * nights and weekends, count noise), each ending in one labelled hour. Frauds: bursts far above the tenant's
 * history, brand-new tenants at the platform's rate ceiling, top-ups after declined cards drained within hours,
 * strings of failed top-ups. Legitimate but suspicious-looking cases (the hard negatives): busy hours above the
 * tenant's usual peak, new tenants ramping up, a decline followed by an ordinary top-up, one or two failed top-ups,
 * new tenants with genuinely heavy use.
 */
export interface FraudBenchmarkResult {
  tenants: number;
  frauds: number;
  flagged: number;
  truePositives: number;
  falsePositives: number;
  recall: number;
  precision: number;
  /** Per scenario: tenants and how many were flagged. */
  scenarios: Record<string, { tenants: number; flagged: number; fraud: boolean }>;
}

const MAX_HOURLY_UNITS = 600;
const NOW = new Date('2026-06-10T15:00:00.000Z');
const HOUR_MS = 3_600_000;

type Scenario = { name: string; fraud: boolean; weight: number; build: (context: Context) => RiskView };
interface Context {
  random: () => number;
  normal: () => number;
  history: (hours: number) => Float64Array;
  level: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'ordinary hour', fraud: false, weight: 30, build: ({ history }) => view({ hourly: history(RISK_HISTORY_HOURS + 1) }) },
  {
    name: 'busy hour (campaign, 1.2-3 x peak)',
    fraud: false,
    weight: 10,
    build: ({ history, random }) => {
      const hourly = history(RISK_HISTORY_HOURS + 1);
      hourly[0] = Math.round(peak(hourly) * (1.2 + random() * 1.8));
      return view({ hourly });
    },
  },
  {
    name: 'new tenant ramping up (5-45 % of the ceiling)',
    fraud: false,
    weight: 8,
    build: ({ random }) => newTenant(random, 0.05 + random() * 0.4),
  },
  {
    name: 'new tenant, heavy legitimate use (45-80 %)',
    fraud: false,
    weight: 4,
    build: ({ random }) => newTenant(random, 0.45 + random() * 0.35),
  },
  {
    name: 'declined card, then a top-up used up to 55 %',
    fraud: false,
    weight: 8,
    build: ({ history, random }) => topUpView(history, random, 1 + Math.floor(random() * 2), 0.02 + random() * 0.53),
  },
  {
    name: 'one to three failed top-ups (expired card)',
    fraud: false,
    weight: 10,
    build: ({ history, random }) => view({ hourly: history(RISK_HISTORY_HOURS + 1), failures24h: 1 + Math.floor(random() * 3), declines7d: 3 }),
  },
  {
    name: 'burst 2.5-40 x the usual peak',
    fraud: true,
    weight: 8,
    build: ({ history, random }) => {
      const hourly = history(RISK_HISTORY_HOURS + 1);
      hourly[0] = Math.round(Math.max(peak(hourly), 5) * (2.5 + random() * 37.5));
      return view({ hourly });
    },
  },
  { name: 'new tenant near the rate ceiling (70-100 %)', fraud: true, weight: 8, build: ({ random }) => newTenant(random, 0.7 + random() * 0.3) },
  {
    name: 'top-up after declines, drained within hours',
    fraud: true,
    weight: 7,
    build: ({ history, random }) => topUpView(history, random, 1 + Math.floor(random() * 3), 0.45 + random() * 0.55),
  },
  {
    name: 'string of failed top-ups (3-8 a day)',
    fraud: true,
    weight: 7,
    build: ({ history, random }) => view({ hourly: history(RISK_HISTORY_HOURS + 1), failures24h: 3 + Math.floor(random() * 6), declines7d: 8 }),
  },
];

export function runFraudBenchmark(options: { tenants: number; seed?: number }): FraudBenchmarkResult {
  const random = seededRandom(options.seed ?? 11);
  const normal = gaussian(random);
  const total = SCENARIOS.reduce((sum, scenario) => sum + scenario.weight, 0);
  const scenarios: FraudBenchmarkResult['scenarios'] = {};
  let frauds = 0;
  let flagged = 0;
  let truePositives = 0;
  for (let index = 0; index < options.tenants; index += 1) {
    let pick = random() * total;
    const scenario = SCENARIOS.find((candidate) => (pick -= candidate.weight) < 0) ?? SCENARIOS[0]!;
    const level = Math.exp(Math.log(8) + normal() * 0.9);
    const context: Context = { random, normal, level, history: (hours) => officeHours(hours, level, random, normal) };
    const opened = combinedScore(fraudSignals(scenario.build(context))) >= OPEN_SCORE;
    const own = (scenarios[scenario.name] ??= { tenants: 0, flagged: 0, fraud: scenario.fraud });
    own.tenants += 1;
    if (opened) own.flagged += 1;
    if (scenario.fraud) frauds += 1;
    if (opened) flagged += 1;
    if (opened && scenario.fraud) truePositives += 1;
  }
  return {
    tenants: options.tenants,
    frauds,
    flagged,
    truePositives,
    falsePositives: flagged - truePositives,
    recall: frauds > 0 ? truePositives / frauds : 1,
    precision: flagged > 0 ? truePositives / flagged : 1,
    scenarios,
  };
}

function view(partial: Partial<RiskView> & { hourly: ArrayLike<number> }): RiskView {
  return {
    now: NOW,
    createdAt: new Date(NOW.getTime() - 200 * 24 * HOUR_MS),
    maxHourlyUnits: MAX_HOURLY_UNITS,
    failures24h: 0,
    declines7d: 0,
    lastTopUp: null,
    costSinceTopUpMinor: 0n,
    ...partial,
  };
}

function newTenant(random: () => number, share: number): RiskView {
  const ageHours = 2 + Math.floor(random() * 150);
  const hourly = new Float64Array(Math.min(ageHours, RISK_HISTORY_HOURS) + 1);
  // Earlier hours ramp up towards the current level.
  for (let index = 1; index < hourly.length; index += 1) hourly[index] = Math.round(MAX_HOURLY_UNITS * share * random() * 0.8);
  hourly[0] = Math.round(MAX_HOURLY_UNITS * share);
  return view({ hourly, createdAt: new Date(NOW.getTime() - ageHours * HOUR_MS) });
}

function topUpView(history: (hours: number) => Float64Array, random: () => number, declines: number, drained: number): RiskView {
  const amountMinor = BigInt(2_000 + Math.floor(random() * 48_000));
  return view({
    hourly: history(RISK_HISTORY_HOURS + 1),
    declines7d: declines,
    failures24h: Math.min(declines, 1),
    lastTopUp: { at: new Date(NOW.getTime() - (1 + random() * 20) * HOUR_MS), amountMinor },
    costSinceTopUpMinor: BigInt(Math.round(Number(amountMinor) * drained)),
  });
}

/** Hourly usage, index 0 = the current hour (NOW) going back: office hours on weekdays, little at night and weekends. */
function officeHours(hours: number, level: number, random: () => number, normal: () => number): Float64Array {
  const values = new Float64Array(hours);
  for (let index = 0; index < hours; index += 1) {
    const at = new Date(NOW.getTime() - index * HOUR_MS);
    const hour = at.getUTCHours();
    const weekend = at.getUTCDay() === 0 || at.getUTCDay() === 6;
    const shape = hour >= 8 && hour < 18 ? 1 : hour >= 6 && hour < 21 ? 0.35 : 0.04;
    values[index] = poisson(level * shape * (weekend ? 0.2 : 1) * Math.exp(normal() * 0.2), random, normal);
  }
  return values;
}

function peak(hourly: Float64Array): number {
  let max = 0;
  for (let index = 1; index < hourly.length; index += 1) max = Math.max(max, hourly[index]!);
  return max;
}
