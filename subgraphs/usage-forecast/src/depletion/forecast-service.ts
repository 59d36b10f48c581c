import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { addDays, dayNumber, dayOfNumber, utcDay } from '../domain/days.js';
import { PROFILE_DAYS, type SeriesForecast } from '../forecasting/index.js';
import { loadDailySeries } from '../models/trainer.js';
import type { ModelServing, ServedModel } from '../models/serving.js';
import type { TenantProfileService, TenantProfileView } from '../services/tenant-profile-service.js';
import { DEPLETION_HORIZON_DAYS, depletionDate, type AutoTopUpPlan, type Depletion } from './depletion.js';

/** History the served forecaster reads per tenant: the twelve weeks its weekday profile is estimated from. */
const HISTORY_DAYS = PROFILE_DAYS;
/**
 * How long a tenant's quantity forecast and unit price are reused (completed days and prices rarely change; a new
 * model, a new day, late usage or a new price drops it). The balance and account settings are read every time.
 */
const CACHE_TTL_MS = 5 * 60_000;
/**
 * A forecast read this close to its expiry is still served, and recomputed in the background for the next read: a
 * tenant read at least every few minutes never waits for a database read and inference on its request.
 */
const REFRESH_AHEAD_MS = 60_000;
/** Tenants per background recomputation (one history read per shard and one batched inference each). */
const REFRESH_BATCH = 500;
const DAY_MS = 86_400_000;
/**
 * How old a tenant's account snapshot (overdraft limit, auto-top-up rule, payment failures) may be when a forecast
 * reuses it: one second, invisible to people and enough to spare the database a query per request under load.
 * Changes handled by this instance are seen at once (TenantProfileService.getRecent).
 */
const PROFILE_MAX_AGE_MS = 1_000;

export interface ForecastDay {
  date: string;
  quantity: number;
  lower: number;
  upper: number;
}

export interface TenantForecast {
  tenantId: string;
  days: ForecastDay[];
  depletion: Depletion | null;
  model: { version: number; trainedAt: Date | null; backtestWape: number | null };
}

/** A fresher balance than the event-fed profile: what billing answered through the graph (@requires). */
export interface BalanceHint {
  amountMinor: bigint;
  version: number;
}

export interface ForecastRequest {
  tenantId: string;
  days: number;
  balance?: BalanceHint | null;
}

interface CachedForecast {
  version: number;
  /** When a request last read it (Date.now()): only forecasts still being read are recomputed ahead. */
  readAt: number;
  /** Computed in the background rather than for the read that needed it. */
  madeAhead: boolean;
  /** The served model that made it (what the response reports, and how far its ranges are trusted). */
  model: Pick<ServedModel, 'version' | 'trainedAt' | 'backtestWape' | 'coverage'>;
  today: string;
  expires: number;
  forecast: SeriesForecast | null;
  /** Days of history behind it. */
  history: number;
  /** Average unit price (millionths of a minor unit) of the tenant's usage; null when billing charged it nothing yet. */
  unitPriceMicros: number | null;
}

/**
 * Tenant.forecast: the served model's daily usage forecast from today on, and the day the prepaid balance runs
 * out, pricing the forecast with the prices billing charged the tenant per product (weighted by its product mix of
 * the last four weeks), spending from the current balance down to the overdraft floor and topping up automatically
 * like billing would. Batched: one history read per shard for all tenants of a request that are not cached.
 */
export class ForecastService {
  private readonly cache = new Map<string, CachedForecast>();
  /** Bumped by every invalidation; per tenant, the value of its latest one (a computation older than it is not kept). */
  private invalidations = 0;
  private readonly invalidatedAt = new Map<string, number>();
  /** Tenants whose forecast is recomputed in the background (with when it was last read), and the run doing it. */
  private readonly ahead = new Map<string, number>();
  private refreshing: Promise<void> | undefined;
  private stopped = false;
  private readonly counts = { onRead: 0, ahead: 0 };

