import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databasesOfFailedStart, startFullStack, type FullStack } from '@saldo/full-stack';
import type { Identity } from '@saldo/graphql';
import { createLogger, type Logger } from '@saldo/service';
import { dropDatabases } from '@saldo/sharding';
import { uniquePrefix, waitUntil } from '@saldo/testing';
import type { BenchConfig } from './config.js';

/**
 * BENCH_TOPOLOGY=services: the services as separate processes, configured by docker-compose.yml (`pnpm start:full`'s
 * launcher: free ports, fresh databases, Kafka on librdkafka's mock cluster, the machine's Redis), seeded through
 * the gateway's public API.
 */
export interface ServicesBench {
  full: FullStack;
  logger: Logger;
  graphqlUrl: string;
  /** Tenants created through the gateway, each with its billing account open (seen through the graph). */
  tenantIds: string[];
  issueToken(identity: Identity, ttlSeconds?: number): Promise<string>;
  /** Process ids of the four subgraphs, by name. */
  subgraphPids: Record<string, number>;
  destroy(): Promise<void>;
}

export const SUBGRAPH_SERVICES = ['tenants', 'billing', 'usage-forecast', 'white-label'] as const;

async function graphql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  if (body.errors?.length) throw new Error(`GraphQL: ${body.errors.map((error) => `${error.extensions?.code ?? ''} ${error.message}`).join('; ')}`);
  return body.data!;
}

export async function startServicesBench(
  config: BenchConfig,
  label: string,
  tenants: number,
  extraOverrides: Record<string, Record<string, string>> = {},
): Promise<ServicesBench> {
  const logger = createLogger({ service: 'bench', level: 'warn' });
  const home = await mkdtemp(join(tmpdir(), `saldo-bench-${label}-`));
  const full = await startFullStack({
    home,
    postgresUrl: config.BENCH_POSTGRES_URL,
    databasePrefix: `${uniquePrefix(label)}_`,
    redisUrl: config.BENCH_REDIS_URL,
    freePorts: true,
    interpolation: {},
    devIssuer: true,
    // The gateway and what it needs (not the custom-domain worker and nginx, which serve no GraphQL).
    only: ['gateway'],
    overrides: {
      '*': { LOG_LEVEL: 'warn', DATABASE_POOL_MAX: String(config.BENCH_SERVICES_POOL_MAX) },
      // The benchmark measures the platform, not the per-identity rate limit it drives through few tokens.
      gateway: { RATE_LIMIT_PER_MINUTE: '10000000', RATE_LIMIT_BURST: '100000' },
      ...extraOverrides,
    },
    logger,
    output: (service, line) => {
      if (/"level":"(warn|error)"|Error/.test(line)) process.stderr.write(`${service} | ${line.slice(0, 400)}\n`);
    },
  }).catch(async (error: unknown) => {
    await dropDatabases(databasesOfFailedStart(error));
    await rm(home, { recursive: true, force: true });
    throw error;
  });
  const destroy = async (): Promise<void> => {
    const exits = await full.stop();
    for (const exit of exits) if (exit.code !== 0) console.warn(`${exit.service} exited with ${exit.signal ?? exit.code}`);
    await dropDatabases(full.databaseUrls);
    await rm(home, { recursive: true, force: true });
  };
  try {
    const admin = await full.issueToken({ role: 'platform-admin', subject: 'bench' });
    const ids: string[] = [];
    for (let index = 0; index < tenants; index += 1) {
      const created = await graphql<{ createTenant: { id: string } }>(
        full.graphqlUrl,
        admin,
        'mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }',
        {
          input: { name: `Bench tenant ${index}`, currency: 'EUR', country: 'DE' },
        },
      );
      ids.push(created.createTenant.id);
    }
    // Every tenant's account is opened by billing from tenant.created over Kafka: wait until the graph shows them all.
    await waitUntil(
      async () => {
        const page = await graphql<{ tenants: { edges: Array<{ node: { balance: unknown } }> } }>(
          full.graphqlUrl,
          admin,
          `query { tenants(first: ${Math.min(100, tenants)}) { edges { node { balance { version } } } } }`,
        );
        return page.tenants.edges.every((edge) => edge.node.balance !== null);
      },
      'billing accounts of the seeded tenants',
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    return {
      full,
      logger,
      graphqlUrl: full.graphqlUrl,
      tenantIds: ids,
      issueToken: (identity, ttlSeconds) => full.issueToken(identity, ttlSeconds),
      subgraphPids: Object.fromEntries(SUBGRAPH_SERVICES.map((name) => [name, full.pids[name]!])),
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
