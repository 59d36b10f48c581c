import { loadBenchConfig } from './config.js';
import { authOverhead } from './auth-overhead.js';
import { forecast } from './forecast.js';
import { gatewayCompare } from './gateway-compare.js';
import { gatewayLatency } from './gateway-latency.js';
import { subgraphCost } from './subgraph-cost.js';
import { jobs } from './jobs.js';
import { ledgerThroughput } from './ledger-throughput.js';
import { notifications } from './notifications.js';
import { subscriptions } from './subscriptions.js';
import { documents } from './documents.js';
import { domains } from './domains.js';
import { portal } from './portal.js';
import { rebalancing } from './rebalancing.js';
import { backup } from './backup.js';
import { observability } from './observability.js';

// `pnpm bench`: every benchmark prints a table and saves JSON under bench/results/.
const BENCHMARKS: Record<string, (config: ReturnType<typeof loadBenchConfig>) => Promise<void>> = {
  'gateway-latency': gatewayLatency,
  'gateway-compare': gatewayCompare,
  'subgraph-cost': subgraphCost,
  'ledger-throughput': ledgerThroughput,
  'auth-overhead': authOverhead,
  subscriptions,
  jobs,
  forecast,
  domains,
  documents,
  notifications,
  portal,
  rebalancing,
  backup,
  observability,
};

/** Benchmarks that run with BENCH_TOPOLOGY=services (one process per docker-compose.yml service). */
const SERVICES_TOPOLOGY = new Set(['gateway-latency', 'gateway-compare']);

const config = loadBenchConfig(process.env);
const selected = config.BENCH_ONLY ? config.BENCH_ONLY.split(',').map((name) => name.trim()) : Object.keys(BENCHMARKS);
for (const name of selected) {
  const benchmark = BENCHMARKS[name];
  if (!benchmark) throw new Error(`Unknown benchmark ${name}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  if (config.BENCH_TOPOLOGY === 'services' && !SERVICES_TOPOLOGY.has(name)) {
    console.log(`\n== ${name}: skipped (runs only in the embedded topology; BENCH_TOPOLOGY=services covers ${[...SERVICES_TOPOLOGY].join(', ')})`);
    continue;
  }
  console.log(`\n== ${name}`);
  await benchmark(config);
}
