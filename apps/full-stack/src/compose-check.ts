import { ConfigError, parseConfig, type z } from '@saldo/config';
import { gatewayConfigSchema, loadGatewayConfig } from '@saldo/gateway';
import { billingConfigSchema } from '@saldo/subgraph-billing';
import { tenantsConfigSchema } from '@saldo/subgraph-tenants';
import { usageForecastConfigSchema } from '@saldo/subgraph-usage-forecast';
import { whiteLabelConfigSchema } from '@saldo/subgraph-white-label';
import type { ComposeService } from './compose.js';

interface ServiceSchema {
  name: string;
  schema: z.ZodObject;
  /** Variables read by pattern rather than by name (the gateway's SUBGRAPH_URL_<NAME>). */
  patterns: RegExp[];
  parse(env: Record<string, string>): unknown;
}

/** Each entry point of the image and the zod config schema its main.ts parses process.env with. */
export const SERVICE_SCHEMAS: Record<string, ServiceSchema> = {
  'gateway/dist/main.js': { name: 'gateway', schema: gatewayConfigSchema, patterns: [/^SUBGRAPH_URL_[A-Z0-9_]+$/], parse: loadGatewayConfig },
  'subgraphs/tenants/dist/main.js': {
    name: 'tenants',
    schema: tenantsConfigSchema,
    patterns: [],
    parse: (env) => parseConfig('tenants', tenantsConfigSchema, env),
  },
  'subgraphs/billing/dist/main.js': {
    name: 'billing',
    schema: billingConfigSchema,
    patterns: [],
    parse: (env) => parseConfig('billing', billingConfigSchema, env),
  },
  'subgraphs/usage-forecast/dist/main.js': {
    name: 'usage-forecast',
    schema: usageForecastConfigSchema,
    patterns: [],
    parse: (env) => parseConfig('usage-forecast', usageForecastConfigSchema, env),
  },
  'subgraphs/white-label/dist/main.js': {
    name: 'white-label',
    schema: whiteLabelConfigSchema,
    patterns: [],
    parse: (env) => parseConfig('white-label', whiteLabelConfigSchema, env),
  },
};

/** Variables every service accepts although no schema names them (read by Node itself). */
const RUNTIME_VARIABLES = new Set(['NODE_OPTIONS']);

/** The schema of a compose service that runs one of the image's entry points (undefined for other services). */
export function schemaFor(service: ComposeService): ServiceSchema | undefined {
  if (!service.built || service.command[0] !== 'node') return undefined;
  return SERVICE_SCHEMAS[service.command[1] ?? ''];
}

/**
 * Problems with one service's compose environment: variables its config schema does not know (a typo or a setting
 * the code dropped: compose would set it and nothing would read it), and whatever the schema itself refuses when it
 * parses the environment as the service would (`env` is the environment as the process gets it, key files readable).
 */
export function checkServiceEnvironment(service: ComposeService, env: Record<string, string>): string[] {
  const entry = schemaFor(service);
  if (!entry) return [];
  const known = new Set(Object.keys(entry.schema.shape));
  const problems: string[] = [];
  for (const key of Object.keys(service.environment)) {
    const base = key.endsWith('_FILE') ? key.slice(0, -'_FILE'.length) : key;
    if (known.has(key) || known.has(base) || RUNTIME_VARIABLES.has(key) || entry.patterns.some((pattern) => pattern.test(key))) continue;
    problems.push(`${service.name}: ${key} is not a setting of ${entry.name} (its config schema does not read it)`);
  }
  try {
    entry.parse(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems.map((problem) => `${service.name}: ${problem}`));
  }
  return problems;
}