  constructor(
    private readonly db: ShardedDatabase,
    private readonly profiles: TenantProfileService,
    private readonly serving: ModelServing,
    private readonly now: () => Date = () => new Date(),
    private readonly logger?: Logger,
  ) {
    // A new model: every forecast still being read is made again with it, in the background.
    serving.onSwap(() => {
      const recent = Date.now() - CACHE_TTL_MS;
      const hot = [...this.cache].filter(([, entry]) => entry.readAt >= recent).map(([tenantId, entry]) => [tenantId, entry.readAt] as const);
      this.cache.clear();
      this.refreshAhead(hot);
    });
  }

  /**
   * Tenant forecasts computed so far when read (a request or a depletion check found none: a tenant not read for
   * minutes, a new day) and ahead of reads (in the background).
   */
  metrics(): { computedOnRead: number; computedAhead: number } {
    return { computedOnRead: this.counts.onRead, computedAhead: this.counts.ahead };
  }

  /** The tenant's cached forecast: the model version that made it, and whether it was made ahead of reads. */
  cached(tenantId: string): { modelVersion: number; madeAhead: boolean } | null {
    const entry = this.cache.get(tenantId);
    return entry ? { modelVersion: entry.version, madeAhead: entry.madeAhead } : null;
  }

  /** Resolves when no background recomputation is pending. */
  async idle(): Promise<void> {
    while (this.refreshing) await this.refreshing;
  }

  /** Ends background recomputation (the one running finishes). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ahead.clear();
    await this.idle();
  }

  /** True when this subgraph knows the tenant (tenant.created placed it, or it has usage). */
  async knows(tenantId: string): Promise<boolean> {
    return (await this.db.directory.lookupOne(tenantId)) !== undefined;
  }

  /**
   * Usage of past days changed (late events) or a new price was charged: the cached forecast is dropped at once and,
   * when the tenant's forecast is being read, made again in the background (a read before that computes it itself).
   */
  invalidate(tenantIds: Iterable<string>): void {
    const recent = Date.now() - CACHE_TTL_MS;
    const hot: Array<readonly [string, number]> = [];
    for (const tenantId of tenantIds) {
      const cached = this.cache.get(tenantId);
      if (cached && cached.readAt >= recent) hot.push([tenantId, cached.readAt]);
      this.cache.delete(tenantId);
      this.invalidations += 1;
      this.invalidatedAt.delete(tenantId);
      this.invalidatedAt.set(tenantId, this.invalidations);
    }
    while (this.invalidatedAt.size > 100_000) this.invalidatedAt.delete(this.invalidatedAt.keys().next().value!);
    this.refreshAhead(hot);
  }

  /** Whether an aggregated usage batch makes the tenant's cached forecast or price stale. */
  changesCached(recorded: { tenantId: string; events: ReadonlyArray<{ occurredAt: string; unitPriceMicros: string }> }): boolean {
    const cached = this.cache.get(recorded.tenantId);
    if (!cached) return false;
    const today = utcDay(this.now());
    return recorded.events.some((event) => event.occurredAt.slice(0, 10) < today) || cached.unitPriceMicros === null;
  }

  async forecast(requests: readonly ForecastRequest[]): Promise<TenantForecast[]> {
    const now = this.now();
    const today = utcDay(now);
    const tenantIds = [...new Set(requests.map((request) => request.tenantId))];
    const [quantities, profiles] = await Promise.all([this.quantities(tenantIds, today), this.profiles.getRecent(tenantIds, PROFILE_MAX_AGE_MS)]);
    const elapsed = (now.getTime() - Date.parse(`${today}T00:00:00.000Z`)) / DAY_MS;
    return requests.map((request) => {
      const cached = quantities.get(request.tenantId)!;
      const forecast = cached.forecast;
      const days: ForecastDay[] = Array.from({ length: request.days }, (_, index) => ({
        date: addDays(today, index),
        quantity: round3(forecast?.quantity[index] ?? 0),
        lower: round3(forecast?.lower[index] ?? 0),
        upper: round3(forecast?.upper[index] ?? 0),
      }));
      const { model } = cached;
      const depletion = this.depletion(
        request,
        forecast,
        profiles.get(request.tenantId),
        cached.unitPriceMicros,
        model.coverage,
        cached.history,
        today,
        elapsed,
      );
      return { tenantId: request.tenantId, days, depletion, model: { version: model.version, trainedAt: model.trainedAt, backtestWape: model.backtestWape } };
    });
  }

