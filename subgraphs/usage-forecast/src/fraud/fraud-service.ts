import { v7 as uuidv7 } from 'uuid';
import type { EntityManager } from '@mikro-orm/postgresql';
import { FraudCaseOpened, FraudCaseResolved, OUTBOX_INSERT, outboxRow, type OutboxRelay } from '@saldo/events';
import { ErrorCode, SaldoError } from '@saldo/graphql';
import { gatherPage, type ShardedDatabase } from '@saldo/sharding';
import type { FraudCaseStatus, FraudSignalRecord } from '../entities/fraud-case.js';
import { ForecastErrorCode, forecastError } from '../errors.js';
import type { Severity } from '../entities/usage-anomaly.js';
import type { TenantProfileService } from '../services/tenant-profile-service.js';
import { OPEN_SCORE, RISK_HISTORY_HOURS, combinedScore, fraudSignals, severityOfFraud, type FraudSignal } from './scoring.js';

const HOUR_MS = 3_600_000;

export interface FraudCaseView {
  id: string;
  tenantId: string;
  partnerId: string | null;
  status: FraudCaseStatus;
  score: number;
  severity: Severity;
  signals: FraudSignalRecord[];
  usageSuspended: boolean;
  openedAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
  resolvedBy: string | null;
  note: string | null;
}

interface CaseRow {
  id: string;
  tenant_id: string;
  partner_id: string | null;
  status: FraudCaseStatus;
  score: number;
  severity: Severity;
  signals: FraudSignalRecord[];
  usage_suspended: boolean;
  opened_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  note: string | null;
}

const CASE_COLUMNS = 'id, tenant_id, partner_id, status, score, severity, signals, usage_suspended, opened_at, updated_at, resolved_at, resolved_by, note';

export interface FraudOptions {
  /** The most units one tenant can use in an hour (the platform's per-tenant rate ceiling). */
  maxHourlyUnits: number;
  now: () => Date;
}

/**
 * Fraud cases: evaluates a tenant's risk signals (after its usage was aggregated, and after payment failures),
 * opens one case per tenant while the combined score is at or above OPEN_SCORE (raising its score and signals on
 * new evidence), publishes fraud.case_opened with the partner's suspension policy applied, and lets platform
 * operators list and resolve cases.
 */
export class FraudService {
  private readonly policies = new Map<string, { suspend: boolean; at: number }>();

  constructor(
    private readonly db: ShardedDatabase,
    private readonly profiles: TenantProfileService,
    private readonly relay: Pick<OutboxRelay, 'poke'>,
    private readonly options: FraudOptions,
  ) {}

  /** Scores each tenant now; returns the tenants a case was opened or raised for. */
  async evaluate(tenantIds: readonly string[]): Promise<string[]> {
    const now = this.options.now();
    const unique = [...new Set(tenantIds)];
    if (unique.length === 0) return [];
    const [profiles, hourly, failures, firstUsage] = await Promise.all([
      this.profiles.get(unique),
      this.hourly(unique, now),
      this.failures(unique, now),
      this.firstUsage(unique),
    ]);
    const flagged: string[] = [];
    for (const tenantId of unique) {
      const profile = profiles.get(tenantId);
      const spent = profile?.lastTopUpBalanceMinor != null && profile.balanceMinor != null ? profile.lastTopUpBalanceMinor - profile.balanceMinor : 0n;
      const signals = fraudSignals({
        now,
        createdAt: establishedSince(profile?.createdAt ?? null, firstUsage.get(tenantId) ?? null),
        hourly: hourly.get(tenantId) ?? new Float64Array(1),
        maxHourlyUnits: this.options.maxHourlyUnits,
        failures24h: failures.get(tenantId)?.day ?? 0,
        declines7d: failures.get(tenantId)?.week ?? 0,
        lastTopUp: profile?.lastTopUpAt && profile.lastTopUpMinor != null ? { at: profile.lastTopUpAt, amountMinor: profile.lastTopUpMinor } : null,
        costSinceTopUpMinor: spent > 0n ? spent : 0n,
      });
      const score = combinedScore(signals);
      if (score < OPEN_SCORE) continue;
      if (await this.openOrRaise(tenantId, profile?.partnerId ?? null, score, signals, now)) flagged.push(tenantId);
    }
    if (flagged.length > 0) this.relay.poke();
    return flagged;
  }

