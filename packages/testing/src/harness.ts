import { randomBytes } from 'node:crypto';
import { fields, parseConfig, z } from '@saldo/config';
import { InProcessEventBus } from '@saldo/events';
import { createLogger, type Logger } from '@saldo/service';
import { dropDatabases } from '@saldo/sharding';
import { createSubgraphService, type SubgraphConfig, type SubgraphDefinition, type SubgraphService } from '@saldo/subgraph';

/** Tests talk to a real PostgreSQL; TEST_POSTGRES_URL points elsewhere than the local default. */
const testConfig = parseConfig(
  'tests',
  z.object({
    TEST_POSTGRES_URL: fields.postgresUrl().default('postgres://postgres@127.0.0.1:5432'),
    TEST_LOG_LEVEL: fields.logLevel().default('warn'),
  }),
  process.env,
);

export const TEST_POSTGRES_URL = testConfig.TEST_POSTGRES_URL;
export const TEST_LOG_LEVEL = testConfig.TEST_LOG_LEVEL;

export function testLogger(): Logger {
  return createLogger({ service: 'test', level: testConfig.TEST_LOG_LEVEL });
}

/** A unique database-name prefix per test file, so files can run in parallel against one server. */
export function uniquePrefix(label: string): string {
  return `t_${label.replace(/[^a-z0-9]/g, '').slice(0, 12)}_${randomBytes(4).toString('hex')}`;
}

export interface TestSubgraph<S> {
  service: SubgraphService<S>;
  /** `${service.url}/graphql` */
  graphqlUrl: string;
  databases: { control: string; shards: string[] };
  /** Stops the subgraph and drops its databases. */
  destroy(): Promise<void>;
}

/**
 * One subgraph on a free port over fresh databases (a control database and `shards` shard databases),
 * configured through the subgraph's own config loader exactly as in production.
 */
export async function startTestSubgraph<S>(
  definition: SubgraphDefinition<S>,
  loadConfig: (env: Record<string, string>) => SubgraphConfig,
  options: { label?: string; shards?: number; env?: Record<string, string> } = {},
): Promise<TestSubgraph<S>> {
  const prefix = uniquePrefix(options.label ?? definition.name);
  const control = `${TEST_POSTGRES_URL}/${prefix}_control`;
  const shards = Array.from({ length: options.shards ?? 2 }, (_, index) => `${TEST_POSTGRES_URL}/${prefix}_shard_${index}`);
  const config = loadConfig({
    PORT: '0',
    CONTROL_DATABASE_URL: control,
    SHARD_DATABASE_URLS: shards.join(','),
    CREATE_DATABASES: 'true',
    DATABASE_POOL_MAX: '4',
    LOG_LEVEL: testConfig.TEST_LOG_LEVEL,
    ...options.env,
  });
  const logger = testLogger();
  const service = createSubgraphService(definition, config, { bus: new InProcessEventBus(logger), logger });
  try {
    await service.start();
  } catch (error) {
    await dropDatabases([control, ...shards]);
    throw error;
  }
  return {
    service,
    graphqlUrl: `${service.url}/graphql`,
    databases: { control, shards },
    async destroy() {
      await service.stop();
      await dropDatabases([control, ...shards]);
    },
  };
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: { code?: string; [key: string]: unknown } }>;
}

/** POSTs one GraphQL operation; returns the parsed body whatever the HTTP status. */
export async function graphql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** Error codes of a response, in order. */
export function errorCodes(response: GraphQLResponse<unknown>): string[] {
  return (response.errors ?? []).map((error) => String(error.extensions?.code));
}