  private depletion(
    request: ForecastRequest,
    forecast: SeriesForecast | null,
    profile: TenantProfileView | undefined,
    unitPriceMicros: number | null,
    modelCoverage: number | null,
    history: number,
    today: string,
    elapsedToday: number,
  ): Depletion | null {
    if (!forecast || unitPriceMicros === null) return null;
    const fresher = request.balance && (!profile || request.balance.version >= profile.balanceVersion) ? request.balance.amountMinor : null;
    const balance = fresher ?? profile?.balanceMinor ?? null;
    if (balance === null) return null;
    const cost = (quantities: Float64Array) =>
      Array.from(quantities.subarray(0, DEPLETION_HORIZON_DAYS), (quantity, index) =>
        // Today only the rest of the day is still to be spent; money stays integer minor units.
        BigInt(Math.round((quantity * (index === 0 ? 1 - elapsedToday : 1) * unitPriceMicros) / 1_000_000)),
      );
    const rule = profile?.autoTopUp;
    // A rule whose last attempt failed (no top-up since) is not counted on: billing backs off after declines.
    const failing = profile?.lastPaymentFailureAt && (!profile.lastTopUpAt || profile.lastPaymentFailureAt > profile.lastTopUpAt);
    const autoTopUp: AutoTopUpPlan | null =
      rule?.enabled && !failing
        ? { thresholdMinor: BigInt(rule.thresholdMinor), mode: rule.mode, amountMinor: BigInt(rule.amountMinor), dailyCapMinor: BigInt(rule.dailyCapMinor) }
        : null;
    const coverage = modelCoverage ?? 0.7;
    return depletionDate({
      today,
      balanceMinor: balance,
      floorMinor: -(profile?.overdraftLimitMinor ?? 0n),
      costs: { high: cost(forecast.upper), median: cost(forecast.quantity), low: cost(forecast.lower) },
      autoTopUp,
      // Ranges learned from four weeks of a tenant's history or more hold as measured; less history, less trust.
      reliability: (Math.min(0.8, coverage) / 0.8) * Math.min(1, history / 28) * 0.8 + (failing ? -0.1 : 0),
    });
  }

  /** Recomputes these tenants' forecasts in the background, a batch at a time, requests first. */
  private refreshAhead(tenants: ReadonlyArray<readonly [string, number]>): void {
    if (this.stopped) return;
    for (const [tenantId, readAt] of tenants) this.ahead.set(tenantId, readAt);
    if (this.ahead.size === 0 || this.refreshing) return;
    this.refreshing = (async () => {
      while (this.ahead.size > 0 && !this.stopped) {
        // Queued requests go first: this is the work they would otherwise do themselves.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = new Map([...this.ahead].slice(0, REFRESH_BATCH));
        for (const tenantId of batch.keys()) this.ahead.delete(tenantId);
        try {
          await this.compute([...batch.keys()], utcDay(this.now()), batch);
        } catch (error) {
          // The next read of these tenants computes their forecast itself.
          this.logger?.warn('could not recompute forecasts ahead of requests', { tenants: batch.size, error: (error as Error).message });
        }
      }
    })().finally(() => (this.refreshing = undefined));
  }

  /** The cached or freshly computed 90-day forecast and unit price per tenant (from today). */
  private async quantities(tenantIds: readonly string[], today: string): Promise<Map<string, CachedForecast>> {
    const result = new Map<string, CachedForecast>();
    const missing: string[] = [];
    const soon: Array<readonly [string, number]> = [];
    const now = Date.now();
    const served = this.serving.current().version;
    for (const tenantId of tenantIds) {
      const cached = this.cache.get(tenantId);
      // Without a known price the entry is not reused: the first charged usage may be committing right now.
      if (cached && cached.version === served && cached.today === today && cached.expires > now && cached.unitPriceMicros !== null) {
        cached.readAt = now;
        if (cached.expires - now < REFRESH_AHEAD_MS) soon.push([tenantId, now]);
        result.set(tenantId, cached);
      } else missing.push(tenantId);
    }
    this.refreshAhead(soon);
    if (missing.length === 0) return result;
    for (const [tenantId, entry] of await this.compute(missing, today)) result.set(tenantId, entry);
    return result;
  }

