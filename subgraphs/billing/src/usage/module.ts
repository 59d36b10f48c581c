import type { SubgraphRuntime } from '@saldo/subgraph';
import type { BillingConfig } from '../config.js';
import type { LedgerService } from '../ledger/index.js';
import type { Clock } from '../shared/clock.js';
import type { BillingModule } from '../shared/module.js';
import { Rate } from './entities/rate.js';
import type { UsageServices } from './graphql/context.js';
import { RateResolver, UsageResolver } from './graphql/resolvers.js';
import { usageGlobalMigrations } from './migrations.js';
import { RateService } from './services/rate-service.js';
import { subscribeUsageIngestion } from './services/usage-ingestion.js';
import { UsageService } from './services/usage-service.js';

/** The rate card and usage ingestion: usage priced at the rate valid when it happened, charged through the ledger. */
export const usageModule: BillingModule<UsageServices> = {
  name: 'usage',
  global: { entities: [Rate], migrations: usageGlobalMigrations },
  resolvers: [UsageResolver, RateResolver],
  subscribe: (services, { bus, logger }) => [subscribeUsageIngestion(bus, services.usage, logger)],
};

export function createUsageServices(runtime: SubgraphRuntime<BillingConfig>, deps: { ledger: LedgerService; clock: Clock }): UsageServices {
  const rates = new RateService(runtime.db, deps.clock);
  return { rates, usage: new UsageService(deps.ledger, rates, deps.clock) };
}
