import { OutboxEvent } from '@saldo/events';
import { buildFederatedSchema } from '@saldo/graphql';
import type { SubgraphDefinition } from '@saldo/subgraph';
import { Account } from './entities/account.js';
import { LedgerEntry } from './entities/ledger-entry.js';
import { Rate } from './entities/rate.js';
import type { BillingServices } from './graphql/context.js';
import { BalanceQueryResolver, OverdraftResolver, RateResolver, TenantBillingResolver, UsageResolver, referenceResolvers } from './graphql/resolvers.js';
import { BillingTenant } from './graphql/types.js';
import { globalMigrations, shardMigrations } from './migrations/index.js';
import { AccountService } from './services/account-service.js';
import { LedgerService } from './services/ledger-service.js';
import { RateService, SYSTEM_CLOCK, type Clock } from './services/rate-service.js';
import { subscribeAccountOpener } from './services/tenant-events-consumer.js';
import { UsageService } from './services/usage-service.js';

/** Printed to schema/billing.graphql by `pnpm compose`; served by the running subgraph. */
export function buildBillingSchema() {
  return buildFederatedSchema({
    resolvers: [TenantBillingResolver, BalanceQueryResolver, UsageResolver, OverdraftResolver, RateResolver],
    orphanedTypes: [BillingTenant],
    referenceResolvers,
  });
}

/** Billing's services over one runtime; `clock` is injectable so tests can pin "now". */
export function createBillingServices(runtime: Parameters<SubgraphDefinition<BillingServices>['createServices']>[0], clock: Clock = SYSTEM_CLOCK): BillingServices {
  const { db, relay } = runtime;
  const ledger = new LedgerService(db, relay, clock);
  const rates = new RateService(db, clock);
  return { accounts: new AccountService(db), ledger, rates, usage: new UsageService(ledger, rates, clock) };
}

export const billingSubgraph: SubgraphDefinition<BillingServices> = {
  name: 'billing',
  shardSchema: {
    shard: { entities: [Account, LedgerEntry, OutboxEvent], migrations: shardMigrations },
    global: { entities: [Rate], migrations: globalMigrations },
  },
  buildSchema: buildBillingSchema,
  createServices: (runtime) => createBillingServices(runtime),
  subscribe: (services, { bus, logger }) => [subscribeAccountOpener(bus, services.accounts, logger)],
};
