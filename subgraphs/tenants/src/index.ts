export { tenantsSubgraph, buildTenantsSchema } from './definition.js';
export { loadTenantsConfig, tenantsConfigSchema, type TenantsConfig } from './config.js';
export type { TenantsServices } from './graphql/context.js';
export { TenantStatus } from './entities/tenant.js';
