import { weekdayOf } from '../domain/days.js';
import type { DailySeries, HolidayCalendar } from './series.js';

/** Days of history the weekday profile is estimated from (twelve weeks). */
export const PROFILE_DAYS = 84;
/** Days the level is estimated from, most recent weighted highest. */
const LEVEL_DAYS = 28;
/** Weight of a day in the level relative to the day after it: recent weeks count most (trend, level shifts). */
const LEVEL_DECAY = 0.95;
/** A deseasonalized day above this many times the preliminary level is clipped: one spike must not lift the level. */
const LEVEL_CLIP = 2;
/**
 * The last week's level outside [LOW, HIGH] x the three weeks before counts as a level shift (chosen on development
 * data, seeds 3 and 5: nearly neutral there, where shifts are rare and mild, and it makes a stopped tenant's forecast
 * zero at once).
 */
const SHIFT_RATIO_LOW = 0.6;
const SHIFT_RATIO_HIGH = 1.6;

/**
 * The "weekday profile x level" forecast: a strong statistical baseline and the network's most informative input.
 * Where the median of the last four same weekdays spends its four points per weekday on both the weekly rhythm and
 * the current level, this splits the two: the **profile** (each weekday's share, from up to twelve weeks, trimmed of
 * its largest day) changes slowly and needs many weeks to estimate; the **level** (deseasonalized usage of the last
 * four weeks, recent days weighted highest, spikes clipped) moves and needs every day. Holidays are left out of
 * both; a holiday ahead gets the series' own past holidays relative to its level, or its quietest weekday when it
 * has seen none. Writes `horizon` forecasts (days end + 1 .. end + horizon) into `out` at `offset`; returns the level.
 * No allocation: it runs for every training window.
 */
export function profileForecast(
  series: DailySeries,
  end: number,
  holidays: HolidayCalendar,
  horizon: number,
  out: Float64Array | Float32Array,
  offset = 0,
): number {
  const values = series.values;
  const from = Math.max(0, end - PROFILE_DAYS + 1);
  const sums = [0, 0, 0, 0, 0, 0, 0];
  const counts = [0, 0, 0, 0, 0, 0, 0];
  const maxima = [0, 0, 0, 0, 0, 0, 0];
  for (let index = from; index <= end; index += 1) {
    const day = series.start + index;
    if (holidays.isHoliday(day, series.group)) continue;
    const weekday = weekdayOf(day);
    const value = values[index]!;
    sums[weekday]! += value;
    counts[weekday]! += 1;
    if (value > maxima[weekday]!) maxima[weekday] = value;
  }
  const profile = [0, 0, 0, 0, 0, 0, 0];
  let profileSum = 0;
  let seen = 0;
  for (let weekday = 0; weekday < 7; weekday += 1) {
    const count = counts[weekday]!;
    if (count === 0) continue;
    // Trimmed of the largest day once there are enough: a spike must not make its weekday look busy for 12 weeks.
    profile[weekday] = count >= 4 ? (sums[weekday]! - maxima[weekday]!) / (count - 1) : sums[weekday]! / count;
    profileSum += profile[weekday]!;
    seen += 1;
  }
  const meanProfile = seen > 0 ? profileSum / seen : 0;
  let quietest = Number.POSITIVE_INFINITY;
  for (let weekday = 0; weekday < 7; weekday += 1) {
    // Weekdays not seen yet (a series shorter than a week) count as average days.
    profile[weekday] = counts[weekday]! > 0 && meanProfile > 0 ? profile[weekday]! / meanProfile : 1;
    quietest = Math.min(quietest, profile[weekday]!);
  }

  // Level: a preliminary ratio over the last four weeks without its two largest days (one freak day of 10^9 must
  // not become the yardstick), then the decayed one with spikes clipped to twice the preliminary level.
  const levelFrom = Math.max(0, end - LEVEL_DAYS + 1);
  let plainUsage = 0;
  let plainProfile = 0;
  let largest = 0;
  let second = 0;
  let largestShare = 0;
  let secondShare = 0;
  let plainDays = 0;
  for (let index = levelFrom; index <= end; index += 1) {
    const day = series.start + index;
    if (holidays.isHoliday(day, series.group)) continue;
    const value = values[index]!;
    const share = profile[weekdayOf(day)]!;
    plainUsage += value;
    plainProfile += share;
    plainDays += 1;
    if (value > largest) {
      second = largest;
      secondShare = largestShare;
      largest = value;
      largestShare = share;
    } else if (value > second) {
      second = value;
      secondShare = share;
    }
  }
  const trimmedUsage = plainUsage - largest - second;
  const trimmedProfile = plainProfile - largestShare - secondShare;
  const preliminary =
    plainDays >= 14 && trimmedUsage > 0 && trimmedProfile > 0 ? trimmedUsage / trimmedProfile : plainProfile > 0 ? plainUsage / plainProfile : 0;
  let usage = 0;
  let expected = 0;
  let olderUsage = 0;
  let olderExpected = 0;
  let recentUsage = 0;
  let recentExpected = 0;
  let recentLargest = 0;
  let recentLargestShare = 0;
  let recentDays = 0;
  let weight = 1;
  for (let index = end; index >= levelFrom; index -= 1, weight *= LEVEL_DECAY) {
    const day = series.start + index;
    if (holidays.isHoliday(day, series.group)) continue;
    const share = profile[weekdayOf(day)]!;
    const value = values[index]!;
    usage += weight * Math.min(value, LEVEL_CLIP * share * preliminary);
    expected += weight * share;
    if (end - index >= 7) {
      olderUsage += weight * Math.min(value, LEVEL_CLIP * share * preliminary);
      olderExpected += weight * share;
    } else {
      recentUsage += value;
      recentExpected += share;
      recentDays += 1;
      if (value > recentLargest) {
        recentLargest = value;
        recentLargestShare = share;
      }
    }
  }
  let level = expected > 0 ? usage / expected : 0;
  // A level shift (the tenant stopped, lost or added a location): when the last week without its largest day is
  // outside [LOW, HIGH] x the three weeks before it, and further off than count noise explains (3 sigma of a Poisson
  // count), the decayed average would need weeks to follow: the week leads.
  const recentTrimmedExpected = recentExpected - recentLargestShare;
  if (recentDays >= 5 && plainDays >= 14 && recentTrimmedExpected > 0 && olderExpected > 0) {
    const recent = (recentUsage - recentLargest) / recentTrimmedExpected;
    const older = olderUsage / olderExpected;
    const expectedCount = older * recentTrimmedExpected;
    const significant = Math.abs(recentUsage - recentLargest - expectedCount) > 3 * Math.sqrt(expectedCount + 1);
    if (significant && (recent < SHIFT_RATIO_LOW * older || recent > SHIFT_RATIO_HIGH * older)) level = recent;
  }

  // Holidays ahead: the series' past holidays in the profile window relative to the level (or its quietest weekday).
  let holidayUsage = 0;
  let holidayExpected = 0;
  let holidayRatio = quietest;
  if (holidays.size > 0) {
    for (let index = from; index <= end; index += 1) {
      const day = series.start + index;
      if (!holidays.isHoliday(day, series.group)) continue;
      holidayUsage += values[index]!;
      holidayExpected += level;
    }
    if (holidayExpected > 0) holidayRatio = holidayUsage / holidayExpected;
  }
  for (let h = 1; h <= horizon; h += 1) {
    const day = series.start + end + h;
    out[offset + h - 1] = level * (holidays.size > 0 && holidays.isHoliday(day, series.group) ? holidayRatio : profile[weekdayOf(day)]!);
  }
  return level;
}
