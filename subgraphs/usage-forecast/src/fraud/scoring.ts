import type { Severity } from '../entities/usage-anomaly.js';

/**
 * Fraud signals for usage patterns that cost money, each scored 0-100, combined as a noisy-or (independent
 * evidence adds up, one strong signal suffices). A case opens at OPEN_SCORE; severities by score. The thresholds
 * were set on the labelled synthetic benchmark (fraud/benchmark.ts) and are reported with it.
 */
export interface RiskView {
  /** Now, and the tenant's creation (null: unknown, treated as established). */
  now: Date;
  createdAt: Date | null;
  /** Usage in the current hour so far and the hours before it: index 0 = the current hour, 1 = the hour before, ... */
  hourly: ArrayLike<number>;
  /** Highest hourly usage a single tenant can reach (the platform's per-tenant rate ceiling). */
  maxHourlyUnits: number;
  /** Declined or refused top-ups in the last 24 hours and the last 7 days. */
  failures24h: number;
  declines7d: number;
  /** The last top-up credited and what usage cost since (minor units). */
  lastTopUp: { at: Date; amountMinor: bigint } | null;
  costSinceTopUpMinor: bigint;
}

export interface FraudSignal {
  kind: 'USAGE_BURST' | 'NEW_TENANT_MAX_RATE' | 'DRAIN_AFTER_DECLINED_CARD' | 'TOP_UP_FAILURES';
  score: number;
  detail: string;
}

export const OPEN_SCORE = 60;
const HOUR_MS = 3_600_000;
/** Hours of history that describe a tenant's normal hourly usage (four weeks). */
export const RISK_HISTORY_HOURS = 28 * 24;

export function severityOfFraud(score: number): Severity {
  return score >= 90 ? 'CRITICAL' : score >= 75 ? 'HIGH' : 'MEDIUM';
}

export function combinedScore(signals: readonly FraudSignal[]): number {
  const miss = signals.reduce((product, signal) => product * (1 - Math.min(100, Math.max(0, signal.score)) / 100), 1);
  return Math.round((1 - miss) * 1000) / 10;
}

export function fraudSignals(view: RiskView): FraudSignal[] {
  return [burst(view), newTenantAtMaxRate(view), drainAfterDeclines(view), topUpFailures(view)].filter((signal): signal is FraudSignal => signal !== null);
}

/**
 * The current hour far above anything the tenant's history makes normal: compared with the larger of its busiest
 * hour of the last four weeks (its own peaks, e.g. Monday mornings) and twice its mean hour, so a tenant's regular
 * peaks and a legitimately busy day stay quiet. Needs a week of history.
 */
function burst(view: RiskView): FraudSignal | null {
  const hours = Math.min(view.hourly.length, RISK_HISTORY_HOURS + 1);
  if (hours < 24 * 7 + 1) return null;
  let peak = 0;
  let sum = 0;
  for (let index = 1; index < hours; index += 1) {
    const value = view.hourly[index]!;
    sum += value;
    if (value > peak) peak = value;
  }
  const reference = Math.max(peak, (2 * sum) / (hours - 1), 5);
  const current = view.hourly[0]!;
  const ratio = current / reference;
  if (ratio < 2) return null;
  const score = Math.min(100, 50 + 25 * Math.log2(ratio / 2));
  return {
    kind: 'USAGE_BURST',
    score: round(score),
    detail: `${current} units this hour, ${ratio.toFixed(1)} x the tenant's busiest hour of the last four weeks (${Math.round(reference)})`,
  };
}

/** A tenant younger than a week using close to the platform's rate ceiling: typical of a stolen or fake account. */
function newTenantAtMaxRate(view: RiskView): FraudSignal | null {
  if (!view.createdAt) return null;
  const ageHours = (view.now.getTime() - view.createdAt.getTime()) / HOUR_MS;
  if (ageHours > 7 * 24) return null;
  const share = view.hourly[0]! / view.maxHourlyUnits;
  if (share < 0.5) return null;
  const base = share >= 0.8 ? 70 + 30 * Math.min(1, (share - 0.8) / 0.2) : 40 + 40 * ((share - 0.5) / 0.3);
  const score = ageHours <= 48 ? base : base * 0.85;
  return {
    kind: 'NEW_TENANT_MAX_RATE',
    score: round(score),
    detail: `tenant ${Math.round(ageHours)} h old at ${Math.round(share * 100)} % of the maximum hourly rate`,
  };
}

/** A top-up right after declined payments, then drained fast by usage: a card tester converting credit into usage. */
function drainAfterDeclines(view: RiskView): FraudSignal | null {
  if (!view.lastTopUp || view.declines7d === 0 || view.lastTopUp.amountMinor <= 0n) return null;
  const since = (view.now.getTime() - view.lastTopUp.at.getTime()) / HOUR_MS;
  if (since > 24) return null;
  const drained = Number((view.costSinceTopUpMinor * 1000n) / view.lastTopUp.amountMinor) / 1000;
  if (drained < 0.5) return null;
  const score = Math.min(100, 70 + 30 * Math.min(1, (drained - 0.5) / 0.5) + (view.declines7d >= 2 ? 10 : 0));
  return {
    kind: 'DRAIN_AFTER_DECLINED_CARD',
    score: round(score),
    detail: `${Math.round(drained * 100)} % of a top-up used within ${since.toFixed(1)} h, after ${view.declines7d} declined payment(s) in 7 days`,
  };
}

/** Many failed top-ups in a day: card testing, or a tenant burning through cards. */
function topUpFailures(view: RiskView): FraudSignal | null {
  if (view.failures24h < 2) return null;
  // Two or three in a day is what an expired card does under billing's backoff (15 min, 30 min, 1 h): evidence, not
  // a case on its own. Four and more is a pattern.
  const score = view.failures24h === 2 ? 30 : view.failures24h === 3 ? 50 : Math.min(100, 65 + 10 * (view.failures24h - 4));
  return { kind: 'TOP_UP_FAILURES', score, detail: `${view.failures24h} failed top-ups in 24 h` };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
