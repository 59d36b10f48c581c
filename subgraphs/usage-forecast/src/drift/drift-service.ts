import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { dayNumber, utcDay } from '../domain/days.js';
import { PROFILE_DAYS } from '../forecasting/index.js';
import type { ModelRegistry } from '../models/registry.js';
import type { ModelServing } from '../models/serving.js';
import { loadDailySeries } from '../models/trainer.js';
import { drifted, exceeds, type DriftThresholds } from './drift.js';
import { hourShares, observeDrift, type DriftTenantData } from './monitor.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Fewer tenants than this with usage in the window say nothing about a model. */
const MIN_TENANTS = 5;

export interface DriftCheckResult {
  version: number;
  rollingWape: number;
  bias: number;
  psi: number;
  tenants: number;
  exceeded: boolean;
  /** The version was flagged by this check (retraining requested). */
  flagged: boolean;
}

/**
 * The hourly drift check of the served version over the last 24 hours, recorded in drift_check; two exceeding
 * checks in a row flag the version in the registry and request retraining (`retrain`).
 */
export class DriftService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly registry: ModelRegistry,
    private readonly serving: ModelServing,
    private readonly thresholds: DriftThresholds,
    private readonly retrain: (reason: string) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  async check(windowEnd: Date): Promise<DriftCheckResult | null> {
    const model = this.serving.current();
    if (model.version === 0 || !model.reference || model.backtestWape === null) return null;
    const end = Math.floor(windowEnd.getTime() / HOUR_MS) * HOUR_MS;
    const tenants = await this.gather(end);
    // A swap while the data was read disposed the model taken before: check the version that is served now next hour.
    if (tenants.length < MIN_TENANTS || this.serving.current() !== model) return null;
    const observation = observeDrift(model, model.reference.trend, tenants, new Date(end));
    if (observation.tenants < MIN_TENANTS) return null;
    const exceeded = exceeds(observation, model.backtestWape, this.thresholds);
    await this.db.globalEm().execute(
      `insert into drift_check (model_version, window_end, rolling_wape, bias, psi, tenants, flagged, checked_at) values (?, ?, ?, ?, ?, ?, ?, now())
       on conflict (model_version, window_end) do update set rolling_wape = excluded.rolling_wape, bias = excluded.bias, psi = excluded.psi, tenants = excluded.tenants,
         flagged = excluded.flagged, checked_at = excluded.checked_at`,
      [model.version, new Date(end), observation.rollingWape, observation.bias, observation.psi, observation.tenants, exceeded],
      'run',
    );
    const recent = await this.db
      .globalEm()
      .execute<{ flagged: boolean }[]>('select flagged from drift_check where model_version = ? and window_end <= ? order by window_end desc limit ?', [
        model.version,
        new Date(end),
        this.thresholds.consecutive,
      ]);
    let flagged = false;
    if (drifted(recent.map((row) => row.flagged).reverse(), this.thresholds)) {
      const reason = `rolling 24 h WAPE ${observation.rollingWape.toFixed(3)} (validation ${model.backtestWape.toFixed(3)}), bias ${(observation.bias * 100).toFixed(1)} %, input PSI ${observation.psi.toFixed(3)}`;
      flagged = await this.registry.flagDrift(model.version, reason, new Date());
      if (flagged) {
        this.logger.warn('forecast model drifted; retraining', { version: model.version, reason });
        await this.retrain('drift');
      }
    }
    return { version: model.version, ...observation, exceeded, flagged };
  }

  /** Latest checks of a version, newest first (modelStatus). */
  async recent(
    version: number,
    limit = 24,
  ): Promise<Array<{ windowEnd: Date; rollingWape: number; bias: number; psi: number; tenants: number; flagged: boolean }>> {
    const rows = await this.db
      .globalEm()
      .execute<{ window_end: Date; rolling_wape: number; bias: number; psi: number; tenants: number; flagged: boolean }[]>(
        'select window_end, rolling_wape, bias, psi, tenants, flagged from drift_check where model_version = ? order by window_end desc limit ?',
        [version, limit],
      );
    return rows.map((row) => ({
      windowEnd: new Date(row.window_end),
      rollingWape: row.rolling_wape,
      bias: row.bias,
      psi: row.psi,
      tenants: row.tenants,
      flagged: row.flagged,
    }));
  }

  /** Tenants with usage in the window: their window hours, hour-of-day shares (two weeks) and daily history. */
  private async gather(end: number): Promise<DriftTenantData[]> {
    const start = end - DAY_MS;
    const historyFrom = start - 14 * DAY_MS;
    const tenants: DriftTenantData[] = [];
    for (const shardId of this.db.shardIds) {
      const rows = await this.db.em(shardId).execute<{ tenant_id: string; hour: Date; quantity: string }[]>(
        `select tenant_id, hour, quantity::text from hourly_usage where hour >= ? and hour < ?
             and tenant_id in (select distinct tenant_id from hourly_usage where hour >= ? and hour < ?)`,
        [new Date(historyFrom), new Date(end), new Date(start), new Date(end)],
      );
      const byTenant = new Map<string, Array<{ hour: Date; quantity: number }>>();
      for (const row of rows)
        byTenant.set(row.tenant_id, [...(byTenant.get(row.tenant_id) ?? []), { hour: new Date(row.hour), quantity: Number(row.quantity) }]);
      if (byTenant.size === 0) continue;
      const lastDay = dayNumber(utcDay(new Date(start))) - 1;
      const daily = new Map((await loadDailySeries(this.db, lastDay - PROFILE_DAYS + 1, lastDay, [...byTenant.keys()])).map((series) => [series.id, series]));
      for (const [tenantId, hours] of byTenant) {
        const series = daily.get(tenantId);
        if (!series) continue;
        const window = new Float64Array(24);
        for (const { hour, quantity } of hours) if (hour.getTime() >= start) window[Math.round((hour.getTime() - start) / HOUR_MS)] = quantity;
        tenants.push({ daily: series, window, hourShares: hourShares(hours.filter(({ hour }) => hour.getTime() < start)) });
      }
    }
    return tenants;
  }
}
