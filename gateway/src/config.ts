import { fields, parseConfig, z, type Env } from '@saldo/config';

const gatewayConfigSchema = z
  .object({
    NODE_ENV: fields.nodeEnv(),
    HOST: z.string().default('127.0.0.1'),
    PORT: fields.port(4000),
    /** The supergraph to serve; any composed supergraph works (the gateway knows no Saldo types). */
    SUPERGRAPH_PATH: z.string().min(1).optional(),
    /** Managed federation: with both set the supergraph comes from Apollo Uplink and usage is reported. */
    APOLLO_KEY: z.string().min(1).optional(),
    APOLLO_GRAPH_REF: z.string().min(1).optional(),
    /** Defaults to on outside production, off in production. */
    INTROSPECTION: fields.optionalBoolean(),
    CORS_ORIGINS: z.string().default('*'),
    BODY_LIMIT: z.string().regex(/^\d+(kb|mb)$/, 'must look like 100kb or 1mb').default('1mb'),
    LOG_LEVEL: fields.logLevel(),
    LOG_FORMAT: fields.logFormat(),
    /** SUBGRAPH_URL_<NAME> overrides a subgraph's routing URL, e.g. SUBGRAPH_URL_USAGE_FORECAST. */
    subgraphUrls: z.record(z.string(), z.url()),
  })
  .superRefine((value, ctx) => {
    if (Boolean(value.APOLLO_KEY) !== Boolean(value.APOLLO_GRAPH_REF)) {
      ctx.addIssue({ code: 'custom', path: ['APOLLO_GRAPH_REF'], message: 'APOLLO_KEY and APOLLO_GRAPH_REF must be set together' });
    }
    if (!value.APOLLO_KEY && !value.SUPERGRAPH_PATH) {
      ctx.addIssue({ code: 'custom', path: ['SUPERGRAPH_PATH'], message: 'required unless managed federation (APOLLO_KEY) is configured' });
    }
  });

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

const SUBGRAPH_URL_PREFIX = 'SUBGRAPH_URL_';

/** SUBGRAPH_URL_USAGE_FORECAST -> usage-forecast (subgraph names are lower-case with dashes). */
function subgraphUrlOverrides(env: Env): Record<string, string | undefined> {
  const overrides: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(SUBGRAPH_URL_PREFIX)) overrides[key.slice(SUBGRAPH_URL_PREFIX.length).toLowerCase().replaceAll('_', '-')] = value;
  }
  return overrides;
}

export function loadGatewayConfig(env: Env): GatewayConfig {
  return parseConfig('gateway', gatewayConfigSchema, { ...env, subgraphUrls: subgraphUrlOverrides(env) });
}
