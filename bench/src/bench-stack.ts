import { startStack, type Stack, type StackOptions } from '@saldo/dev-stack';
import { createLogger, type Logger } from '@saldo/service';
import { dropDatabases } from '@saldo/sharding';
import { uniquePrefix } from '@saldo/testing';
import type { BenchConfig } from './config.js';

export interface BenchStack {
  stack: Stack;
  logger: Logger;
  /** Stops the stack and drops its databases. */
  destroy(): Promise<void>;
}

/** The whole embedded stack on free ports over fresh databases, as every benchmark runs it. */
export async function startBenchStack(
  config: BenchConfig,
  label: string,
  shardsPerSubgraph = 2,
  /**
   * Fixed subgraph ports, the stack's keys and extra gateway settings (subgraph-cost records the gateway's calls), and the
   * pool size per database (10 unless given).
   */
  options: Pick<StackOptions, 'keys' | 'poolMax'> & { ports?: Partial<StackOptions['ports']>; gatewayEnv?: Record<string, string> } = {},
): Promise<BenchStack> {
  const logger = createLogger({ service: 'bench', level: 'warn' });
  const stack = await startStack({
    postgresUrl: config.BENCH_POSTGRES_URL,
    databasePrefix: uniquePrefix(label),
    shardsPerSubgraph,
    ports: { gateway: 0, tenants: 0, billing: 0, usageForecast: 0, whiteLabel: 0, ...options.ports },
    logger,
    logLevel: 'warn',
    poolMax: options.poolMax ?? 10,
    // No automatic moves in the middle of a measurement (the rebalancing benchmark moves tenants itself).
    automaticRebalance: false,
    // The benchmark measures the platform, not the per-identity rate limit it drives through one token.
    rateLimit: { perMinute: 10_000_000, burst: 100_000 },
    // ...nor the WebSocket bounds: one load generator opens thousands of connections from one address at once.
    gatewayEnv: { WS_MAX_CONNECTIONS_PER_ADDRESS: '1000000', WS_MAX_CONNECTIONS_PER_CREDENTIAL: '1000000', ...options.gatewayEnv },
    ...(options.keys ? { keys: options.keys } : {}),
  });
  return {
    stack,
    logger,
    async destroy() {
      await stack.stop();
      await dropDatabases(stack.databaseUrls);
    },
  };
}
