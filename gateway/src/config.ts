import { fields, parseConfig, z, type Env } from '@saldo/config';
import { observabilityConfigFields } from '@saldo/observability';
import { breakerConfigFields } from '@saldo/resilience';

export const gatewayConfigSchema = z
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
    BODY_LIMIT: z
      .string()
      .regex(/^\d+(kb|mb)$/, 'must look like 100kb or 1mb')
      .default('1mb'),
    LOG_LEVEL: fields.logLevel(),
    LOG_FORMAT: fields.logFormat(),
    /** OpenTelemetry: OTLP trace export when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set, off otherwise. */
    ...observabilityConfigFields,
    /** Portal/admin JWTs: issuer and audience to require, and where the issuer's public keys come from. */
    JWT_ISSUER: z.string().min(1).optional(),
    JWT_AUDIENCE: z.string().min(1).default('saldo'),
    JWT_JWKS_URL: z.url().optional(),
    /** One JWKS fetch's timeout, and its `jwks` circuit breaker (failures in a row that open it, time before a trial). */
    JWT_JWKS_TIMEOUT_MS: fields.positiveInt(5_000),
    ...breakerConfigFields('JWKS', { failureThreshold: 3, halfOpenAfterMs: 10_000 }),
    /** Age past which the fetched key set is fetched again before use (jose's cacheMaxAge): rotations and removals show within it. */
    JWT_JWKS_CACHE_MAX_AGE_MS: fields.positiveInt(600_000),
    /**
     * While the JWKS cannot be fetched, tokens keep being verified with the last key set fetched for up to this long after
     * that fetch (then DEPENDENCY_UNAVAILABLE); 0 refuses them as soon as a refresh fails. A day, as identity providers'
     * own `stale-if-error` allows: see docs/security.md.
     */
    JWT_JWKS_MAX_STALE_SECONDS: z.coerce.number().int().min(0).default(86_400),
    /** One or more PEM public keys (or JWT_PUBLIC_KEYS_FILE), used when there is no JWKS URL. */
    JWT_PUBLIC_KEYS: z.string().optional(),
    /** Private key (PEM, or IDENTITY_PRIVATE_KEY_FILE) signing the identity forwarded to subgraphs. */
    IDENTITY_PRIVATE_KEY: fields.pem(),
    IDENTITY_TTL_SECONDS: z.coerce.number().int().min(5).max(300).default(30),
    /** The tenants subgraph's API key verification endpoint; without it, API keys are refused. */
    API_KEY_VERIFY_URL: z.url().optional(),
    API_KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
    /** One verification call's timeout, and its `api-keys` circuit breaker. */
    API_KEY_TIMEOUT_MS: fields.positiveInt(3_000),
    ...breakerConfigFields('API_KEY', { failureThreshold: 5, halfOpenAfterMs: 5_000 }),
    /**
     * The white-label subgraph's list of served custom domains (`/internal/custom-domains`): requests arriving on such a
     * Host are narrowed to its partner. Unset: no Host mapping.
     */
    CUSTOM_DOMAINS_URL: z.url().optional(),
    CUSTOM_DOMAINS_REFRESH_MS: fields.positiveInt(30_000),
    /** One list fetch's timeout, and its `custom-domains` circuit breaker. */
    CUSTOM_DOMAINS_TIMEOUT_MS: fields.positiveInt(3_000),
    ...breakerConfigFields('CUSTOM_DOMAINS', { failureThreshold: 3, halfOpenAfterMs: 10_000 }),
    /** Root fields anonymous callers may use besides introspection (a login page needs the branding). */
    PUBLIC_ROOT_FIELDS: fields.commaList().default(['currentBranding']),
    /** Token bucket per identity (partner, user, or client address): sustained rate and burst. */
    RATE_LIMIT_PER_MINUTE: fields.positiveInt(600),
    RATE_LIMIT_BURST: fields.positiveInt(100),
    /** Shares rate-limit budgets across gateway instances; without it each process limits on its own. */
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    /** 15 admits the standard introspection query (Sandbox, codegen); it measures 15. */
    MAX_QUERY_DEPTH: fields.positiveInt(15),
    MAX_ALIASES: z.coerce.number().int().min(0).default(30),
    /**
     * Demand control (protection/limits.ts): objects and input the operation may cost. Lists are sized by @listSize in
     * the supergraph, pagination arguments (first/last/limit), else DEFAULT_LIST_SIZE (connections: 20).
     */
    MAX_QUERY_COST: fields.positiveInt(10000),
    DEFAULT_LIST_SIZE: fields.positiveInt(10),
    /** Root fields one mutation operation may run (aliases included): TOO_MANY_MUTATIONS beyond. */
    MAX_MUTATION_FIELDS: fields.positiveInt(10),
    /**
     * In-flight deduplication: identical queries to one subgraph (same operation, variables and forwarded identity)
     * while one is in flight share its answer instead of each asking the subgraph. Never mutations.
     */
    SUBGRAPH_QUERY_DEDUP: fields.boolean(true),
    /** Longest one subgraph request may take (ms); past it the request fails and counts against the subgraph's breaker. */
    SUBGRAPH_TIMEOUT_MS: fields.positiveInt(30_000),
    /**
     * Circuit breaker per subgraph: this many failures in a row (unreachable, timed out, 502/503/504) open it and its
     * fetches fail at once with DEPENDENCY_UNAVAILABLE until a trial request SUBGRAPH_BREAKER_HALF_OPEN_MS later succeeds.
     */
    ...breakerConfigFields('SUBGRAPH', { failureThreshold: 5, halfOpenAfterMs: 5_000 }),
    /** Express "trust proxy" (e.g. 1, loopback, or a CIDR list): which X-Forwarded-For hops give the client address. */
    TRUST_PROXY: z.string().optional(),
    /** Results a slow subscriber may have waiting before the oldest are dropped in favour of newer ones. */
    SUBSCRIPTION_BUFFER: fields.positiveInt(16),
    /** WebSocket ping interval for subscription connections, clients and subgraphs alike (ms). */
    SUBSCRIPTION_KEEPALIVE_MS: fields.positiveInt(12_000),
    /** WebSocket bounds (docs/security.md, attack 4): largest message (bytes; 1009 beyond it), like BODY_LIMIT for HTTP. */
    WS_MAX_MESSAGE_BYTES: fields.positiveInt(1_048_576),
    /** Connections per client address not authenticated as anyone (before connection_init, or anonymous); 1013 beyond. */
    WS_MAX_CONNECTIONS_PER_ADDRESS: fields.positiveInt(32),
    /** Connections per credential (a partner, or a user of a tenant); 1013 beyond. */
    WS_MAX_CONNECTIONS_PER_CREDENTIAL: fields.positiveInt(64),
    /** Subscriptions at once on one connection; more are refused with TOO_MANY_SUBSCRIPTIONS. */
    WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: fields.positiveInt(50),
    /** A connection without connection_init is closed after this (4408). */
    WS_CONNECTION_INIT_TIMEOUT_MS: fields.positiveInt(3_000),
    /** Anonymous connections (introspection only) are closed after this (4401). */
    WS_ANONYMOUS_GRACE_MS: fields.positiveInt(30_000),
    /** How long the gateway keeps reopening a subscription whose subgraph went away before it ends it (SUBGRAPH_UNAVAILABLE). */
    SUBSCRIPTION_UPSTREAM_RETRY_MS: fields.positiveInt(60_000),
    /** The subgraph /documents/ download links are forwarded to (it checks their signatures). */
    DOWNLOADS_SUBGRAPH: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/)
      .default('billing'),
    /**
     * Persisted operations. `apq` (default): automatic persisted queries (Apollo's protocol). `trusted`: only the
     * operations of TRUSTED_DOCUMENTS_PATH run (PERSISTED_QUERY_NOT_ALLOWED otherwise), for production portals.
     * `off`: full query text only.
     */
    PERSISTED_QUERIES: z.enum(['off', 'apq', 'trusted']).default('apq'),
    /** The trusted-documents manifest (`pnpm extract-operations`), required with PERSISTED_QUERIES=trusted. */
    TRUSTED_DOCUMENTS_PATH: z.string().min(1).optional(),
    /** APQ documents kept per process (shared through REDIS_URL when set, for APQ_TTL_SECONDS). */
    APQ_CACHE_ENTRIES: fields.positiveInt(2_000),
    APQ_TTL_SECONDS: fields.positiveInt(86_400),
    /**
     * The customer portal (portal/dist, built by `pnpm build`): served at /portal on this origin when set. Its sign-in is
     * the JWT issuer's OpenID Connect authorization code flow with PKCE: endpoints from the issuer's discovery document
     * (JWT_ISSUER/.well-known/openid-configuration) unless PORTAL_OIDC_AUTHORIZATION_URL and PORTAL_OIDC_TOKEN_URL name them.
     */
    PORTAL_DIR: z.string().min(1).optional(),
    PORTAL_OIDC_CLIENT_ID: z.string().min(1).default('saldo-portal'),
    PORTAL_OIDC_SCOPE: z.string().min(1).default('openid'),
    PORTAL_OIDC_AUTHORIZATION_URL: z.url().optional(),
    PORTAL_OIDC_TOKEN_URL: z.url().optional(),
    PORTAL_OIDC_END_SESSION_URL: z.url().optional(),
    /** The identity provider is the embedded default's development sign-in (the portal says so on its sign-in page). */
    PORTAL_DEVELOPMENT_SIGN_IN: fields.boolean(false),
    /** SUBGRAPH_URL_<NAME> overrides a subgraph's routing URL, e.g. SUBGRAPH_URL_USAGE_FORECAST. */
    subgraphUrls: z.record(z.string(), z.url()),
  })
  .superRefine((value, ctx) => {
    if (Boolean(value.APOLLO_KEY) !== Boolean(value.APOLLO_GRAPH_REF)) {
      ctx.addIssue({ code: 'custom', path: ['APOLLO_GRAPH_REF'], message: 'APOLLO_KEY and APOLLO_GRAPH_REF must be set together' });
    }
    if (value.JWT_ISSUER && !value.JWT_JWKS_URL && !value.JWT_PUBLIC_KEYS) {
      ctx.addIssue({ code: 'custom', path: ['JWT_JWKS_URL'], message: 'JWT_ISSUER needs JWT_JWKS_URL or JWT_PUBLIC_KEYS' });
    }
    if (value.PERSISTED_QUERIES === 'trusted' && !value.TRUSTED_DOCUMENTS_PATH) {
      ctx.addIssue({ code: 'custom', path: ['TRUSTED_DOCUMENTS_PATH'], message: 'required when PERSISTED_QUERIES=trusted' });
    }
    if (Boolean(value.PORTAL_OIDC_AUTHORIZATION_URL) !== Boolean(value.PORTAL_OIDC_TOKEN_URL)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PORTAL_OIDC_TOKEN_URL'],
        message: 'PORTAL_OIDC_AUTHORIZATION_URL and PORTAL_OIDC_TOKEN_URL must be set together',
      });
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

/** The variables Apollo Server reads from the process environment by itself, whatever it is configured with. */
const APOLLO_ENVIRONMENT = ['APOLLO_KEY', 'APOLLO_GRAPH_REF', 'APOLLO_GRAPH_ID', 'APOLLO_GRAPH_VARIANT'] as const;

/**
 * Removes blank Apollo variables from the process's environment, so Apollo Server sees what this config decided.
 * Apollo Server reads APOLLO_KEY and friends from `process.env` itself even when configured explicitly; compose passes
 * `APOLLO_KEY=''` when unset, which this config reads as "not set" (managed federation off) but Apollo reads as a key
 * with whitespace, and warns at every start. Managed federation reaches Apollo only through its `apollo` option.
 */
export function removeBlankApolloVariables(env: Env): void {
  for (const name of APOLLO_ENVIRONMENT) if (env[name] !== undefined && env[name]!.trim() === '') delete env[name];
}

/** Splits a bundle of concatenated PEM keys. */
export function splitPemKeys(bundle: string | undefined): string[] {
  return (bundle ?? '').match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
}
