import { randomBytes } from 'node:crypto';
import { fields, parseConfig, z } from '@saldo/config';
import { InProcessEventBus, type EventBus } from '@saldo/events';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, IdentitySigner, generateSigningKeyPair } from '@saldo/identity';
import type { Clock } from '@saldo/jobs';
import { createLogger, type Logger } from '@saldo/service';
import { dropDatabases } from '@saldo/sharding';
import { createSubgraphService, type SubgraphConfig, type SubgraphDefinition, type SubgraphService } from '@saldo/subgraph';

/** Tests talk to a real PostgreSQL; TEST_POSTGRES_URL points elsewhere than the local default. */
const testConfig = parseConfig(
  'tests',
  z.object({
    TEST_POSTGRES_URL: fields.postgresUrl().default('postgres://postgres@127.0.0.1:5432'),
    TEST_LOG_LEVEL: fields.logLevel().default('warn'),
    TEST_REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// URL')
      .default('redis://127.0.0.1:6379'),
    /** Debian's chromium, driven by playwright-core in the portal's browser tests (never a downloaded browser). */
    TEST_CHROMIUM_PATH: z.string().min(1).default('/usr/bin/chromium'),
  }),
  process.env,
);

export const TEST_POSTGRES_URL = testConfig.TEST_POSTGRES_URL;
export const TEST_LOG_LEVEL = testConfig.TEST_LOG_LEVEL;
/** Tests talk to a real Redis; TEST_REDIS_URL points elsewhere than the local default. */
export const TEST_REDIS_URL = testConfig.TEST_REDIS_URL;
/** The browser the portal's end-to-end tests and benchmark drive. */
export const TEST_CHROMIUM_PATH = testConfig.TEST_CHROMIUM_PATH;

export function testLogger(): Logger {
  return createLogger({ service: 'test', level: testConfig.TEST_LOG_LEVEL });
}

/** A unique database-name prefix per test file, so files can run in parallel against one server. */
export function uniquePrefix(label: string): string {
  return `t_${label.replace(/[^a-z0-9]/g, '').slice(0, 12)}_${randomBytes(4).toString('hex')}`;
}

/** The identity tests act as unless they say otherwise. */
export const TEST_ADMIN: Identity = { role: 'platform-admin', subject: 'test-admin' };

export interface TestSubgraph<S, C extends SubgraphConfig = SubgraphConfig> {
  service: SubgraphService<S, C>;
  /** `${service.url}/graphql` */
  graphqlUrl: string;
  /** Sends an operation the way the gateway does: with `identity` signed by the gateway key the subgraph trusts. */
  query<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, identity?: Identity): Promise<GraphQLResponse<T>>;
  /** Headers carrying `identity` as the gateway would sign it (for `audience`: default the subgraph audience). */
  identityHeaders(identity?: Identity, audience?: string): Promise<Record<string, string>>;
  databases: { control: string; shards: string[] };
  /** Stops the subgraph and drops its databases (unless it shares another instance's, which that one drops). */
  destroy(): Promise<void>;
}

export interface TestSubgraphOptions {
  label?: string;
  shards?: number;
  env?: Record<string, string>;
  bus?: EventBus;
  /**
   * Another instance of the same subgraph whose databases this one uses (two instances of one deployment: jobs
   * that run once across instances, directory caches). The first instance owns and drops them.
   */
  sharing?: Pick<TestSubgraph<unknown>, 'databases'>;
  /** The job queue's clock: a `TestClock` from @saldo/jobs moves cron schedules and job timers by hand. */
  jobClock?: Clock;
  /** The service's logger (default: testLogger()); a test that checks what was logged passes a recording one. */
  logger?: Logger;
}

/**
 * One subgraph on a free port over fresh databases (a control database and `shards` shard databases),
 * configured through the subgraph's own config loader exactly as in production.
 */
export async function startTestSubgraph<S, C extends SubgraphConfig = SubgraphConfig>(
  definition: SubgraphDefinition<S, C>,
  loadConfig: (env: Record<string, string>) => C,
  options: TestSubgraphOptions = {},
): Promise<TestSubgraph<S, C>> {
  const prefix = uniquePrefix(options.label ?? definition.name);
  const keys = generateSigningKeyPair();
  const signer = await IdentitySigner.fromPem(keys.privateKeyPem);
  const owned = options.sharing === undefined;
  const control = options.sharing?.databases.control ?? `${TEST_POSTGRES_URL}/${prefix}_control`;
  const shards =
    options.sharing?.databases.shards ?? Array.from({ length: options.shards ?? 2 }, (_, index) => `${TEST_POSTGRES_URL}/${prefix}_shard_${index}`);
  const config = loadConfig({
    PORT: '0',
    CONTROL_DATABASE_URL: control,
    SHARD_DATABASE_URLS: shards.join(','),
    CREATE_DATABASES: 'true',
    DATABASE_POOL_MAX: '4',
    LOG_LEVEL: testConfig.TEST_LOG_LEVEL,
    IDENTITY_PUBLIC_KEY: keys.publicKeyPem,
    // Jobs: idle workers poll often, a crashed instance's job is retried within seconds of its expiry, and depth
    // counts stay fresh, so tests wait on conditions briefly; a small pool, since tests run many subgraphs at once.
    JOBS_POOL_MAX: '1',
    JOBS_POLLING_INTERVAL_SECONDS: '0.5',
    JOBS_SUPERVISE_INTERVAL_SECONDS: '2',
    JOBS_MONITOR_INTERVAL_SECONDS: '2',
    JOBS_STOP_TIMEOUT_SECONDS: '5',
    ...options.env,
  });
  const logger = options.logger ?? testLogger();
  const service = createSubgraphService(definition, config, {
    bus: options.bus ?? new InProcessEventBus(logger),
    logger,
    ...(options.jobClock ? { jobClock: options.jobClock } : {}),
  });
  try {
    await service.start();
  } catch (error) {
    if (owned) await dropDatabases([control, ...shards]);
    throw error;
  }
  const identityHeaders = async (identity: Identity = TEST_ADMIN, audience?: string) => ({ [IDENTITY_HEADER]: await signer.sign(identity, audience) });
  return {
    service,
    graphqlUrl: `${service.url}/graphql`,
    identityHeaders,
    query: async (query, variables = {}, identity = TEST_ADMIN) => graphql(`${service.url}/graphql`, query, variables, await identityHeaders(identity)),
    databases: { control, shards },
    async destroy() {
      await service.stop();
      if (owned) await dropDatabases([control, ...shards]);
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

/**
 * How to run pnpm from a test, as a person would type it: the pnpm running the tests (`pnpm test` sets
 * npm_execpath), else the one on the PATH.
 */
export function pnpmCommand(args: string[]): { command: string; args: string[] } {
  const execPath = process.env.npm_execpath;
  return execPath && /\.c?js$/.test(execPath) ? { command: process.execPath, args: [execPath, ...args] } : { command: 'pnpm', args };
}

/** The environment for a helper process the tests start (pebble, nginx, ...): this process's plus `extra`. */
export function childEnvironment(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { ...process.env, ...extra };
}
