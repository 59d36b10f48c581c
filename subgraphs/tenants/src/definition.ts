import { buildFederatedSchema } from '@saldo/graphql';
import type { SubgraphDefinition } from '@saldo/subgraph';
import { Partner } from './entities/partner.js';
import { Tenant } from './entities/tenant.js';
import type { TenantsServices } from './graphql/context.js';
import { ApiKeyResolver, PartnerResolver, TenantResolver, referenceResolvers } from './graphql/resolvers.js';
import { mountApiKeyVerification } from './http/internal-api-keys.js';
import { ApiKey } from './entities/api-key.js';
import { ApiKeyService } from './services/api-key-service.js';
import { globalMigrations, shardMigrations } from './migrations/index.js';
import { subscribeFraudSuspension } from './services/fraud-suspension-consumer.js';
import { PartnerService } from './services/partner-service.js';
import { TenantService } from './services/tenant-service.js';

/** Printed to schema/tenants.graphql by `pnpm compose`; served by the running subgraph. */
export function buildTenantsSchema() {
  return buildFederatedSchema({ resolvers: [TenantResolver, PartnerResolver, ApiKeyResolver], referenceResolvers });
}

export const tenantsSubgraph: SubgraphDefinition<TenantsServices> = {
  name: 'tenants',
  shardSchema: {
    shard: { entities: [Tenant], migrations: shardMigrations },
    global: { entities: [Partner, ApiKey], migrations: globalMigrations },
  },
  buildSchema: buildTenantsSchema,
  createServices: ({ db, relay }) => ({ tenants: new TenantService(db, relay), partners: new PartnerService(db, relay), apiKeys: new ApiKeyService(db) }),
  configureHttp: (app, services, runtime) => mountApiKeyVerification(app, services.apiKeys, runtime),
  subscribe: (services, { bus, logger }) => [subscribeFraudSuspension(bus, services.tenants, logger)],
};
