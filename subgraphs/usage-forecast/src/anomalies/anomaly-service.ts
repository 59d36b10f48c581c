import { v7 as uuidv7 } from 'uuid';
import { AnomalyDetected, OUTBOX_INSERT, outboxRow, type OutboxRelay } from '@saldo/events';
import type { ShardedDatabase, ShardId } from '@saldo/sharding';
import type { AnomalyGranularity, Severity } from '../entities/usage-anomaly.js';
import { DAILY, HOURLY, scorePeriod, type AnomalyScore } from './detector.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface AnomalyView {
  id: string;
  tenantId: string;
  granularity: AnomalyGranularity;
  periodStart: Date;
  observed: number;
  expected: number;
  score: number;
  severity: Severity;
  detectedAt: Date;
}

interface AnomalyRow {
  id: string;
  tenant_id: string;
  granularity: AnomalyGranularity;
  period_start: Date;
  observed: number;
  expected: number;
  score: number;
  severity: Severity;
  detected_at: Date;
}

/** An anomaly and its anomaly.detected event in one statement; a period already recorded writes neither. */
const INSERT = `with inserted as (
    insert into usage_anomaly (id, tenant_id, granularity, period_start, observed, expected, score, severity, detected_at)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (tenant_id, granularity, period_start) do nothing returning id
  ), events as (${OUTBOX_INSERT.replace('from jsonb_array_elements(?::jsonb)', 'from inserted, jsonb_array_elements(?::jsonb)')} returning 1)
  select count(*)::int as inserted from inserted`;

/**
 * Checks each tenant's last complete hour (and, once a day, the last complete day) against its seasonal profile and
 * records anomalies (usage_anomaly, one per tenant and period) with an anomaly.detected event. Runs as a durable
 * hourly job; a rerun of the same hour finds the same anomalies already recorded.
 */
