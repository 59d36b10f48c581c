import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import type { AnomalyService } from '../anomalies/anomaly-service.js';
import type { DepletionNotifier } from '../depletion/depletion-notifier.js';
import type { ForecastRequest, ForecastService, TenantForecast } from '../depletion/forecast-service.js';
import type { DriftService } from '../drift/drift-service.js';
import type { FraudService } from '../fraud/fraud-service.js';
import type { ModelLifecycle } from '../models/lifecycle.js';
import type { ModelRegistry } from '../models/registry.js';
import type { ModelServing } from '../models/serving.js';
import type { ModelTrainer } from '../models/trainer.js';
import type { TenantProfileService } from '../services/tenant-profile-service.js';
import type { ThrottledChecks } from '../services/throttled-checks.js';
import type { UsageDay, UsageService } from '../services/usage-service.js';

export interface UsageForecastServices {
  usage: UsageService;
  profiles: TenantProfileService;
  registry: ModelRegistry;
  serving: ModelServing;
  trainer: ModelTrainer;
  lifecycle: ModelLifecycle;
  forecasts: ForecastService;
  depletion: DepletionNotifier;
  anomalies: AnomalyService;
  fraud: FraudService;
  drift: DriftService;
  /** Fraud evaluation and depletion warnings after events, throttled per tenant. */
  fraudChecks: ThrottledChecks;
  depletionChecks: ThrottledChecks;
  /** MODEL_UPDATE_INTERVAL, for modelStatus. */
  modelUpdateIntervalSeconds: number;
}

export type UsageForecastContext = SubgraphContext<UsageForecastServices>;

export interface UsageKey {
  /** Validated and lower-cased by the caller. */
  tenantId: string;
  days: number;
}

/**
 * Every Tenant.usage / tenantUsage in one request is one batched read: the batch asks for the widest window
 * among its keys (one directory lookup + one query per shard) and cuts each key's own window from it.
 */
export function usageLoader(ctx: UsageForecastContext): Loader<UsageKey, UsageDay[]> {
  return ctx.loader<UsageKey, UsageDay[]>(
    'usage',
    async (keys) => {
      const tenantIds = [...new Set(keys.map((key) => key.tenantId))];
      const widest = Math.max(...keys.map((key) => key.days));
      const totals = await ctx.services.usage.dailyTotals(tenantIds, widest);
      const byTenant = new Map(tenantIds.map((tenantId, index) => [tenantId, totals[index] ?? []]));
      return keys.map((key) => (byTenant.get(key.tenantId) ?? []).slice(-key.days));
    },
    { cacheKeyFn: (key) => `${key.tenantId}:${key.days}` as unknown as UsageKey },
  );
}

/** Every Tenant.forecast / tenantForecast of a request in one batch: one history read per shard. */
export function forecastLoader(ctx: UsageForecastContext): Loader<ForecastRequest, TenantForecast> {
  return ctx.loader<ForecastRequest, TenantForecast>('forecast', (requests) => ctx.services.forecasts.forecast(requests), {
    cacheKeyFn: (request) => `${request.tenantId}:${request.days}:${request.balance?.version ?? ''}` as unknown as ForecastRequest,
  });
}
