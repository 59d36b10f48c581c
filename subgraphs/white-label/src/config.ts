import { parseConfig, type Env } from '@saldo/config';
import { subgraphConfigSchema } from '@saldo/subgraph';

/**
 * The white-label subgraph needs only the shared subgraph settings for now (listen address, databases,
 * logging); custom domains, ACME and web-server settings join here when those features land.
 */
export const whiteLabelConfigSchema = subgraphConfigSchema.extend({});
export type WhiteLabelConfig = ReturnType<typeof whiteLabelConfigSchema.parse>;

export function loadWhiteLabelConfig(env: Env): WhiteLabelConfig {
  return parseConfig('white-label', whiteLabelConfigSchema, env);
}
