import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { dayNumber, dayOfNumber, utcDay } from '../domain/days.js';
import { psiReference, trendInput } from '../drift/drift.js';
import { HolidayCalendar, MIN_TRAINING_DAYS, TooLittleHistoryError, trainForecaster, type DailySeries } from '../forecasting/index.js';
import type { ModelRegistry } from './registry.js';

export interface TrainerOptions {
  /** Days of history a training run learns from. */
  historyDays: number;
  maxRows: number;
  epochs: number;
  holidays: HolidayCalendar;
  now: () => Date;
}

export type TrainingOutcome =
  { trained: true; version: number; series: number; milliseconds: number; backtestWape: number } | { trained: false; reason: string };

/**
 * One training run (a durable job's body): every tenant's daily usage of the last `historyDays` complete days
 * from every shard, the production training (forecasting/train.ts), registration, activation.
 */
export class ModelTrainer {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly registry: ModelRegistry,
    private readonly options: TrainerOptions,
    private readonly logger: Logger,
  ) {}

  async train(reason: string, signal?: AbortSignal): Promise<TrainingOutcome> {
    const yesterday = dayNumber(utcDay(this.options.now())) - 1;
    const series = await loadDailySeries(this.db, yesterday - this.options.historyDays + 1, yesterday);
    if (series.length === 0 || Math.max(...series.map((one) => one.values.length)) < MIN_TRAINING_DAYS) {
      return { trained: false, reason: `too little usage history (needs ${MIN_TRAINING_DAYS} days)` };
    }
    signal?.throwIfAborted();
    let result;
    try {
      result = await trainForecaster(series, { holidays: this.options.holidays, maxRows: this.options.maxRows, epochs: this.options.epochs });
    } catch (error) {
      if (error instanceof TooLittleHistoryError) return { trained: false, reason: error.message };
      throw error;
    }
    const { forecaster, report } = result;
    try {
      signal?.throwIfAborted();
      const trend = psiReference(series.map((one) => trendOf(one.values, one.values.length - 1)));
      const version = await this.registry.register(forecaster, report, { trend }, reason, this.options.now());
      await this.registry.activate(version);
      this.logger.info('trained forecast model', {
        version,
        reason,
        series: report.series,
        rows: report.trainingRows,
        ms: report.milliseconds,
        backend: report.backend,
        wape: report.validation.combined.wape.toFixed(3),
        median4Wape: report.validation.median4.wape.toFixed(3),
      });
      return { trained: true, version, series: report.series, milliseconds: report.milliseconds, backtestWape: report.validation.combined.wape };
    } finally {
      forecaster.dispose();
    }
  }
}

/** The trend input of a series at index `end`: last 7 days over the 21 before. */
export function trendOf(values: ArrayLike<number>, end: number): number {
  let last7 = 0;
  let previous21 = 0;
  for (let back = 0; back < 28 && end - back >= 0; back += 1) {
    if (back < 7) last7 += values[end - back]!;
    else previous21 += values[end - back]!;
  }
  return trendInput(last7, previous21);
}

/**
 * Daily usage totals of every tenant with usage between two day numbers (inclusive), as series from each tenant's
 * first day with usage (a tenant that joined recently has a short series, not a run of zeros) to `to`.
 */
export async function loadDailySeries(db: ShardedDatabase, from: number, to: number, tenantIds?: readonly string[]): Promise<DailySeries[]> {
  const series: DailySeries[] = [];
  const groups = tenantIds ? await db.groupByShard(tenantIds) : new Map(db.shardIds.map((shardId) => [shardId, null as string[] | null]));
  await Promise.all(
    [...groups].map(async ([shardId, ids]) => {
      const rows = await db.em(shardId).execute<{ tenant_id: string; day: string; quantity: string }[]>(
        `select tenant_id, to_char(day, 'YYYY-MM-DD') as day, sum(quantity)::text as quantity from daily_usage
          where day between ?::date and ?::date ${ids ? 'and tenant_id in (?)' : ''}
          group by tenant_id, day order by tenant_id, day`,
        ids ? [dayOfNumber(from), dayOfNumber(to), ids] : [dayOfNumber(from), dayOfNumber(to)],
      );
      let current: { id: string; days: Map<number, number> } | undefined;
      const flush = () => {
        if (!current || current.days.size === 0) return;
        const first = Math.min(...current.days.keys());
        const values = new Float64Array(to - first + 1);
        for (const [day, quantity] of current.days) values[day - first] = quantity;
        series.push({ id: current.id, start: first, values });
      };
      for (const row of rows) {
        if (current?.id !== row.tenant_id) {
          flush();
          current = { id: row.tenant_id, days: new Map() };
        }
        const quantity = Number(row.quantity);
        if (quantity > 0 || current.days.size > 0) current.days.set(dayNumber(row.day), quantity);
      }
      flush();
    }),
  );
  return series.filter((one) => one.values.length > 0).sort((a, b) => a.id.localeCompare(b.id));
}