export class AnomalyService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly relay: Pick<OutboxRelay, 'poke'>,
  ) {}

  /** Checks the hour ending at `hourEnd` (and the day ending at its UTC midnight, if the hour is the day's last). */
  async checkHour(hourEnd: Date): Promise<{ tenants: number; anomalies: number }> {
    const end = Math.floor(hourEnd.getTime() / HOUR_MS) * HOUR_MS;
    let tenants = 0;
    let anomalies = 0;
    for (const shardId of this.db.shardIds) {
      const found = await this.checkShard(shardId, end);
      tenants += found.tenants;
      anomalies += found.anomalies;
    }
    if (anomalies > 0) this.relay.poke();
    return { tenants, anomalies };
  }

  private async checkShard(shardId: ShardId, end: number): Promise<{ tenants: number; anomalies: number }> {
    const em = this.db.em(shardId);
    const hours = HOURLY.period * 4 + HOURLY.residualWindow + 1;
    const firstHour = end - hours * HOUR_MS;
    const hourly = await em.execute<{ tenant_id: string; hour: Date; quantity: string }[]>(
      `select tenant_id, hour, quantity::text from hourly_usage
        where hour >= ? and hour < ? and tenant_id in (select tenant_id from hourly_usage where hour >= ? and hour < ?)`,
      [new Date(firstHour), new Date(end), new Date(end - 7 * DAY_MS), new Date(end)],
    );
    const perTenant = new Map<string, Float64Array>();
    for (const row of hourly) {
      const values = perTenant.get(row.tenant_id) ?? new Float64Array(hours);
      values[Math.round((new Date(row.hour).getTime() - firstHour) / HOUR_MS)] = Number(row.quantity);
      perTenant.set(row.tenant_id, values);
    }
    let anomalies = 0;
    const detectedAt = new Date();
    for (const [tenantId, values] of perTenant) {
      const score = scorePeriod(values, hours - 1, HOURLY.period, HOURLY.residualWindow);
      if (score?.severity && (await this.record(tenantId, 'HOUR', new Date(end - HOUR_MS), score, detectedAt))) anomalies += 1;
    }
    // The day that just ended (the job for 00:00-01:00 UTC's predecessor hour closes it).
    if (end % DAY_MS === 0) anomalies += await this.checkDay(shardId, end, detectedAt);
    return { tenants: perTenant.size, anomalies };
  }

  private async checkDay(shardId: ShardId, dayEnd: number, detectedAt: Date): Promise<number> {
    const days = DAILY.period * 4 + DAILY.residualWindow + 1;
    const first = dayEnd - days * DAY_MS;
    const rows = await this.db.em(shardId).execute<{ tenant_id: string; day: string; quantity: string }[]>(
      `select tenant_id, to_char(day, 'YYYY-MM-DD') as day, sum(quantity)::text as quantity from daily_usage
        where day >= ?::date and day < ?::date group by tenant_id, day`,
      [new Date(first).toISOString().slice(0, 10), new Date(dayEnd).toISOString().slice(0, 10)],
    );
    const perTenant = new Map<string, Float64Array>();
    for (const row of rows) {
      const values = perTenant.get(row.tenant_id) ?? new Float64Array(days);
      values[Math.round((Date.parse(`${row.day}T00:00:00.000Z`) - first) / DAY_MS)] = Number(row.quantity);
      perTenant.set(row.tenant_id, values);
    }
    let anomalies = 0;
    for (const [tenantId, values] of perTenant) {
      const score = scorePeriod(values, days - 1, DAILY.period, DAILY.residualWindow);
      if (score?.severity && (await this.record(tenantId, 'DAY', new Date(dayEnd - DAY_MS), score, detectedAt))) anomalies += 1;
    }
    return anomalies;
  }

  /** Records one anomaly with its event; false when the period was recorded already. */
  async record(tenantId: string, granularity: AnomalyGranularity, periodStart: Date, score: AnomalyScore, detectedAt: Date): Promise<boolean> {
    const id = uuidv7();
    const severity = score.severity!;
    const event = outboxRow(
      AnomalyDetected,
      tenantId,
      {
        anomalyId: id,
        tenantId,
        granularity,
        periodStart: periodStart.toISOString(),
        observed: score.observed,
        expected: score.expected,
        score: score.score,
        severity,
        detectedAt: detectedAt.toISOString(),
      },
      detectedAt,
    );
    // Written through the directory: a tenant that moved shards since its usage was read gets it on its new shard.
    const [row] =
      (await this.db.forTenantIfPlaced(tenantId, (em) =>
        em.execute<{ inserted: number }[]>(INSERT, [
          id,
          tenantId,
          granularity,
          periodStart,
          score.observed,
          score.expected,
          score.score,
          severity,
          detectedAt,
          JSON.stringify([event]),
        ]),
      )) ?? [];
    return (row?.inserted ?? 0) > 0;
  }

  /** A tenant's anomalies, newest first, after a cursor id and since an instant. */
  async list(tenantId: string, options: { first: number; after: string | null; since: Date | null }): Promise<{ items: AnomalyView[]; hasNextPage: boolean }> {
    const located = await this.db.emForTenant(tenantId);
    if (!located) return { items: [], hasNextPage: false };
    const rows = await located.em.execute<AnomalyRow[]>(
      `select id, tenant_id, granularity, period_start, observed, expected, score, severity, detected_at from usage_anomaly
        where tenant_id = ? ${options.after ? 'and id < ?' : ''} ${options.since ? 'and period_start >= ?' : ''}
        order by id desc limit ?`,
      [tenantId, ...(options.after ? [options.after] : []), ...(options.since ? [options.since] : []), options.first + 1],
    );
    return {
      items: rows.slice(0, options.first).map((row) => ({
        id: row.id,
        tenantId: row.tenant_id,
        granularity: row.granularity,
        periodStart: new Date(row.period_start),
        observed: row.observed,
        expected: row.expected,
        score: row.score,
        severity: row.severity,
        detectedAt: new Date(row.detected_at),
      })),
      hasNextPage: rows.length > options.first,
    };
  }
}
