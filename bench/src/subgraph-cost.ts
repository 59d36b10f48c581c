import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, generateSigningKeyPair } from '@saldo/identity';
import { freePort } from '@saldo/testing';
import { startBenchStack } from './bench-stack.js';
import type { BenchConfig } from './config.js';
import { TENANT_QUERY, seedLatencyTenants } from './gateway-latency.js';
import { report, type ResultRow } from './report.js';
import type { ReplayCall, ReplayResult } from './subgraph-replay-worker.js';

/**
 * Subgraph CPU per federated query (issue 9, deliverable 2; docs/decisions/0025-subgraph-request-cost.md).
 *
 * The embedded stack (demo data, 100 tenants) with a recording proxy between the gateway and each subgraph: the
 * four-subgraph tenant(id) query of gateway-latency is sent through the gateway once per tenant, and the proxies keep
 * the gateway's own subgraph calls (operation, variables, representations, headers). Those calls are then replayed
 * straight at the subgraphs from a worker thread, closed loop, a fixed number of federated queries (each: its four
 * calls at once). The benchmark's main thread then runs nothing but the four subgraphs and their database clients, so
 * its CPU time (process.threadCpuUsage) over the measured queries, less its idle rate (relays, job queue polling), is
 * the subgraphs' CPU per federated query. CPU time rather than wall time: other work on a shared machine moves it far
 * less than latency. The same replay per subgraph alone gives the split.
 */

const IDENTITY: Identity = { role: 'platform-admin', subject: 'bench' };
const SUBGRAPHS = ['tenants', 'billing', 'usageForecast', 'whiteLabel'] as const;
type SubgraphKey = (typeof SUBGRAPHS)[number];
const ENV_NAMES: Record<SubgraphKey, string> = {
  tenants: 'SUBGRAPH_URL_TENANTS',
  billing: 'SUBGRAPH_URL_BILLING',
  usageForecast: 'SUBGRAPH_URL_USAGE_FORECAST',
  whiteLabel: 'SUBGRAPH_URL_WHITE_LABEL',
};
/** Hop-by-hop and per-request headers the replay sets itself (the identity is signed afresh, as the gateway does). */
const DROPPED_HEADERS = new Set(['host', 'connection', 'content-length', 'keep-alive', IDENTITY_HEADER]);

interface Recorder {
  url: string;
  calls: ReplayCall[];
  close(): Promise<void>;
}

