import { addDays } from '../domain/days.js';

/** How far ahead depletion is looked for; beyond it the balance "does not run out". */
export const DEPLETION_HORIZON_DAYS = 90;

/** The tenant's automatic top-up as the forecast assumes it works (billing's rule). */
export interface AutoTopUpPlan {
  thresholdMinor: bigint;
  mode: 'FIXED_AMOUNT' | 'TOP_UP_TO';
  /** FIXED_AMOUNT: charged per top-up; TOP_UP_TO: the balance reached. */
  amountMinor: bigint;
  dailyCapMinor: bigint;
}

export interface DepletionInput {
  /** The UTC day index 0 refers to (today), ISO yyyy-mm-dd. */
  today: string;
  balanceMinor: bigint;
  /** Where usage stops: 0 under BLOCK, minus the overdraft limit otherwise. */
  floorMinor: bigint;
  /**
   * Forecast cost per day in minor units, index 0 = the rest of today, for three scenarios: the 80 % range's
   * upper usage (spends fastest), the median, the lower usage.
   */
  costs: { high: readonly bigint[]; median: readonly bigint[]; low: readonly bigint[] };
  /** An enabled rule billing will charge (null: none, disabled, or failing). */
  autoTopUp: AutoTopUpPlan | null;
  /** How far the forecast's 80 % range can be trusted (the model's measured coverage, history length). */
  reliability: number;
}

export interface Depletion {
  /** The day the balance reaches the floor on the median forecast. */
  date: string;
  /** On the 80 % range's high usage. */
  earliest: string;
  /** On its low usage; null when the low scenario does not run out within the horizon. */
  latest: string | null;
  /** Probability that the balance runs out within [earliest, latest] (0-1). */
  confidence: number;
}

/**
 * The day a prepaid balance reaches its floor, spending the forecast costs day by day and topping up automatically
 * the way billing does: each time a debit takes the balance to or below the threshold, one top-up (a fixed amount,
 * or up to a target), as long as the day's cap leaves room for it. All money is integer minor units. Null when the
 * median scenario does not run out within DEPLETION_HORIZON_DAYS.
 */
export function depletionDate(input: DepletionInput): Depletion | null {
  const days = (costs: readonly bigint[]) => daysUntilFloor(input, costs);
  const median = days(input.costs.median);
  if (median === null) return null;
  const earliest = days(input.costs.high) ?? median;
  const latest = days(input.costs.low);
  return {
    date: addDays(input.today, median),
    earliest: addDays(input.today, Math.min(earliest, median)),
    latest: latest === null ? null : addDays(input.today, Math.max(latest, median)),
    // The range is the 80 % forecast's, so 0.8 at best, as far as the model's ranges held in its backtest; an
    // open-ended range (never runs out on low usage) is less certain about the date itself.
    confidence: round2(Math.max(0, Math.min(1, input.reliability * (latest === null ? 0.75 : 1)))),
  };
}

/** Index of the day the balance reaches the floor, or null within the horizon. */
export function daysUntilFloor(input: Pick<DepletionInput, 'balanceMinor' | 'floorMinor' | 'autoTopUp'>, costs: readonly bigint[]): number | null {
  let balance = input.balanceMinor;
  if (balance <= input.floorMinor) return 0;
  const rule = input.autoTopUp;
  // A crossing the day's cap left no room for: billing retries on the next debit once a new day has room.
  let owed = false;
  const topUp = (spentToday: bigint): bigint => {
    const charge = rule!.mode === 'FIXED_AMOUNT' ? rule!.amountMinor : rule!.amountMinor - balance;
    if (charge <= 0n) return 0n;
    if (spentToday + charge > rule!.dailyCapMinor) {
      owed = true;
      return 0n;
    }
    owed = false;
    balance += charge;
    return charge;
  };
  for (let day = 0; day < Math.min(costs.length, DEPLETION_HORIZON_DAYS); day += 1) {
    let remaining = costs[day] ?? 0n;
    let toppedUp = 0n;
    if (rule && owed && remaining > 0n && balance <= rule.thresholdMinor) toppedUp += topUp(toppedUp);
    while (remaining > 0n) {
      if (rule && balance > rule.thresholdMinor) {
        // Spend down to the threshold first: crossing it is what fires billing's auto-top-up.
        const step = remaining < balance - rule.thresholdMinor ? remaining : balance - rule.thresholdMinor;
        balance -= step;
        remaining -= step;
        if (balance <= rule.thresholdMinor) toppedUp += topUp(toppedUp);
      } else {
        balance -= remaining;
        remaining = 0n;
      }
      if (balance <= input.floorMinor) return day;
    }
  }
  return null;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
