import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Identity } from '@saldo/graphql';
import { IdentitySigner } from '@saldo/identity';
import { freePort, waitUntil } from '@saldo/testing';
import type { BenchConfig } from './config.js';
import { runLoad } from './gateway-latency.js';
import { report, type ResultRow } from './report.js';
import { startServicesBench, SUBGRAPH_SERVICES } from './services-stack.js';
import { percentile, summarize } from './stats.js';
import { treeCpuMs } from './proc-cpu.js';

/**
 * Saldo's gateway, Hive Gateway and plain @apollo/gateway, each its own process in front of the same subgraph processes
 * (the services topology: docker-compose.yml's configuration, Kafka on the mock cluster) and the same supergraph,
 * measured alternately: max throughput at BENCH_COMPARE_CONNECTIONS connections (closed loop) and latency at a fixed
 * BENCH_COMPARE_RPS (open loop), for (a) one identical query and (b) a different tenant per request (each as that
 * tenant's admin); CPU per request of the gateway process tree and of the four subgraphs, from /proc.
 *
 * Saldo's gateway authenticates every request (a bearer JWT, verified and cached) and signs the identity it forwards,
 * with its compose configuration (Redis rate limit per request included). Hive Gateway and Apollo's gateway have no
 * authentication: the client sends the gateway-signed identity (x-saldo-identity, signed before each measurement with
 * a 300 s lifetime, which the subgraphs are configured to accept) and they forward it.
 */

const QUERY = `query Tenant($id: ID!) {
  tenant(id: $id) {
    name currency
    balance { available { amountMinor currency } }
    usage(days: 7) { date quantity }
    branding { displayName primaryColor }
  }
}`;

type GatewayName = 'saldo' | 'hive' | 'apollo';
const GATEWAYS: GatewayName[] = ['saldo', 'hive', 'apollo'];
type Workload = 'identical' | 'per-tenant';
interface Request {
  body: string;
  headers: Record<string, string>;
}

interface CpuSample {
  gateway: number;
  subgraphs: number;
}

function sampleCpu(gatewayPid: number, subgraphPids: number[]): CpuSample {
  return { gateway: treeCpuMs(gatewayPid), subgraphs: subgraphPids.reduce((sum, pid) => sum + treeCpuMs(pid), 0) };
}

function closedLoop(url: string, connections: number, warmupMs: number, durationMs: number, requests: Request[], onMeasuring: () => void) {
  return new Promise<{ ok: number; errors: number; sample: string; latencies: number[]; measuredMs: number }>((resolve, reject) => {
    const worker = new Worker(new URL('./closed-loop-worker.js', import.meta.url), { workerData: { url, connections, warmupMs, durationMs, requests } });
    worker.on('message', (message: { type: string }) => {
      if (message.type === 'measuring') onMeasuring();
      else resolve(message as never);
    });
    worker.once('error', reject);
  });
}

async function startProcess(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> },
  readyUrl: string,
  label: string,
): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd: options.cwd, env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`${label} exited: ${output}`);
      return fetch(readyUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }).then(
        () => true,
        () => false,
      );
    },
    `${label} to listen`,
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

