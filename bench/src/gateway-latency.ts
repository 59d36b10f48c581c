import { startBenchStack } from './bench-stack.js';
import { startServicesBench } from './services-stack.js';
import { Worker } from 'node:worker_threads';
import { seedDemoData, type Stack } from '@saldo/dev-stack';
import type { Logger } from '@saldo/service';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';
import { summarize } from './stats.js';
import { treesCpuMs } from './proc-cpu.js';
import { redisServerPid, rounded, ServicesCpuProbe } from './services-cpu.js';

/** The four-subgraph query of the latency benchmarks (tenants -> billing, usage-forecast, white-label). */
export const TENANT_QUERY = `query Tenant($id: ID!) {
  tenant(id: $id) {
    name currency
    balance { available { amountMinor currency } }
    usage(days: 7) { date quantity }
    branding { displayName primaryColor }
  }
}`;

const LIST_QUERY = `query List { tenants(first: 20) { edges { node {
  name balance { available { amountMinor currency } } usage(days: 7) { date quantity } branding { displayName primaryColor }
} } } }`;

/** Sends `bodies` round-robin at a fixed arrival rate from a worker thread; latencies after the warm-up. */
export function runLoad(
  url: string,
  rps: number,
  durationMs: number,
  warmupMs: number,
  bodies: string[],
  headers: Record<string, string>,
  headersPerBody?: Array<Record<string, string>>,
) {
  return new Promise<{ latencies: number[]; errors: number }>((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), {
      workerData: { url, rps, durationMs, warmupMs, bodies, headers, headersPerBody },
    });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** The demo data (60 days of usage for its tenants) and bench tenants up to 100; their ids. */
export async function seedLatencyTenants(stack: Stack, logger: Logger): Promise<string[]> {
  await seedDemoData(stack, logger);
  for (let index = 0; index < 88; index += 1) {
    await stack.tenants.services.tenants.create({ name: `Bench tenant ${index}`, currency: 'EUR', country: 'DE' });
  }
  await stack.flushEvents();
  return (await stack.tenants.services.tenants.list({ first: 100 })).tenants.map((tenant) => tenant.id);
}

/**
 * Gateway latency for queries that touch all four subgraphs (tenants -> billing, usage-forecast, white-label),
 * at a fixed arrival rate. Design target: p95 < 15 ms at 300 req/s for a single-tenant query.
 */
export async function gatewayLatency(config: BenchConfig): Promise<void> {
  if (config.BENCH_TOPOLOGY === 'services') return gatewayLatencyServices(config);
  const bench = await startBenchStack(config, 'bench');
  const { stack, logger } = bench;
  try {
    const ids = await seedLatencyTenants(stack, logger);
    const tenantBodies = ids.map((id) => JSON.stringify({ query: TENANT_QUERY, variables: { id } }));
    const listBodies = [JSON.stringify({ query: LIST_QUERY })];
    // Every request authenticates as a platform operator with a reused bearer token, as a portal would.
    const headers = { authorization: `Bearer ${await stack.issueToken({ role: 'platform-admin', subject: 'bench' })}` };
    const durationMs = config.BENCH_DURATION_S * 1000;
    const warmupMs = config.BENCH_WARMUP_S * 1000;

    const rows: ResultRow[] = [];
    // The design's rate (BENCH_RPS, 300 by default) and a third of it, to show where the knee is.
    for (const rps of [...new Set([Math.max(1, Math.round(config.BENCH_RPS / 3)), config.BENCH_RPS])]) {
      const single = await runLoad(stack.graphqlUrl, rps, durationMs, warmupMs, tenantBodies, headers);
      const summary = summarize(single.latencies, single.errors, durationMs);
      rows.push({ scenario: `tenant(id) across 4 subgraphs @ ${rps} req/s`, ...summary, target: 'p95 < 15 ms', met: summary.p95 < 15 && summary.errors === 0 });
    }

    const listRps = Math.max(1, Math.round(config.BENCH_RPS / 6));
    const list = await runLoad(stack.graphqlUrl, listRps, durationMs, warmupMs, listBodies, headers);
    const listSummary = summarize(list.latencies, list.errors, durationMs);
    rows.push({ scenario: `tenants(first: 20) across 4 subgraphs @ ${listRps} req/s`, ...listSummary, target: 'informational', met: listSummary.errors === 0 });

    await report('gateway-latency', rows, {
      rps: config.BENCH_RPS,
      durationS: config.BENCH_DURATION_S,
      warmupS: config.BENCH_WARMUP_S,
      tenants: ids.length,
      shardsPerSubgraph: 2,
    });
  } finally {
    await bench.destroy();
  }
}

/**
 * The same measurements with every service in its own process, configured by docker-compose.yml (BENCH_TOPOLOGY=services).
 * Tenants are created through the gateway and have no usage history (the embedded run seeds 60 days of demo usage).
 */
async function gatewayLatencyServices(config: BenchConfig): Promise<void> {
  const bench = await startServicesBench(config, 'latency', 100);
  try {
    const tenantBodies = bench.tenantIds.map((id) => JSON.stringify({ query: TENANT_QUERY, variables: { id } }));
    const listBodies = [JSON.stringify({ query: LIST_QUERY })];
    const headers = { authorization: `Bearer ${await bench.issueToken({ role: 'platform-admin', subject: 'bench' })}` };
    const durationMs = config.BENCH_DURATION_S * 1000;
    const warmupMs = config.BENCH_WARMUP_S * 1000;
    const rows: ResultRow[] = [];
    const subgraphPids = Object.values(bench.subgraphPids);
    const probe = await ServicesCpuProbe.open(
      config.BENCH_POSTGRES_URL,
      bench.full.pids,
      bench.full.databaseUrls,
      await redisServerPid(config.BENCH_REDIS_URL),
    );
    try {
      // Idle: what every process spends with no request at all (relays, job polling, consumers, timers).
      const idleBefore = await probe.sample();
      await new Promise((resolve) => setTimeout(resolve, config.BENCH_SERVICES_IDLE_S * 1000));
      const idle = ServicesCpuProbe.window(idleBefore, await probe.sample());
      rows.push({ scenario: 'services idle: CPU ms per second', ...rounded(idle.ms, 1 / idle.seconds), target: 'informational', met: true });
      for (const rps of [...new Set([Math.max(1, Math.round(config.BENCH_RPS / 3)), config.BENCH_RPS])]) {
        // Every process's CPU over the measured part (from /proc), per federated query sent.
        let before: Promise<Awaited<ReturnType<ServicesCpuProbe['sample']>>> | undefined;
        let subgraphBefore: number | undefined;
        const timer = setTimeout(() => {
          subgraphBefore = treesCpuMs(subgraphPids);
          before = probe.sample();
        }, warmupMs);
        const single = await runLoad(bench.graphqlUrl, rps, durationMs, warmupMs, tenantBodies, headers);
        clearTimeout(timer);
        const queries = Math.round((durationMs / 1000) * rps);
        const subgraphCpuMsPerQuery = subgraphBefore === undefined ? NaN : (treesCpuMs(subgraphPids) - subgraphBefore) / queries;
        const perQuery = before === undefined ? undefined : ServicesCpuProbe.window(await before, await probe.sample());
        const summary = summarize(single.latencies, single.errors, durationMs);
        rows.push({
          scenario: `services: tenant(id) across 4 subgraphs @ ${rps} req/s`,
          ...summary,
          subgraphCpuMsPerQuery: Math.round(subgraphCpuMsPerQuery * 100) / 100,
          target: 'p95 < 15 ms',
          met: summary.p95 < 15 && summary.errors === 0,
        });
        if (perQuery)
          rows.push({ scenario: `services: CPU ms per query @ ${rps} req/s`, ...rounded(perQuery.ms, 1 / queries), target: 'informational', met: true });
      }
    } finally {
      await probe.close();
    }
    const listRps = Math.max(1, Math.round(config.BENCH_RPS / 6));
    const list = await runLoad(bench.graphqlUrl, listRps, durationMs, warmupMs, listBodies, headers);
    const listSummary = summarize(list.latencies, list.errors, durationMs);
    rows.push({
      scenario: `services: tenants(first: 20) across 4 subgraphs @ ${listRps} req/s`,
      ...listSummary,
      target: 'informational',
      met: listSummary.errors === 0,
    });
    await report('gateway-latency', rows, {
      topology: 'services',
      rps: config.BENCH_RPS,
      durationS: config.BENCH_DURATION_S,
      warmupS: config.BENCH_WARMUP_S,
      tenants: bench.tenantIds.length,
      poolMax: config.BENCH_SERVICES_POOL_MAX,
      idleS: config.BENCH_SERVICES_IDLE_S,
    });
  } finally {
    await bench.destroy();
  }
}