/** An HTTP proxy in front of one subgraph that keeps every POST it forwards (path, headers, body). */
async function startRecorder(subgraph: SubgraphKey, targetPort: number, log: Array<ReplayCall & { subgraph: SubgraphKey }>): Promise<Recorder> {
  const agent = new http.Agent({ keepAlive: true });
  const calls: ReplayCall[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && !DROPPED_HEADERS.has(entry[0])),
      );
      const call: ReplayCall = { url: `http://127.0.0.1:${targetPort}${req.url ?? '/'}`, headers, body };
      calls.push(call);
      log.push({ ...call, subgraph });
      const upstream = http.request(call.url, { method: req.method, headers: req.headers, agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Replays `queries` (each a list of calls sent at once) from a worker; the main thread's CPU over the measured part. */
function replay(
  queries: ReplayCall[][],
  options: { count: number; warmup: number; concurrency: number; identityKeyPem: string },
): Promise<ReplayResult & { cpuMs: number }> {
  return new Promise((resolve, reject) => {
    let before: NodeJS.CpuUsage | undefined;
    const worker = new Worker(new URL('./subgraph-replay-worker.js', import.meta.url), {
      workerData: { queries, identity: IDENTITY, ...options },
    });
    worker.on('message', (message: { type: 'measuring' } | ({ type: 'done' } & ReplayResult)) => {
      if (message.type === 'measuring') {
        before = process.threadCpuUsage();
        return;
      }
      const used = process.threadCpuUsage(before);
      resolve({ ...message, cpuMs: (used.user + used.system) / 1000 });
    });
    worker.once('error', reject);
  });
}

/** CPU the main thread spends per second with no request at all (outbox relays, job queue polling, timers). */
async function idleCpuMsPerSecond(ms: number): Promise<number> {
  const before = process.threadCpuUsage();
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.threadCpuUsage(before);
  return (used.user + used.system) / 1000 / ((performance.now() - start) / 1000);
}

export async function subgraphCost(config: BenchConfig): Promise<void> {
  const keys = { identity: generateSigningKeyPair(), portal: generateSigningKeyPair() };
  const ports = Object.fromEntries(await Promise.all(SUBGRAPHS.map(async (name) => [name, await freePort()] as const))) as Record<SubgraphKey, number>;
  const log: Array<ReplayCall & { subgraph: SubgraphKey }> = [];
  const recorders = Object.fromEntries(
    await Promise.all(SUBGRAPHS.map(async (name) => [name, await startRecorder(name, ports[name], log)] as const)),
  ) as Record<SubgraphKey, Recorder>;
  const bench = await startBenchStack(config, 'subgraphcost', 2, {
    keys,
    ports,
    gatewayEnv: {
      ...Object.fromEntries(SUBGRAPHS.map((name) => [ENV_NAMES[name], `${recorders[name].url}/graphql`])),
      // Each recorded query must make its own four calls.
      SUBGRAPH_QUERY_DEDUP: 'false',
    },
  });
  const { stack, logger } = bench;
  try {
    const ids = await seedLatencyTenants(stack, logger);
    const token = await stack.issueToken(IDENTITY);
    // Record the gateway's subgraph calls for every tenant's query, one query at a time.
    const queries: Array<Array<ReplayCall & { subgraph: SubgraphKey }>> = [];
    for (const id of ids) {
      log.length = 0;
      const response = await fetch(stack.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: TENANT_QUERY, variables: { id } }),
      });
      const answer = (await response.json()) as { data?: { tenant?: unknown }; errors?: unknown };
      if (!answer.data?.tenant || answer.errors) throw new Error(`tenant ${id}: ${JSON.stringify(answer)}`);
      const bySubgraph = new Set(log.map((call) => call.subgraph));
      if (log.length !== SUBGRAPHS.length || bySubgraph.size !== SUBGRAPHS.length) {
        throw new Error(`expected one call per subgraph for tenant ${id}, recorded ${log.map((call) => call.subgraph).join(', ')}`);
      }
      queries.push([...log]);
    }
    for (const recorder of Object.values(recorders)) await recorder.close();

    const count = config.BENCH_SUBGRAPH_COST_QUERIES;
    const options = {
      count,
      warmup: Math.round(count / 3),
      concurrency: config.BENCH_SUBGRAPH_COST_CONCURRENCY,
      identityKeyPem: keys.identity.privateKeyPem,
    };
    const idle = await idleCpuMsPerSecond(3000);
    const rows: ResultRow[] = [];
    const scenarios: Array<{ label: string; only?: SubgraphKey }> = [
      { label: 'tenant(id) across 4 subgraphs: all four subgraph calls' },
      ...SUBGRAPHS.map((only) => ({ label: `tenant(id): the ${only} call alone`, only })),
    ];
    for (const scenario of scenarios) {
      const calls = queries.map((query) =>
        query.filter((call) => !scenario.only || call.subgraph === scenario.only).map(({ subgraph: _subgraph, ...call }) => call),
      );
      const result = await replay(calls, options);
      const cpuMs = Math.max(0, result.cpuMs - (idle * result.measuredMs) / 1000);
      const perQuery = cpuMs / result.ok;
      rows.push({
        scenario: scenario.label,
        queries: result.ok,
        errors: result.errors,
        cpuMsPerQuery: Math.round(perQuery * 1000) / 1000,
        wallQueriesPerSecond: Math.round(result.ok / (result.measuredMs / 1000)),
        target: scenario.only ? 'split' : 'informational: before/after in docs/architecture.md',
        met: result.errors === 0,
        ...(result.sample ? { sample: result.sample } : {}),
      });
      console.log(`${scenario.label}: ${perQuery.toFixed(3)} ms CPU per query over ${result.ok} queries, errors ${result.errors}`);
    }
    await report('subgraph-cost', rows, {
      queries: count,
      warmupQueries: options.warmup,
      concurrency: options.concurrency,
      tenants: ids.length,
      shardsPerSubgraph: 2,
      idleCpuMsPerSecond: Math.round(idle * 100) / 100,
      method: 'main-thread CPU (process.threadCpuUsage) while a worker replays the gateway-recorded subgraph calls, minus the idle rate',
      note: 'shared 2-core machine, other work running; CPU time per query, not latency',
    });
  } finally {
    for (const recorder of Object.values(recorders)) await recorder.close().catch(() => {});
    await bench.destroy();
  }
}
