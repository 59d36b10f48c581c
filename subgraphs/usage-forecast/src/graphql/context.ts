import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import type { UsageDay, UsageService } from '../services/usage-service.js';

export interface UsageForecastServices {
  usage: UsageService;
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
