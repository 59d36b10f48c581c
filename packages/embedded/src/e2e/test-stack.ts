import { dropDatabases } from '@saldo/sharding';
import type { Identity } from '@saldo/graphql';
import { generateSigningKeyPair, type KeyPairPem } from '@saldo/identity';
import { TEST_ADMIN, TEST_LOG_LEVEL, TEST_POSTGRES_URL, graphql, testLogger, uniquePrefix, type GraphQLResponse } from '@saldo/testing';
import { startStack, type Stack } from '../stack.js';

export interface TestStack extends Stack {
  /** Sends an operation through the gateway with a bearer token for `identity` (a platform admin by default). */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, identity?: Identity): Promise<GraphQLResponse<T>>;
  /** `Authorization` header for `identity`. */
  authHeaders(identity?: Identity): Promise<Record<string, string>>;
  /** The keys the stack runs with (tests forge, expire and replay identities with them). */
  keys: { identity: KeyPairPem; portal: KeyPairPem };
  /** Stops every service and drops every database it created. */
  destroy(): Promise<void>;
}

/** The whole federated stack on free ports over fresh databases, as `pnpm start` runs it. */
export async function startTestStack(label: string, options: { shardsPerSubgraph?: number; apiKeyCacheTtlMs?: number } = {}): Promise<TestStack> {
  const keys = { identity: generateSigningKeyPair(), portal: generateSigningKeyPair() };
  const stack = await startStack({
    keys,
    postgresUrl: TEST_POSTGRES_URL,
    databasePrefix: uniquePrefix(label),
    shardsPerSubgraph: options.shardsPerSubgraph ?? 2,
    ports: { gateway: 0, tenants: 0, billing: 0, usageForecast: 0, whiteLabel: 0 },
    logger: testLogger(),
    logLevel: TEST_LOG_LEVEL,
    poolMax: 4,
    ...(options.apiKeyCacheTtlMs !== undefined ? { apiKeyCacheTtlMs: options.apiKeyCacheTtlMs } : {}),
  });
  const authHeaders = async (identity: Identity = TEST_ADMIN) => ({ authorization: `Bearer ${await stack.issueToken(identity)}` });
  return Object.assign(stack, {
    keys,
    authHeaders,
    gql: async <T,>(query: string, variables: Record<string, unknown> = {}, identity: Identity = TEST_ADMIN) =>
      graphql<T>(stack.graphqlUrl, query, variables, await authHeaders(identity)),
    async destroy() {
      await stack.stop();
      await dropDatabases(stack.databaseUrls);
    },
  });
}
