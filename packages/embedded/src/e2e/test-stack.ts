import { dropDatabases } from '@saldo/sharding';
import { TEST_LOG_LEVEL, TEST_POSTGRES_URL, testLogger, uniquePrefix } from '@saldo/testing';
import { startStack, type Stack } from '../stack.js';

export interface TestStack extends Stack {
  /** Stops every service and drops every database it created. */
  destroy(): Promise<void>;
}

/** The whole federated stack on free ports over fresh databases, as `pnpm start` runs it. */
export async function startTestStack(label: string, options: { shardsPerSubgraph?: number } = {}): Promise<TestStack> {
  const stack = await startStack({
    postgresUrl: TEST_POSTGRES_URL,
    databasePrefix: uniquePrefix(label),
    shardsPerSubgraph: options.shardsPerSubgraph ?? 2,
    ports: { gateway: 0, tenants: 0, billing: 0, usageForecast: 0, whiteLabel: 0 },
    logger: testLogger(),
    logLevel: TEST_LOG_LEVEL,
    poolMax: 4,
  });
  return Object.assign(stack, {
    async destroy() {
      await stack.stop();
      await dropDatabases(stack.databaseUrls);
    },
  });
}
