/** UTC calendar days as ISO yyyy-mm-dd strings: the only day representation this subgraph uses. */

const DAY_MS = 86_400_000;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The UTC calendar day of an instant. */
export function utcDay(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** True for a real calendar day written yyyy-mm-dd (rejects 2026-02-30). */
export function isIsoDay(value: string): boolean {
  if (!ISO_DAY.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00.000Z`);
  return !Number.isNaN(parsed.getTime()) && utcDay(parsed) === value;
}

export function addDays(day: string, count: number): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00.000Z`) + count * DAY_MS));
}

/** The `count` days ending with `lastDay` (included), oldest first. */
export function daysEndingOn(lastDay: string, count: number): string[] {
  return Array.from({ length: count }, (_unused, index) => addDays(lastDay, index - count + 1));
}

/** Days since 1970-01-01 (UTC) of an ISO day: the forecasting code indexes days by number. */
export function dayNumber(day: string): number {
  return Math.round(Date.parse(`${day}T00:00:00.000Z`) / DAY_MS);
}

/** The ISO day of a day number. */
export function dayOfNumber(day: number): string {
  return utcDay(new Date(day * DAY_MS));
}

/** 0 = Monday ... 6 = Sunday, for a day number (1970-01-01 was a Thursday). */
export function weekdayOf(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}
