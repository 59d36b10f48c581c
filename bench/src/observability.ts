import { Worker } from 'node:worker_threads';
import { flushTraces, startTracing } from '@saldo/observability';
import { createLogger } from '@saldo/service';
import { startBenchStack } from './bench-stack.js';
import type { BenchConfig } from './config.js';
import { TENANT_QUERY, runLoad, seedLatencyTenants } from './gateway-latency.js';
import { report, type ResultRow } from './report.js';
import { summarize } from './stats.js';

/** The OTLP receiver thread (otlp-sink-worker.ts). */
async function startSink(): Promise<{ url: string; spans(): Promise<number>; close(): Promise<void> }> {
  const worker = new Worker(new URL('./otlp-sink-worker.js', import.meta.url));
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (message: { port: number }) => resolve(message.port));
    worker.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () =>
      new Promise((resolve) => {
        worker.once('message', (message: { spans: number }) => resolve(message.spans));
        worker.postMessage({ type: 'count' });
      }),
    close: async () => {
      worker.postMessage({ type: 'close' });
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

/** Closed-loop throughput (closed-loop-worker.ts): requests answered per second with `connections` loops. */
function closedLoop(
  url: string,
  connections: number,
  warmupMs: number,
  durationMs: number,
  requests: Array<{ body: string; headers: Record<string, string> }>,
) {
  return new Promise<{ ok: number; errors: number; measuredMs: number; latencies: number[] }>((resolve, reject) => {
    const worker = new Worker(new URL('./closed-loop-worker.js', import.meta.url), { workerData: { url, connections, warmupMs, durationMs, requests } });
    worker.on('message', (message: { type: string }) => {
      if (message.type !== 'measuring') resolve(message as never);
    });
    worker.once('error', reject);
  });
}

type Mode = 'baseline' | 'metrics' | 'tracing-all' | 'tracing-ratio';

/**
 * What tracing and metrics cost the gateway-latency benchmark's query (tenant(id) across four subgraphs, embedded stack).
 * Four modes, run in the order baseline, metrics, tracing-all, tracing-ratio and then backwards, so drift on a shared
 * machine falls on all of them:
 * - `baseline`: tracing off, nothing scrapes /metrics (the request path's counters and histograms cannot be switched
 *   off; they cost a few label lookups per request);
 * - `metrics`: the five services' /metrics scraped every second, as Prometheus would;
 * - `tracing-all`: metrics + tracing with every trace sampled, exported over OTLP/HTTP to a receiver on its own thread;
 * - `tracing-ratio`: the same with the production setting, parentbased_traceidratio at BENCH_OBS_SAMPLE_RATIO (0.1).
 * Each mode: closed-loop throughput (16 connections: the maximum the stack serves) and p50/p95 at a fixed arrival rate
 * below capacity (BENCH_OBS_RPS, else 60 % of the first baseline throughput). Targets, against the baseline: < 5 %
 * throughput and < 1 ms p95.
 */
export async function observability(config: BenchConfig): Promise<void> {
  const bench = await startBenchStack(config, 'obs');
  const { stack, logger } = bench;
  const sink = await startSink();
  let scraper: NodeJS.Timeout | undefined;
  const scraping = (on: boolean) => {
    clearInterval(scraper);
    scraper = on
      ? setInterval(() => {
          for (const url of [stack.gateway.url, stack.tenants.url, stack.billing.url, stack.usageForecast.url, stack.whiteLabel.url])
            void fetch(`${url}/metrics`).then((response) => response.text());
        }, 1000)
      : undefined;
  };
  try {
    const ids = await seedLatencyTenants(stack, logger);
    const bodies = ids.map((id) => JSON.stringify({ query: TENANT_QUERY, variables: { id } }));
    const headers = { authorization: `Bearer ${await stack.issueToken({ role: 'platform-admin', subject: 'bench' })}` };
    const requests = bodies.map((body) => ({ body, headers }));
    const durationMs = config.BENCH_DURATION_S * 1000;
    const warmupMs = config.BENCH_WARMUP_S * 1000;
    const tracingConfig = (ratio: number) => ({
      OTEL_SDK_DISABLED: false,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_EXPORTER_OTLP_HEADERS: {},
      OTEL_TRACES_EXPORTER: 'otlp' as const,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' as const,
      OTEL_TRACES_SAMPLER_ARG: ratio,
    });
    const quiet = createLogger({ service: 'bench', level: 'warn' });
    const modes: Mode[] = ['baseline', 'metrics', 'tracing-all', 'tracing-ratio'];
    const results = Object.fromEntries(
      modes.map((mode) => [mode, { rps: [] as number[], p95: [] as number[], p50: [] as number[], errors: 0, spans: 0 }]),
    ) as Record<Mode, { rps: number[]; p95: number[]; p50: number[]; errors: number; spans: number }>;
    let fixedRps = config.BENCH_OBS_RPS;
    for (const order of [modes, [...modes].reverse()]) {
      for (const mode of order) {
        scraping(mode !== 'baseline');
        const ratio = mode === 'tracing-all' ? 1 : config.BENCH_OBS_SAMPLE_RATIO;
        const stopTracing = mode.startsWith('tracing') ? startTracing(tracingConfig(ratio), 'saldo-bench', quiet) : async () => {};
        const spansBefore = await sink.spans();
        try {
          const throughput = await closedLoop(stack.graphqlUrl, 16, warmupMs, durationMs, requests);
          const rps = throughput.ok / (throughput.measuredMs / 1000);
          if (fixedRps === 0) fixedRps = Math.max(1, Math.round(rps * 0.6));
          const fixed = await runLoad(stack.graphqlUrl, fixedRps, durationMs, warmupMs, bodies, headers);
          const summary = summarize(fixed.latencies, fixed.errors, durationMs);
          results[mode].rps.push(rps);
          results[mode].p95.push(summary.p95);
          results[mode].p50.push(summary.p50);
          results[mode].errors += throughput.errors + fixed.errors;
          if (mode.startsWith('tracing')) await flushTraces();
        } finally {
          await stopTracing();
        }
        results[mode].spans += (await sink.spans()) - spansBefore;
      }
    }
    scraping(false);
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const round2 = (value: number) => Math.round(value * 100) / 100;
    const summary = Object.fromEntries(
      modes.map((mode) => [mode, { rps: mean(results[mode].rps), p95: mean(results[mode].p95), p50: mean(results[mode].p50) }]),
    ) as Record<Mode, { rps: number; p95: number; p50: number }>;
    const label: Record<Mode, string> = {
      baseline: 'baseline (tracing off, no scrape)',
      metrics: 'metrics (scraped every 1 s)',
      'tracing-all': 'metrics + tracing, every trace sampled',
      'tracing-ratio': `metrics + tracing, parentbased_traceidratio ${config.BENCH_OBS_SAMPLE_RATIO}`,
    };
    const rows: ResultRow[] = [];
    for (const mode of modes) {
      rows.push({
        scenario: `${label[mode]}: closed loop, 16 connections`,
        rps: round2(summary[mode].rps),
        runs: results[mode].rps.map(round2).join(' / '),
        target: 'informational',
        met: results[mode].errors === 0,
      });
    }
    for (const mode of modes) {
      rows.push({
        scenario: `${label[mode]}: p50 / p95 @ ${fixedRps} req/s`,
        p50: round2(summary[mode].p50),
        p95: round2(summary[mode].p95),
        runs: results[mode].p95.map(round2).join(' / '),
        target: 'informational',
        met: results[mode].errors === 0,
      });
    }
    for (const mode of ['metrics', 'tracing-all', 'tracing-ratio'] as const) {
      const lost = ((summary.baseline.rps - summary[mode].rps) / summary.baseline.rps) * 100;
      const added = summary[mode].p95 - summary.baseline.p95;
      rows.push({ scenario: `${label[mode]}: throughput lost vs baseline`, value: `${round2(lost)} %`, target: '< 5 %', met: lost < 5 });
      rows.push({ scenario: `${label[mode]}: p95 added vs baseline`, value: `${round2(added)} ms`, target: '< 1 ms', met: added < 1 });
    }
    await report('observability', rows, {
      durationS: config.BENCH_DURATION_S,
      warmupS: config.BENCH_WARMUP_S,
      fixedRps,
      fixedRpsFrom: config.BENCH_OBS_RPS === 0 ? '60 % of the first baseline closed-loop throughput' : 'BENCH_OBS_RPS',
      tenants: ids.length,
      sampleRatio: config.BENCH_OBS_SAMPLE_RATIO,
      spansExported: { 'tracing-all': results['tracing-all'].spans, 'tracing-ratio': results['tracing-ratio'].spans },
      order: `${modes.join(',')},${[...modes].reverse().join(',')}`,
    });
  } finally {
    scraping(false);
    await bench.destroy();
    await sink.close();
  }
}
