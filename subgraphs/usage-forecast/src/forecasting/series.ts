import { dayNumber, dayOfNumber } from '../domain/days.js';

/**
 * One daily series (a tenant's usage, or a row group of a CSV): consecutive UTC days from `start`, one value per
 * day, no gaps (missing days are zeros by the time a series is built). Values are non-negative usage quantities.
 */
export interface DailySeries {
  id: string;
  /** Day number (days since 1970-01-01) of values[0]. */
  start: number;
  values: Float64Array;
  /** Holiday group (a country code) whose holidays apply to this series, if any. */
  group?: string;
}

/** The day number of a series' last observed day. */
export function lastDay(series: DailySeries): number {
  return series.start + series.values.length - 1;
}

/** The series cut after day `end` (inclusive); undefined when nothing of it remains. */
export function truncateSeries(series: DailySeries, end: number): DailySeries | undefined {
  const length = Math.min(series.values.length, end - series.start + 1);
  if (length <= 0) return undefined;
  return { ...series, values: series.values.subarray(0, length) };
}

export function seriesFromDays(id: string, firstDay: string, values: readonly number[]): DailySeries {
  return { id, start: dayNumber(firstDay), values: Float64Array.from(values) };
}

/**
 * Days that behave like holidays (usage of businesses drops to a weekend level). Global days apply to every
 * series; days of a group (a country code) only to series placed in that group.
 */
export class HolidayCalendar {
  private readonly global = new Set<number>();
  private readonly byGroup = new Map<string, Set<number>>();

  static readonly none = new HolidayCalendar();

  /**
   * Parses `2026-12-25,DE:2026-10-03,...`: a plain day is a holiday everywhere, `GROUP:day` only in that group.
   * Throws on a malformed entry (the config module reports it).
   */
  static parse(spec: string | undefined): HolidayCalendar {
    const calendar = new HolidayCalendar();
    for (const raw of (spec ?? '').split(',')) {
      const entry = raw.trim();
      if (entry.length === 0) continue;
      const match = /^(?:([A-Z]{2}):)?(\d{4}-\d{2}-\d{2})$/.exec(entry);
      if (!match || dayOfNumber(dayNumber(match[2]!)) !== match[2]) throw new Error(`holiday "${entry}" must be YYYY-MM-DD or CC:YYYY-MM-DD`);
      calendar.add(dayNumber(match[2]!), match[1]);
    }
    return calendar;
  }

  add(day: number, group?: string): this {
    if (group === undefined) this.global.add(day);
    else {
      const days = this.byGroup.get(group) ?? new Set<number>();
      days.add(day);
      this.byGroup.set(group, days);
    }
    return this;
  }

  isHoliday(day: number, group?: string): boolean {
    return this.global.has(day) || (group !== undefined && (this.byGroup.get(group)?.has(day) ?? false));
  }

  get size(): number {
    let size = this.global.size;
    for (const days of this.byGroup.values()) size += days.size;
    return size;
  }

  /** The same notation `parse` reads, sorted; stored with a model so it forecasts with the calendar it learned. */
  toString(): string {
    const entries = [...this.global].sort((a, b) => a - b).map(dayOfNumber);
    for (const [group, days] of [...this.byGroup].sort(([a], [b]) => a.localeCompare(b))) {
      entries.push(...[...days].sort((a, b) => a - b).map((day) => `${group}:${dayOfNumber(day)}`));
    }
    return entries.join(',');
  }
}
