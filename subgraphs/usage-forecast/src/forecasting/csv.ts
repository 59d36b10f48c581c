import { dayNumber, dayOfNumber, isIsoDay } from '../domain/days.js';
import type { SeriesForecast } from './forecaster.js';
import type { DailySeries } from './series.js';

export const HISTORY_HEADER = 'series_id,timestamp,value';
export const FORECAST_HEADER = 'series_id,timestamp,forecast,lower,upper';

/** A problem with one line of a history file; `line` is 1-based. */
export interface CsvProblem {
  line: number;
  message: string;
}

export class CsvError extends Error {
  readonly code = 'MALFORMED_CSV';
  constructor(readonly problems: readonly CsvProblem[]) {
    super(problems.map((problem) => `line ${problem.line}: ${problem.message}`).join('\n'));
    this.name = 'CsvError';
  }
}

/** At most this many problems are collected before parsing gives up (a wrong file would list every line). */
const MAX_PROBLEMS = 20;

/**
 * Parses a history file: the header `series_id,timestamp,value`, then one row per series and day (timestamp
 * `YYYY-MM-DD`, value a non-negative number), in any order. Days a series skips between its first and last day
 * count as zero usage (reported in `filledDays`). Every malformed row is reported with its line, and nothing is
 * returned unless the whole file is valid. Fields may be double-quoted (RFC 4180).
 */
export function parseHistoryCsv(text: string): { series: DailySeries[]; filledDays: number } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const problems: CsvProblem[] = [];
  const header = splitCsvLine(lines[0] ?? '').map((field) => field.trim());
  if (header.join(',') !== HISTORY_HEADER) {
    throw new CsvError([{ line: 1, message: `the header must be exactly "${HISTORY_HEADER}" (found "${(lines[0] ?? '').trim()}")` }]);
  }
  const bySeries = new Map<string, Map<number, number>>();
  for (let index = 1; index < lines.length && problems.length < MAX_PROBLEMS; index += 1) {
    const raw = lines[index]!;
    if (raw.trim().length === 0) continue;
    const line = index + 1;
    const fields = splitCsvLine(raw);
    if (fields.length !== 3) {
      problems.push({ line, message: `expected 3 fields (series_id,timestamp,value), found ${fields.length}` });
      continue;
    }
    const [id, timestamp, value] = fields.map((field) => field.trim()) as [string, string, string];
    if (id.length === 0) problems.push({ line, message: 'series_id is empty' });
    else if (id.length > 200) problems.push({ line, message: 'series_id is longer than 200 characters' });
    if (!isIsoDay(timestamp)) problems.push({ line, message: `timestamp "${timestamp}" is not a calendar day written YYYY-MM-DD` });
    const number = value.length > 0 && /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isFinite(number)) problems.push({ line, message: `value "${value}" is not a non-negative number` });
    if (id.length === 0 || id.length > 200 || !isIsoDay(timestamp) || !Number.isFinite(number)) continue;
    const days = bySeries.get(id) ?? new Map<number, number>();
    const day = dayNumber(timestamp);
    if (days.has(day)) {
      problems.push({ line, message: `series "${id}" has ${timestamp} twice` });
      continue;
    }
    days.set(day, number);
    bySeries.set(id, days);
  }
  if (problems.length > 0) throw new CsvError(problems);
  if (bySeries.size === 0) throw new CsvError([{ line: 2, message: 'the file has no data rows' }]);

  let filledDays = 0;
  const series = [...bySeries].map(([id, days]) => {
    const sorted = [...days.keys()].sort((a, b) => a - b);
    const start = sorted[0]!;
    const values = new Float64Array(sorted[sorted.length - 1]! - start + 1);
    filledDays += values.length - days.size;
    for (const [day, value] of days) values[day - start] = value;
    return { id, start, values };
  });
  return { series, filledDays };
}

/** Splits one CSV line; quoted fields may contain commas and doubled quotes. */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index]!;
    if (quoted) {
      if (char === '"' && line[index + 1] === '"') {
        current += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else current += char;
    } else if (char === '"' && current.trim().length === 0) {
      quoted = true;
      current = '';
    } else if (char === ',') {
      fields.push(current);
      current = '';
    } else current += char;
  }
  fields.push(current);
  return fields;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Forecast rows `series_id,timestamp,forecast,lower,upper`, values rounded to 3 decimals. */
export function formatForecastCsv(forecasts: readonly SeriesForecast[]): string {
  const rows = [FORECAST_HEADER];
  const round = (value: number) => String(Math.round(value * 1000) / 1000);
  for (const forecast of forecasts) {
    for (let index = 0; index < forecast.quantity.length; index += 1) {
      rows.push(
        [
          csvField(forecast.id),
          dayOfNumber(forecast.start + index),
          round(forecast.quantity[index]!),
          round(forecast.lower[index]!),
          round(forecast.upper[index]!),
        ].join(','),
      );
    }
  }
  return `${rows.join('\n')}\n`;
}
