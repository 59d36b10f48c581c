import { createServer } from 'node:net';
import { createGatewayService, loadGatewayConfig, type GatewayService } from '@saldo/gateway';
import { dropDatabases } from '@saldo/sharding';
import type { Identity } from '@saldo/graphql';
import type { Logger } from '@saldo/service';
import { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, generateSigningKeyPair, type KeyPairPem } from '@saldo/identity';
import { TEST_ADMIN, TEST_LOG_LEVEL, TEST_POSTGRES_URL, graphql, testLogger, uniquePrefix, type GraphQLResponse } from '@saldo/testing';
import { DEFAULT_SUPERGRAPH_PATH, startStack, type Stack, type StackOptions } from '@saldo/dev-stack';

export interface TestStack extends Stack {
  /** Sends an operation through the gateway with a bearer token for `identity` (a platform admin by default). */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, identity?: Identity): Promise<GraphQLResponse<T>>;
  /** `Authorization` header for `identity`. */
  authHeaders(identity?: Identity): Promise<Record<string, string>>;
  /** The keys the stack runs with (tests forge, expire and replay identities with them). */
  keys: { identity: KeyPairPem; portal: KeyPairPem };
  /**
   * Starts one more gateway in front of the same subgraphs (same keys and issuer), configured like the stack's and
   * overridden by `env`; the caller stops it.
   */
  startGateway(env?: Record<string, string>): Promise<GatewayService>;
  /** Stops every service and drops every database it created. */
  destroy(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (for services a test restarts on the same address). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The whole federated stack on free ports over fresh databases, as `pnpm start` runs it. */
export async function startTestStack(
  label: string,
  options: {
    shardsPerSubgraph?: number;
    apiKeyCacheTtlMs?: number;
    ports?: Partial<StackOptions['ports']>;
    billingEnv?: Record<string, string>;
    usageForecastEnv?: Record<string, string>;
    whiteLabelEnv?: Record<string, string>;
    tenantsEnv?: Record<string, string>;
    /** The gateway's per-identity rate limit, for tests that drive more than one identity's default allowance. */
    rateLimit?: { perMinute: number; burst: number };
    /** Where every service logs (default: the test logger). */
    logger?: Logger;
  } = {},
): Promise<TestStack> {
  const keys = { identity: generateSigningKeyPair(), portal: generateSigningKeyPair() };
  const stack = await startStack({
    keys,
    postgresUrl: TEST_POSTGRES_URL,
    databasePrefix: uniquePrefix(label),
    shardsPerSubgraph: options.shardsPerSubgraph ?? 2,
    ports: { gateway: 0, tenants: 0, billing: 0, usageForecast: 0, whiteLabel: 0, ...options.ports },
    logger: options.logger ?? testLogger(),
    logLevel: TEST_LOG_LEVEL,
    poolMax: 4,
    // Tests that plan rebalances send the job themselves; a scheduled occurrence would write load samples mid-test.
    automaticRebalance: false,
    ...(options.apiKeyCacheTtlMs !== undefined ? { apiKeyCacheTtlMs: options.apiKeyCacheTtlMs } : {}),
    ...(options.billingEnv ? { billingEnv: options.billingEnv } : {}),
    ...(options.usageForecastEnv ? { usageForecastEnv: options.usageForecastEnv } : {}),
    ...(options.whiteLabelEnv ? { whiteLabelEnv: options.whiteLabelEnv } : {}),
    ...(options.tenantsEnv ? { tenantsEnv: options.tenantsEnv } : {}),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
  });
  const authHeaders = async (identity: Identity = TEST_ADMIN) => ({ authorization: `Bearer ${await stack.issueToken(identity)}` });
  return Object.assign(stack, {
    keys,
    authHeaders,
    gql: async <T>(query: string, variables: Record<string, unknown> = {}, identity: Identity = TEST_ADMIN) =>
      graphql<T>(stack.graphqlUrl, query, variables, await authHeaders(identity)),
    async startGateway(env: Record<string, string> = {}) {
      const gateway = createGatewayService(
        loadGatewayConfig({
          HOST: '127.0.0.1',
          PORT: '0',
          SUPERGRAPH_PATH: DEFAULT_SUPERGRAPH_PATH,
          LOG_LEVEL: TEST_LOG_LEVEL,
          SUBGRAPH_URL_TENANTS: `${stack.tenants.url}/graphql`,
          SUBGRAPH_URL_BILLING: `${stack.billing.url}/graphql`,
          SUBGRAPH_URL_USAGE_FORECAST: `${stack.usageForecast.url}/graphql`,
          SUBGRAPH_URL_WHITE_LABEL: `${stack.whiteLabel.url}/graphql`,
          IDENTITY_PRIVATE_KEY: keys.identity.privateKeyPem,
          JWT_ISSUER: DEV_TOKEN_ISSUER,
          JWT_AUDIENCE: DEV_TOKEN_AUDIENCE,
          JWT_PUBLIC_KEYS: keys.portal.publicKeyPem,
          API_KEY_VERIFY_URL: `${stack.tenants.url}/internal/api-keys/verify`,
          ...env,
        }),
        { logger: testLogger() },
      );
      await gateway.start();
      return gateway;
    },
    async destroy() {
      await stack.stop();
      await dropDatabases(stack.databaseUrls);
    },
  });
}
