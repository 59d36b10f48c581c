import { OutboxEvent } from '@saldo/events';
import { buildFederatedSchema } from '@saldo/graphql';
import type { SubgraphDefinition } from '@saldo/subgraph';
import { Account } from './entities/account.js';
import type { BillingServices } from './graphql/context.js';
import { BalanceQueryResolver, TenantBalanceResolver, referenceResolvers } from './graphql/resolvers.js';
import { BillingTenant } from './graphql/types.js';
import { shardMigrations } from './migrations/index.js';
import { AccountService } from './services/account-service.js';
import { subscribeAccountOpener } from './services/tenant-events-consumer.js';

/** Printed to schema/billing.graphql by `pnpm compose`; served by the running subgraph. */
export function buildBillingSchema() {
  return buildFederatedSchema({
    resolvers: [TenantBalanceResolver, BalanceQueryResolver],
    orphanedTypes: [BillingTenant],
    referenceResolvers,
  });
}

export const billingSubgraph: SubgraphDefinition<BillingServices> = {
  name: 'billing',
  shardSchema: { shard: { entities: [Account, OutboxEvent], migrations: shardMigrations } },
  buildSchema: buildBillingSchema,
  createServices: ({ db }) => ({ accounts: new AccountService(db) }),
  subscribe: (services, { bus, logger }) => [subscribeAccountOpener(bus, services.accounts, logger)],
};
