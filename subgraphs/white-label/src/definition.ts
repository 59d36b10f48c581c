import { buildFederatedSchema } from '@saldo/graphql';
import { shardOperationsResolver, type SubgraphDefinition } from '@saldo/subgraph';
import type { WhiteLabelConfig } from './config.js';
import {
  CustomDomainResolver,
  createDomainServices,
  domainEntities,
  domainGlobalMigrations,
  domainJobs,
  mountDomainEndpoints,
  startDomains,
} from './domains/index.js';
import { BrandingColumns } from './entities/branding-columns.js';
import { PartnerBranding } from './entities/partner-branding.js';
import { TenantBranding } from './entities/tenant-branding.js';
import type { WhiteLabelServices } from './graphql/context.js';
import { BrandingResolver, PartnerBrandingResolver, TenantBrandingResolver, referenceResolvers } from './graphql/resolvers.js';
import { PartnerStub, TenantStub } from './graphql/types.js';
import { globalMigrations, shardMigrations } from './migrations/index.js';
import { PartnerBrandingService } from './services/partner-branding-service.js';
import { TenantBrandingService } from './services/tenant-branding-service.js';

/** Operators' shard fields (`whiteLabelShards`), the same mechanism in every subgraph. */
const WhiteLabelShardOperations = shardOperationsResolver('white-label');

/** Printed to schema/white-label.graphql by `pnpm compose`; served by the running subgraph. */
export function buildWhiteLabelSchema() {
  return buildFederatedSchema({
    resolvers: [BrandingResolver, TenantBrandingResolver, PartnerBrandingResolver, CustomDomainResolver, WhiteLabelShardOperations],
    orphanedTypes: [TenantStub, PartnerStub],
    referenceResolvers,
  });
}

export const whiteLabelSubgraph: SubgraphDefinition<WhiteLabelServices, WhiteLabelConfig> = {
  name: 'white-label',
  shardSchema: {
    shard: { entities: [BrandingColumns, TenantBranding], migrations: shardMigrations },
    global: { entities: [BrandingColumns, PartnerBranding, ...domainEntities], migrations: [...globalMigrations, ...domainGlobalMigrations] },
  },
  buildSchema: buildWhiteLabelSchema,
  createServices: (runtime) => {
    const domains = createDomainServices(runtime);
    return {
      tenantBranding: new TenantBrandingService(runtime.db, runtime.relay),
      partnerBranding: new PartnerBrandingService(runtime.db, runtime.relay),
      domains: domains.domains,
      customDomains: domains,
    };
  },
  configureHttp: (app, services, runtime) => mountDomainEndpoints(app, services.customDomains, runtime),
  start: (services, runtime, { url }) => startDomains(services.customDomains, runtime, url),
  jobs: domainJobs(),
};