export async function gatewayCompare(config: BenchConfig): Promise<void> {
  const tenants = config.BENCH_COMPARE_TENANTS;
  // Hive and Apollo forward identities the client signed in advance: the subgraphs accept lifetimes up to their maximum
  // (300 s; 30 s by default), and the benchmark signs them afresh before every measurement.
  const lifetime = { IDENTITY_TTL_SECONDS: '300' };
  const bench = await startServicesBench(config, 'compare', tenants, Object.fromEntries(SUBGRAPH_SERVICES.map((name) => [name, lifetime])));
  const dir = await mkdtemp(join(tmpdir(), 'saldo-compare-'));
  const children: ChildProcess[] = [];
  try {
    const { full } = bench;
    // One supergraph for all three: the checked-in one with the subgraph processes' URLs.
    let supergraph = await readFile(fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url)), 'utf8');
    for (const name of SUBGRAPH_SERVICES) {
      supergraph = supergraph.replace(
        new RegExp(`@join__graph\\(name: "${name}", url: "[^"]+"\\)`),
        `@join__graph(name: "${name}", url: "${full.url(name)}/graphql")`,
      );
    }
    const supergraphPath = join(dir, 'supergraph.graphql');
    await writeFile(supergraphPath, supergraph);

    // Hive Gateway: its CLI, one process (--fork 1), forwarding the identity header.
    const hivePort = await freePort();
    const hiveConfig = join(dir, 'gateway.config.mjs');
    await writeFile(
      hiveConfig,
      "export const gatewayConfig = { propagateHeaders: { fromClientToSubgraphs: ({ request }) => ({ 'x-saldo-identity': request.headers.get('x-saldo-identity') ?? undefined }) } };\n",
    );
    const require = createRequire(import.meta.url);
    const hiveBin = join(
      require.resolve('@graphql-hive/gateway/package.json').replace(/package\.json$/, ''),
      (JSON.parse(readFileSync(require.resolve('@graphql-hive/gateway/package.json'), 'utf8')) as { bin: Record<string, string> }).bin['hive-gateway']!,
    );
    const hive = await startProcess(
      process.execPath,
      [hiveBin, 'supergraph', supergraphPath, '--port', String(hivePort), '--host', '127.0.0.1', '--fork', '1', '--polling', '24h', '-c', hiveConfig],
      { cwd: dir, env: { NODE_ENV: 'production' } },
      `http://127.0.0.1:${hivePort}/graphql`,
      'Hive Gateway',
    );
    children.push(hive);
    const apolloPort = await freePort();
    const apollo = await startProcess(
      process.execPath,
      [fileURLToPath(new URL('./apollo-gateway-server.js', import.meta.url)), '--supergraph', supergraphPath, '--port', String(apolloPort)],
      { env: { NODE_ENV: 'production' } },
      `http://127.0.0.1:${apolloPort}/`,
      '@apollo/gateway',
    );
    children.push(apollo);

    const urls: Record<GatewayName, string> = {
      saldo: full.graphqlUrl,
      hive: `http://127.0.0.1:${hivePort}/graphql`,
      apollo: `http://127.0.0.1:${apolloPort}/`,
    };
    const pids: Record<GatewayName, number> = { saldo: full.pids.gateway!, hive: hive.pid!, apollo: apollo.pid! };
    const subgraphPids = Object.values(bench.subgraphPids);

    // The requests: Saldo gets bearer tokens, the others the identity Saldo's gateway would have signed (long-lived).
    const identityKey = (await full.identityKeys()).privateKeyPem;
    const identities: Array<{ tenantId: string; identity: Identity }> = bench.tenantIds.map((tenantId) => ({
      tenantId,
      identity: { role: 'tenant-admin', subject: `bench-${tenantId}`, tenantId },
    }));
    const admin: Identity = { role: 'platform-admin', subject: 'bench' };
    const requestsFor = async (gateway: GatewayName, workload: Workload): Promise<Request[]> => {
      // A new signer each time: fresh 300 s identities (a signer reuses its tokens for half their lifetime).
      const signer = await IdentitySigner.fromPem(identityKey, 300);
      const list = workload === 'identical' ? [{ tenantId: bench.tenantIds[0]!, identity: admin }] : identities;
      return Promise.all(
        list.map(async ({ tenantId, identity }): Promise<Request> => ({
          body: JSON.stringify({ query: QUERY, variables: { id: tenantId }, operationName: 'Tenant' }),
          headers:
            gateway === 'saldo'
              ? { authorization: `Bearer ${await full.issueToken(identity, 4 * 3600)}` }
              : { 'x-saldo-identity': await signer.sign(identity) },
        })),
      );
    };
    const requests = new Map<string, Request[]>();
    const refresh = async (gateway: GatewayName, workload: Workload): Promise<Request[]> => {
      const list = await requestsFor(gateway, workload);
      requests.set(`${gateway}/${workload}`, list);
      return list;
    };
    for (const gateway of GATEWAYS) for (const workload of ['identical', 'per-tenant'] as Workload[]) await refresh(gateway, workload);

    // All three answer the same thing.
    const answers = await Promise.all(
      GATEWAYS.map(async (gateway) => {
        const request = requests.get(`${gateway}/per-tenant`)![1]!;
        const response = await fetch(urls[gateway], {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...request.headers },
          body: request.body,
        });
        return (await response.json()) as unknown;
      }),
    );
    for (const answer of answers.slice(1)) {
      if (JSON.stringify(answer) !== JSON.stringify(answers[0])) throw new Error(`gateways disagree: ${JSON.stringify(answers)}`);
    }
    if (!(answers[0] as { data?: { tenant?: unknown } }).data?.tenant) throw new Error(`no tenant in the answer: ${JSON.stringify(answers[0])}`);

    const durationMs = config.BENCH_COMPARE_DURATION_S * 1000;
    const warmupMs = config.BENCH_COMPARE_WARMUP_S * 1000;
    type Key = `${GatewayName}/${Workload}`;
    const throughput = new Map<Key, Array<{ rps: number; errors: number; gatewayCpuMs: number; subgraphCpuMs: number; p50: number; sample: string }>>();
    const latency = new Map<Key, { latencies: number[]; errors: number; gatewayCpuMs: number[]; subgraphCpuMs: number[] }>();

    for (let round = 0; round < config.BENCH_COMPARE_ROUNDS; round += 1) {
      for (const workload of ['identical', 'per-tenant'] as Workload[]) {
        // Alternate, and rotate who goes first each round so no gateway always follows the same neighbour.
        const order = GATEWAYS.map((_, index) => GATEWAYS[(index + round) % GATEWAYS.length]!);
        for (const gateway of order) {
          const key: Key = `${gateway}/${workload}`;
          let before: CpuSample | undefined;
          const result = await closedLoop(urls[gateway], config.BENCH_COMPARE_CONNECTIONS, warmupMs, durationMs, await refresh(gateway, workload), () => {
            before = sampleCpu(pids[gateway], subgraphPids);
          });
          const after = sampleCpu(pids[gateway], subgraphPids);
          const rps = result.ok / (result.measuredMs / 1000);
          const entry = {
            rps,
            errors: result.errors,
            gatewayCpuMs: (after.gateway - before!.gateway) / Math.max(1, result.ok + result.errors),
            subgraphCpuMs: (after.subgraphs - before!.subgraphs) / Math.max(1, result.ok + result.errors),
            p50: percentile(
              [...result.latencies].sort((a, b) => a - b),
              0.5,
            ),
            sample: result.sample,
          };
          throughput.set(key, [...(throughput.get(key) ?? []), entry]);
          console.log(
            `round ${round + 1} ${key} throughput: ${rps.toFixed(0)} req/s, errors ${result.errors}, gateway ${entry.gatewayCpuMs.toFixed(2)} ms CPU/req, subgraphs ${entry.subgraphCpuMs.toFixed(2)}${result.sample ? ` (${result.sample})` : ''}`,
          );
        }
        for (const gateway of order) {
          const key: Key = `${gateway}/${workload}`;
          let before: CpuSample | undefined;
          const timer = setTimeout(() => (before = sampleCpu(pids[gateway], subgraphPids)), warmupMs);
          const requestList = await refresh(gateway, workload);
          const result = await runLoad(
            urls[gateway],
            config.BENCH_COMPARE_RPS,
            durationMs,
            warmupMs,
            requestList.map((item) => item.body),
            {},
            requestList.map((item) => item.headers),
          );
          clearTimeout(timer);
          const after = sampleCpu(pids[gateway], subgraphPids);
          const count = Math.round((durationMs / 1000) * config.BENCH_COMPARE_RPS);
          const current = latency.get(key) ?? { latencies: [], errors: 0, gatewayCpuMs: [], subgraphCpuMs: [] };
          current.latencies.push(...result.latencies);
          current.errors += result.errors;
          if (before) {
            current.gatewayCpuMs.push((after.gateway - before.gateway) / count);
            current.subgraphCpuMs.push((after.subgraphs - before.subgraphs) / count);
          }
          latency.set(key, current);
          const summary = summarize(result.latencies, result.errors, durationMs);
          console.log(
            `round ${round + 1} ${key} @ ${config.BENCH_COMPARE_RPS} req/s: p50 ${summary.p50} p95 ${summary.p95} p99 ${summary.p99} ms, errors ${result.errors}`,
          );
        }
      }
    }

    const mean = (values: number[]): number => (values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : NaN);
    const round2 = (value: number): number => Math.round(value * 100) / 100;
    const rows: ResultRow[] = [];
    for (const workload of ['identical', 'per-tenant'] as Workload[]) {
      const hiveRps = mean(throughput.get(`hive/${workload}`)!.map((entry) => entry.rps));
      const hiveP95 = summarize(latency.get(`hive/${workload}`)!.latencies, 0, durationMs).p95;
      const hiveCpu = mean(throughput.get(`hive/${workload}`)!.map((entry) => entry.gatewayCpuMs));
      for (const gateway of GATEWAYS) {
        const key: Key = `${gateway}/${workload}`;
        const runs = throughput.get(key)!;
        const rps = mean(runs.map((entry) => entry.rps));
        const lat = latency.get(key)!;
        const summary = summarize(lat.latencies, lat.errors, durationMs * config.BENCH_COMPARE_ROUNDS);
        const gatewayCpu = mean(runs.map((entry) => entry.gatewayCpuMs));
        rows.push({
          scenario: `${workload === 'identical' ? '(a) one identical query' : '(b) a different tenant per request'}: ${gateway}`,
          maxRps: Math.round(rps),
          rpsRuns: runs.map((entry) => Math.round(entry.rps)).join('/'),
          rpsVsHive: round2(rps / hiveRps),
          throughputErrors: runs.reduce((sum, entry) => sum + entry.errors, 0),
          gatewayCpuMsPerReq: round2(gatewayCpu),
          gatewayCpuVsHive: round2(gatewayCpu / hiveCpu),
          subgraphCpuMsPerReq: round2(mean(runs.map((entry) => entry.subgraphCpuMs))),
          [`p50@${config.BENCH_COMPARE_RPS}`]: summary.p50,
          [`p95@${config.BENCH_COMPARE_RPS}`]: summary.p95,
          [`p99@${config.BENCH_COMPARE_RPS}`]: summary.p99,
          p95VsHive: round2(summary.p95 / hiveP95),
          latencyErrors: lat.errors,
          gatewayCpuMsPerReqAtRate: round2(mean(lat.gatewayCpuMs)),
          subgraphCpuMsPerReqAtRate: round2(mean(lat.subgraphCpuMs)),
          target: gateway === 'saldo' ? 'maxRps >= Hive' : 'reference',
          met: gateway === 'saldo' ? rps >= hiveRps : true,
        });
      }
    }
    await report('gateway-compare', rows, {
      topology: 'services (docker-compose.yml configuration, one process per service)',
      connections: config.BENCH_COMPARE_CONNECTIONS,
      rps: config.BENCH_COMPARE_RPS,
      durationS: config.BENCH_COMPARE_DURATION_S,
      warmupS: config.BENCH_COMPARE_WARMUP_S,
      rounds: config.BENCH_COMPARE_ROUNDS,
      tenants,
      hiveGateway: (JSON.parse(readFileSync(require.resolve('@graphql-hive/gateway/package.json'), 'utf8')) as { version: string }).version,
      apolloGateway: (JSON.parse(readFileSync(require.resolve('@apollo/gateway/package.json'), 'utf8')) as { version: string }).version,
      note: 'shared, loaded 2-core machine; the load generator runs on the same cores',
    });
  } finally {
    for (const child of children) await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
    await bench.destroy();
  }
}