  /**
   * Reads the tenants' history and prices, forecasts them with the served model and caches the result: for a read, or
   * ahead of reads (`ahead`: when each tenant was last read).
   */
  private async compute(missing: readonly string[], today: string, ahead?: ReadonlyMap<string, number>): Promise<Map<string, CachedForecast>> {
    const result = new Map<string, CachedForecast>();
    const now = Date.now();
    const startedAfter = this.invalidations;
    const yesterday = dayNumber(today) - 1;
    const [series, prices] = await Promise.all([loadDailySeries(this.db, yesterday - HISTORY_DAYS + 1, yesterday, missing), this.unitPrices(missing, today)]);
    // The model is taken after the reads: a swap while they ran has disposed the one served before them. Forecasting
    // is synchronous from here, so no swap can come between taking the model and using it.
    const model = this.serving.current();
    const forecasts = model.forecast(series, DEPLETION_HORIZON_DAYS);
    const byTenant = new Map(forecasts.map((forecast, index) => [forecast.id, { forecast, history: series[index]!.values.length }]));
    const made = { version: model.version, trainedAt: model.trainedAt, backtestWape: model.backtestWape, coverage: model.coverage };
    for (const tenantId of missing) {
      const found = byTenant.get(tenantId);
      const entry: CachedForecast = {
        version: model.version,
        readAt: ahead?.get(tenantId) ?? now,
        madeAhead: ahead !== undefined,
        model: made,
        today,
        expires: now + CACHE_TTL_MS,
        forecast: found?.forecast ?? null,
        history: found?.history ?? 0,
        unitPriceMicros: prices.get(tenantId) ?? null,
      };
      // Usage or prices that changed while this ran (an invalidation after it started) make the next read compute again.
      if ((this.invalidatedAt.get(tenantId) ?? 0) <= startedAfter) this.cache.set(tenantId, entry);
      result.set(tenantId, entry);
    }
    this.counts[ahead ? 'ahead' : 'onRead'] += missing.length;
    // Bounded: a cache the size of the tenant base at most, oldest entries dropped first.
    while (this.cache.size > 100_000) this.cache.delete(this.cache.keys().next().value!);
    return result;
  }

  /**
   * The average price per unit of the tenant's usage in millionths of a minor unit: each product's last charged
   * unit price weighted by its share of the last 28 days' quantity. Null when no product has a known price.
   */
  private async unitPrices(tenantIds: readonly string[], today: string): Promise<Map<string, number>> {
    const prices = new Map<string, number>();
    const groups = await this.db.groupByShard(tenantIds);
    const since = dayOfNumber(dayNumber(today) - 28);
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db.em(shardId).execute<{ tenant_id: string; quantity: string; price: string }[]>(
          `select p.tenant_id, coalesce(sum(u.quantity), 0)::text as quantity, p.unit_price_micros::text as price
             from tenant_price p left join daily_usage u on u.tenant_id = p.tenant_id and u.product = p.product and u.day >= ?::date
            where p.tenant_id in (?) group by p.tenant_id, p.product, p.unit_price_micros`,
          [since, ids],
        );
        const totals = new Map<string, { quantity: number; weighted: number; plain: number; products: number }>();
        for (const row of rows) {
          const own = totals.get(row.tenant_id) ?? { quantity: 0, weighted: 0, plain: 0, products: 0 };
          own.quantity += Number(row.quantity);
          own.weighted += Number(row.quantity) * Number(row.price);
          own.plain += Number(row.price);
          own.products += 1;
          totals.set(row.tenant_id, own);
        }
        for (const [tenantId, own] of totals) prices.set(tenantId, own.quantity > 0 ? own.weighted / own.quantity : own.plain / own.products);
      }),
    );
    return prices;
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
