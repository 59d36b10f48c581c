import { buildFederatedSchema } from '@saldo/graphql';
import type { SubgraphDefinition } from '@saldo/subgraph';
import { DailyUsage } from './entities/daily-usage.js';
import type { UsageForecastServices } from './graphql/context.js';
import { TenantUsageResolver, UsageQueryResolver, referenceResolvers } from './graphql/resolvers.js';
import { UsageTenant } from './graphql/types.js';
import { shardMigrations } from './migrations/index.js';
import { subscribeUsageAggregator } from './services/usage-events-consumer.js';
import { UsageService } from './services/usage-service.js';

/** Printed to schema/usage-forecast.graphql by `pnpm compose`; served by the running subgraph. */
export function buildUsageForecastSchema() {
  return buildFederatedSchema({
    resolvers: [TenantUsageResolver, UsageQueryResolver],
    orphanedTypes: [UsageTenant],
    referenceResolvers,
  });
}

export const usageForecastSubgraph: SubgraphDefinition<UsageForecastServices> = {
  name: 'usage-forecast',
  shardSchema: { shard: { entities: [DailyUsage], migrations: shardMigrations } },
  buildSchema: buildUsageForecastSchema,
  createServices: ({ db }) => ({ usage: new UsageService(db) }),
  subscribe: (services, { bus, db, logger }) => [subscribeUsageAggregator(bus, db, services.usage, logger)],
};
