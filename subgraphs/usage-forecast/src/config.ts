import { parseConfig, type Env } from '@saldo/config';
import { subgraphConfigSchema } from '@saldo/subgraph';

/** The usage-forecast subgraph needs only the shared subgraph settings for now (listen address, databases, logging). */
export const usageForecastConfigSchema = subgraphConfigSchema.extend({});
export type UsageForecastConfig = ReturnType<typeof usageForecastConfigSchema.parse>;

export function loadUsageForecastConfig(env: Env): UsageForecastConfig {
  return parseConfig('usage-forecast', usageForecastConfigSchema, env);
}