  /** Operators: cases across all shards, newest first (by id), optionally one status. */
  async list(options: { status: FraudCaseStatus | null; first: number; after: string | null }): Promise<{ items: FraudCaseView[]; hasNextPage: boolean }> {
    const page = await gatherPage(
      this.db.shardIds,
      options.first,
      (shardId, limit) =>
        this.db
          .em(shardId)
          .execute<CaseRow[]>(
            `select ${CASE_COLUMNS} from fraud_case where true ${options.status ? 'and status = ?' : ''} ${options.after ? 'and id < ?' : ''} order by id desc limit ?`,
            [...(options.status ? [options.status] : []), ...(options.after ? [options.after] : []), limit],
          )
          .then((rows) => rows.map(toView)),
      (a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
    );
    return page;
  }

  /**
   * Resolves an open case as CONFIRMED or DISMISSED. A case that suspended the tenant's usage publishes
   * fraud.case_resolved with resumeUsage (dismissed: the tenant may use the service again; confirmed: it stays
   * suspended until an operator reactivates it).
   */
  async resolve(caseId: string, resolution: 'CONFIRMED' | 'DISMISSED', resolvedBy: string, note: string | null): Promise<FraudCaseView> {
    const now = this.options.now();
    for (const shardId of this.db.shardIds) {
      const em = this.db.em(shardId);
      const [existing] = await em.execute<CaseRow[]>(`select ${CASE_COLUMNS} from fraud_case where id = ?`, [caseId]);
      if (!existing) continue;
      if (existing.status !== 'OPEN') throw new SaldoError(ErrorCode.InvalidState, `The fraud case is ${existing.status} already.`);
      const event = outboxRow(FraudCaseResolved, existing.tenant_id, {
        caseId,
        tenantId: existing.tenant_id,
        resolution,
        resumeUsage: existing.usage_suspended && resolution === 'DISMISSED',
        resolvedAt: now.toISOString(),
      });
      // Written where the directory places the tenant: a case found on a shard its tenant just left is resolved on the new one.
      const [row] = await this.db.forTenant(existing.tenant_id, (tenantEm) =>
        tenantEm.execute<CaseRow[]>(
          `with updated as (
             update fraud_case set status = ?, resolved_at = ?, resolved_by = ?, note = ?, updated_at = ? where id = ? and status = 'OPEN' returning ${CASE_COLUMNS}
           ), events as (${OUTBOX_INSERT.replace('from jsonb_array_elements(?::jsonb)', 'from updated, jsonb_array_elements(?::jsonb)')} returning 1)
           select * from updated`,
          [resolution, now, resolvedBy, note, now, caseId, JSON.stringify([event])],
        ),
      );
      if (!row) throw new SaldoError(ErrorCode.InvalidState, 'The fraud case was resolved concurrently.');
      this.relay.poke();
      return toView(row);
    }
    throw forecastError(ForecastErrorCode.FraudCaseNotFound, 'No fraud case has this id.', { field: 'id' });
  }

  /** A partner's policy: suspend its tenants' usage while a critical case is open. */
  async setPolicy(partnerId: string, suspendOnCritical: boolean): Promise<void> {
    await this.db.globalEm().execute(
      `insert into fraud_policy (partner_id, suspend_on_critical, updated_at) values (?, ?, now())
         on conflict (partner_id) do update set suspend_on_critical = excluded.suspend_on_critical, updated_at = now()`,
      [partnerId, suspendOnCritical],
      'run',
    );
    this.policies.delete(partnerId);
  }

  async policy(partnerId: string | null): Promise<boolean> {
    if (!partnerId) return false;
    const cached = this.policies.get(partnerId);
    if (cached && cached.at > Date.now() - 30_000) return cached.suspend;
    const [row] = await this.db
      .globalEm()
      .execute<{ suspend_on_critical: boolean }[]>('select suspend_on_critical from fraud_policy where partner_id = ?', [partnerId]);
    const suspend = row?.suspend_on_critical ?? false;
    this.policies.set(partnerId, { suspend, at: Date.now() });
    return suspend;
  }

  /** Opens a case (with its event) or raises the open one; true when something changed. */
  private async openOrRaise(tenantId: string, partnerId: string | null, score: number, signals: readonly FraudSignal[], now: Date): Promise<boolean> {
    const changed = await this.db.forTenantIfPlaced(tenantId, (em) => this.openOrRaiseOn(em, tenantId, partnerId, score, signals, now));
    return changed ?? false;
  }

  private async openOrRaiseOn(
    em: EntityManager,
    tenantId: string,
    partnerId: string | null,
    score: number,
    signals: readonly FraudSignal[],
    now: Date,
  ): Promise<boolean> {
    const severity = severityOfFraud(score);
    const records: FraudSignalRecord[] = signals.map((signal) => ({ ...signal, at: now.toISOString() }));
    const raised = await em.execute<{ id: string }[]>(
      `update fraud_case set score = ?, severity = ?, signals = signals || ?::jsonb, updated_at = ? where tenant_id = ? and status = 'OPEN' and score < ? returning id`,
      [score, severity, JSON.stringify(records), now, tenantId, score],
    );
    if (raised.length > 0) return true;
    const id = uuidv7();
    const suspend = severity === 'CRITICAL' && (await this.policy(partnerId));
    const event = outboxRow(
      FraudCaseOpened,
      tenantId,
      {
        caseId: id,
        tenantId,
        partnerId,
        score,
        severity,
        signals: signals.map((signal) => ({ ...signal })),
        suspendUsage: suspend,
        openedAt: now.toISOString(),
      },
      now,
    );
    const [inserted] = await em.execute<{ inserted: number }[]>(
      `with inserted as (
         insert into fraud_case (${CASE_COLUMNS}) values (?, ?, ?, 'OPEN', ?, ?, ?::jsonb, ?, ?, ?, null, null, null)
         on conflict ("tenant_id") where "status" = 'OPEN' do nothing returning id
       ), events as (${OUTBOX_INSERT.replace('from jsonb_array_elements(?::jsonb)', 'from inserted, jsonb_array_elements(?::jsonb)')} returning 1)
       select count(*)::int as inserted from inserted`,
      [id, tenantId, partnerId, score, severity, JSON.stringify(records), suspend, now, now, JSON.stringify([event])],
    );
    return (inserted?.inserted ?? 0) > 0;
  }

  /** Hourly usage per tenant, index 0 = the current hour, back four weeks. */
  private async hourly(tenantIds: readonly string[], now: Date): Promise<Map<string, Float64Array>> {
    const current = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
    const from = current - RISK_HISTORY_HOURS * HOUR_MS;
    const result = new Map<string, Float64Array>();
    const groups = await this.db.groupByShard(tenantIds);
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db.em(shardId).execute<{ tenant_id: string; hour: Date; quantity: string; first_hour: Date }[]>(
          `select h.tenant_id, h.hour, h.quantity::text, f.first_hour from hourly_usage h
               join (select tenant_id, min(hour) as first_hour from hourly_usage where tenant_id in (?) and hour >= ? group by tenant_id) f using (tenant_id)
              where h.tenant_id in (?) and h.hour >= ? and h.hour <= ?`,
          [ids, new Date(from), ids, new Date(from), new Date(current)],
        );
        for (const row of rows) {
          // History starts at the tenant's first hour with usage: a new tenant has a short history, not zeros.
          const length = Math.round((current - new Date(row.first_hour).getTime()) / HOUR_MS) + 1;
          const values = result.get(row.tenant_id) ?? new Float64Array(length);
          values[Math.round((current - new Date(row.hour).getTime()) / HOUR_MS)] = Number(row.quantity);
          result.set(row.tenant_id, values);
        }
      }),
    );
    return result;
  }

  /** The first day each tenant used the service (a tenant moved in with its history is not new). */
  private async firstUsage(tenantIds: readonly string[]): Promise<Map<string, Date>> {
    const result = new Map<string, Date>();
    const groups = await this.db.groupByShard(tenantIds);
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db
          .em(shardId)
          .execute<{ tenant_id: string; first: string }[]>(
            `select tenant_id, to_char(min(day), 'YYYY-MM-DD') as first from daily_usage where tenant_id in (?) group by tenant_id`,
            [ids],
          );
        for (const row of rows) result.set(row.tenant_id, new Date(`${row.first}T00:00:00.000Z`));
      }),
    );
    return result;
  }

  private async failures(tenantIds: readonly string[], now: Date): Promise<Map<string, { day: number; week: number }>> {
    const result = new Map<string, { day: number; week: number }>();
    const groups = await this.db.groupByShard(tenantIds);
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db.em(shardId).execute<{ tenant_id: string; day: number; week: number }[]>(
          `select tenant_id, count(*) filter (where failed_at > ?)::int as day, count(*)::int as week from payment_failure
            where tenant_id in (?) and failed_at > ? group by tenant_id`,
          [new Date(now.getTime() - 24 * HOUR_MS), ids, new Date(now.getTime() - 7 * 24 * HOUR_MS)],
        );
        for (const row of rows) result.set(row.tenant_id, { day: row.day, week: row.week });
      }),
    );
    return result;
  }
}

/** How long a tenant has been around: since its creation, or its first usage if that is older (imported history). */
function establishedSince(createdAt: Date | null, firstUsage: Date | null): Date | null {
  if (!createdAt) return firstUsage;
  return firstUsage && firstUsage < createdAt ? firstUsage : createdAt;
}

function toView(row: CaseRow): FraudCaseView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    partnerId: row.partner_id,
    status: row.status,
    score: row.score,
    severity: row.severity,
    signals: row.signals,
    usageSuspended: row.usage_suspended,
    openedAt: new Date(row.opened_at),
    updatedAt: new Date(row.updated_at),
    resolvedAt: row.resolved_at ? new Date(row.resolved_at) : null,
    resolvedBy: row.resolved_by,
    note: row.note,
  };
}
