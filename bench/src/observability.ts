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

/**
 * What tracing and metrics cost the gateway-latency benchmark's query (tenant(id) across four subgraphs, embedded stack):
 * the same load with OpenTelemetry off and on (every span exported over OTLP/HTTP to a receiver on its own thread; all
 * traces sampled), alternated twice so drift on a shared machine falls on both. Metrics are always recorded and
 * scraped every second in both modes, as Prometheus would. Targets: < 5 % throughput (closed loop) and < 1 ms p95 (fixed
 * rate, BENCH_RPS).
 */
export async function observability(config: BenchConfig): Promise<void> {
  const bench = await startBenchStack(config, 'obs');
  const { stack, logger } = bench;
  const sink = await startSink();
  const scraper = setInterval(() => {
    for (const url of [stack.gateway.url, stack.tenants.url, stack.billing.url, stack.usageForecast.url, stack.whiteLabel.url])
      void fetch(`${url}/metrics`).then((response) => response.text());
  }, 1000);
  try {
    const ids = await seedLatencyTenants(stack, logger);
    const bodies = ids.map((id) => JSON.stringify({ query: TENANT_QUERY, variables: { id } }));
    const headers = { authorization: `Bearer ${await stack.issueToken({ role: 'platform-admin', subject: 'bench' })}` };
    const requests = bodies.map((body) => ({ body, headers }));
    const durationMs = config.BENCH_DURATION_S * 1000;
    const warmupMs = config.BENCH_WARMUP_S * 1000;
    const tracingConfig = {
      OTEL_SDK_DISABLED: false,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_EXPORTER_OTLP_HEADERS: {},
      OTEL_TRACES_EXPORTER: 'otlp' as const,
      OTEL_TRACES_SAMPLER_ARG: 1,
    };
    const quiet = createLogger({ service: 'bench', level: 'warn' });
    const results: Record<'off' | 'on', { rps: number[]; p95: number[]; p50: number[]; errors: number }> = {
      off: { rps: [], p95: [], p50: [], errors: 0 },
      on: { rps: [], p95: [], p50: [], errors: 0 },
    };
    for (const round of [1, 2]) {
      for (const mode of round === 1 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const stopTracing = mode === 'on' ? startTracing(tracingConfig, 'saldo-bench', quiet) : async () => {};
        try {
          const throughput = await closedLoop(stack.graphqlUrl, 16, warmupMs, durationMs, requests);
          const fixed = await runLoad(stack.graphqlUrl, config.BENCH_RPS, durationMs, warmupMs, bodies, headers);
          const summary = summarize(fixed.latencies, fixed.errors, durationMs);
          results[mode].rps.push(throughput.ok / (throughput.measuredMs / 1000));
          results[mode].p95.push(summary.p95);
          results[mode].p50.push(summary.p50);
          results[mode].errors += throughput.errors + fixed.errors;
          if (mode === 'on') await flushTraces();
        } finally {
          await stopTracing();
        }
      }
    }
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const round2 = (value: number) => Math.round(value * 100) / 100;
    const off = { rps: mean(results.off.rps), p95: mean(results.off.p95), p50: mean(results.off.p50) };
    const on = { rps: mean(results.on.rps), p95: mean(results.on.p95), p50: mean(results.on.p50) };
    const throughputLossPercent = ((off.rps - on.rps) / off.rps) * 100;
    const p95DeltaMs = on.p95 - off.p95;
    const rows: ResultRow[] = [
      {
        scenario: 'tracing off (metrics on): closed loop, 16 connections',
        rps: round2(off.rps),
        runs: results.off.rps.map(round2).join(' / '),
        target: 'baseline',
        met: results.off.errors === 0,
      },
      {
        scenario: 'tracing on (OTLP export): closed loop, 16 connections',
        rps: round2(on.rps),
        runs: results.on.rps.map(round2).join(' / '),
        target: 'baseline',
        met: results.on.errors === 0,
      },
      {
        scenario: `tracing off: p50 / p95 @ ${config.BENCH_RPS} req/s`,
        p50: round2(off.p50),
        p95: round2(off.p95),
        target: 'baseline',
        met: results.off.errors === 0,
      },
      {
        scenario: `tracing on: p50 / p95 @ ${config.BENCH_RPS} req/s`,
        p50: round2(on.p50),
        p95: round2(on.p95),
        target: 'baseline',
        met: results.on.errors === 0,
      },
      { scenario: 'throughput lost to tracing', value: `${round2(throughputLossPercent)} %`, target: '< 5 %', met: throughputLossPercent < 5 },
      { scenario: 'p95 added by tracing', value: `${round2(p95DeltaMs)} ms`, target: '< 1 ms', met: p95DeltaMs < 1 },
    ];
    await report('observability', rows, {
      durationS: config.BENCH_DURATION_S,
      warmupS: config.BENCH_WARMUP_S,
      rps: config.BENCH_RPS,
      tenants: ids.length,
      spansExported: await sink.spans(),
      sampled: 1,
      alternated: 'off,on,on,off',
    });
  } finally {
    clearInterval(scraper);
    await bench.destroy();
    await sink.close();
  }
}
