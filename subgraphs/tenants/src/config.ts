import { parseConfig, type Env } from '@saldo/config';
import { subgraphConfigSchema } from '@saldo/subgraph';

/** The tenants subgraph needs only the shared subgraph settings (listen address, databases, logging). */
export const tenantsConfigSchema = subgraphConfigSchema.extend({});
export type TenantsConfig = ReturnType<typeof tenantsConfigSchema.parse>;

export function loadTenantsConfig(env: Env): TenantsConfig {
  return parseConfig('tenants', tenantsConfigSchema, env);
}
