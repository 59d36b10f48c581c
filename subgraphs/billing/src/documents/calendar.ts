/**
 * Documents are dated in the issuer's calendar (Europe/Berlin): an invoice issued at 00:30 on 1 January local time
 * belongs to the new year's number series and to January, whatever the server's time zone.
 */
const DAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit' });

/** YYYY-MM-DD of `at` in Berlin. */
export function berlinDay(at: Date): string {
  return DAY.format(at);
}

/** The first instant of a Berlin calendar month (`month` 1-12). */
export function berlinMonthStart(year: number, month: number): Date {
  // Berlin is UTC+1 or UTC+2; find the UTC instant whose Berlin day is the 1st at 00:00.
  const guess = Date.UTC(year, month - 1, 1, 0, 0, 0);
  for (const offsetHours of [1, 2]) {
    const candidate = new Date(guess - offsetHours * 3_600_000);
    if (berlinDay(candidate) === `${year}-${String(month).padStart(2, '0')}-01` && berlinDay(new Date(candidate.getTime() - 1)) !== berlinDay(candidate)) {
      return candidate;
    }
  }
  throw new Error(`cannot place the start of ${year}-${month} in Europe/Berlin`);
}

/** [start, end) of a Berlin calendar month and its first and last day. */
export function berlinMonth(year: number, month: number): { start: Date; end: Date; from: string; to: string } {
  const start = berlinMonthStart(year, month);
  const end = month === 12 ? berlinMonthStart(year + 1, 1) : berlinMonthStart(year, month + 1);
  return { start, end, from: berlinDay(start), to: berlinDay(new Date(end.getTime() - 1)) };
}
