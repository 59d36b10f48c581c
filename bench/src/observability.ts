import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { flushTraces, startTracing } from '@saldo/observability';
import { createLogger } from '@saldo/service';
import { startBenchStack } from './bench-stack.js';
import type { BenchConfig } from './config.js';
import { TENANT_QUERY, runLoad, seedLatencyTenants } from './gateway-latency.js';
import { mainThreadSchedMs } from './proc-cpu.js';
import { report, type ResultRow } from './report.js';
import { percentile, summarize } from './stats.js';

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
  type Result = { ok: number; errors: number; sample: string; measuredMs: number; latencies: number[] };
  return new Promise<Result & { mainThreadCpuMs: number }>((resolve, reject) => {
    const worker = new Worker(new URL('./closed-loop-worker.js', import.meta.url), { workerData: { url, connections, warmupMs, durationMs, requests } });
    // CPU of this (the stack's) main thread while the loops measure: the load runs on the worker's thread, the OTLP
    // receiver on its own, so this is what serving the requests costs the service's event loop, whatever other
    // processes take of the shared cores meanwhile.
    let cpuAtStart: NodeJS.CpuUsage | undefined;
    worker.on('message', (message: { type: string }) => {
      if (message.type === 'measuring') cpuAtStart = process.threadCpuUsage();
      else {
        const cpu = process.threadCpuUsage(cpuAtStart);
        resolve({ ...(message as unknown as Result), mainThreadCpuMs: cpuAtStart ? (cpu.user + cpu.system) / 1000 : Number.NaN });
      }
    });
    worker.once('error', reject);
  });
}

type Mode = 'baseline' | 'metrics' | 'tracing-all' | 'tracing-ratio';
const MODES: readonly Mode[] = ['baseline', 'metrics', 'tracing-all', 'tracing-ratio'];

const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
const round2 = (value: number) => Math.round(value * 100) / 100;
const loadAverage = () => round2(loadavg()[0]!);

/**
 * What tracing and metrics cost the gateway-latency benchmark's query (tenant(id) across four subgraphs, embedded stack).
 * Four modes:
 * - `baseline`: tracing off, nothing scrapes /metrics (the request path's counters and histograms cannot be switched
 *   off; they cost a few label lookups per request);
 * - `metrics`: the five services' /metrics scraped every second, as Prometheus would;
 * - `tracing-all`: metrics + tracing with every trace sampled, exported over OTLP/HTTP to a receiver on its own thread;
 * - `tracing-ratio`: the same with the production setting, parentbased_traceidratio at BENCH_OBS_SAMPLE_RATIO (0.1).
 *
 * Why rounds: two long runs per mode differed by up to ±15 % on the 2-core machine (other processes, GC, background work
 * drifting over minutes), so a 5 % difference could not be resolved. The modes now alternate in BENCH_OBS_ROUNDS short
 * rounds (each round starts one mode later: A B C D, B C D A, ...), and each mode's throughput is compared with the
 * baseline OF THE SAME ROUND: drift slower than a round cancels out, and the median over rounds with its range says how
 * sure the figure is. Each slot: closed loop (16 connections) for BENCH_OBS_SLOT_S, then the fixed arrival rate (well below
 * capacity, which other processes on the shared cores can halve: BENCH_OBS_RPS, else a third of the warm-up's baseline
 * throughput) for BENCH_OBS_SLOT_S, its latencies pooled over
 * the rounds. The event loop's delay is sampled during every fixed-rate slot, so a stall in the one-process stack shows
 * as such and is not mistaken for an overhead.
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
    const slotMs = config.BENCH_OBS_SLOT_S * 1000;
    // Each slot's own warm-up: connections open and the mode's first requests (tracer start) stay out of the figures.
    const slotWarmupMs = 1000;
    const tracingConfig = (ratio: number) => ({
      OTEL_SDK_DISABLED: false,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_EXPORTER_OTLP_HEADERS: {},
      OTEL_TRACES_EXPORTER: 'otlp' as const,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' as const,
      OTEL_TRACES_SAMPLER_ARG: ratio,
    });
    const quiet = createLogger({ service: 'bench', level: 'warn' });
    const loadAtStart = loadAverage();

    // JIT warm-up and the seed's background work settle under the baseline; its throughput sets the fixed rate.
    const warmup = await closedLoop(stack.graphqlUrl, 16, config.BENCH_WARMUP_S * 1000, slotMs, requests);
    const capacity = warmup.ok / (warmup.measuredMs / 1000);
    const fixedRps = config.BENCH_OBS_RPS || Math.max(1, Math.round(capacity / 3));

    const results = Object.fromEntries(
      MODES.map((mode) => [
        mode,
        {
          rps: [] as number[],
          cpuMsPerRequest: [] as number[],
          p95: [] as number[],
          latencies: [] as number[],
          errors: 0,
          errorSample: '',
          spans: 0,
          loopP99Ms: [] as number[],
          loopMaxMs: [] as number[],
          runQueueWaitMs: 0,
        },
      ]),
    ) as Record<
      Mode,
      {
        rps: number[];
        cpuMsPerRequest: number[];
        p95: number[];
        latencies: number[];
        errors: number;
        errorSample: string;
        spans: number;
        loopP99Ms: number[];
        loopMaxMs: number[];
        runQueueWaitMs: number;
      }
    >;
    const loadPerRound: number[] = [];
    // Every fixed-rate slot on its own, to correlate a slow slot with the event loop and the run queue.
    const slots: Array<{
      round: number;
      mode: Mode;
      rps: number;
      closedRunQueueWaitMsPerS: number;
      p95: number;
      max: number;
      loopMaxMs: number;
      runQueueWaitMsPerS: number;
    }> = [];
    for (let round = 0; round < config.BENCH_OBS_ROUNDS; round += 1) {
      loadPerRound.push(loadAverage());
      const order = MODES.map((_, index) => MODES[(index + round) % MODES.length]!);
      for (const mode of order) {
        const result = results[mode];
        scraping(mode !== 'baseline');
        const ratio = mode === 'tracing-all' ? 1 : config.BENCH_OBS_SAMPLE_RATIO;
        const stopTracing = mode.startsWith('tracing') ? startTracing(tracingConfig(ratio), 'saldo-bench', quiet) : async () => {};
        const spansBefore = await sink.spans();
        try {
          const closedSchedBefore = mainThreadSchedMs();
          const throughput = await closedLoop(stack.graphqlUrl, 16, slotWarmupMs, slotMs, requests);
          const closedWaitMs = mainThreadSchedMs().waitMs - closedSchedBefore.waitMs;
          result.rps.push(throughput.ok / (throughput.measuredMs / 1000));
          result.cpuMsPerRequest.push(throughput.mainThreadCpuMs / Math.max(1, throughput.ok));
          // A fresh histogram per slot: one re-enabled after a pause counts the pause as a delay.
          const slotLoop = monitorEventLoopDelay({ resolution: 10 });
          slotLoop.enable();
          const schedBefore = mainThreadSchedMs();
          const fixed = await runLoad(stack.graphqlUrl, fixedRps, slotMs, slotWarmupMs, bodies, headers);
          const waitMs = mainThreadSchedMs().waitMs - schedBefore.waitMs;
          result.runQueueWaitMs += waitMs;
          slotLoop.disable();
          result.loopP99Ms.push(slotLoop.percentile(99) / 1e6);
          result.loopMaxMs.push(slotLoop.max / 1e6);
          const slot = summarize(fixed.latencies, fixed.errors, slotMs);
          result.p95.push(slot.p95);
          slots.push({
            round,
            mode,
            rps: round2(result.rps.at(-1)!),
            closedRunQueueWaitMsPerS: round2(closedWaitMs / ((slotMs + slotWarmupMs) / 1000)),
            p95: slot.p95,
            max: slot.max,
            loopMaxMs: round2(slotLoop.max / 1e6),
            runQueueWaitMsPerS: round2(waitMs / ((slotMs + slotWarmupMs) / 1000)),
          });
          result.latencies.push(...fixed.latencies);
          result.errors += throughput.errors + fixed.errors;
          if (throughput.errors > 0 && !result.errorSample) result.errorSample = throughput.sample;
          if (mode.startsWith('tracing')) await flushTraces();
        } finally {
          scraping(false);
          await stopTracing();
        }
        result.spans += (await sink.spans()) - spansBefore;
      }
    }
    const loadAtEnd = loadAverage();

    const label: Record<Mode, string> = {
      baseline: 'baseline (tracing off, no scrape)',
      metrics: 'metrics (scraped every 1 s)',
      'tracing-all': 'metrics + tracing, every trace sampled',
      'tracing-ratio': `metrics + tracing, parentbased_traceidratio ${config.BENCH_OBS_SAMPLE_RATIO}`,
    };
    const range = (values: readonly number[], unit = '') => `${round2(Math.min(...values))}${unit} .. ${round2(Math.max(...values))}${unit}`;
    const pooled = Object.fromEntries(
      MODES.map((mode) => [mode, summarize(results[mode].latencies, results[mode].errors, slotMs * config.BENCH_OBS_ROUNDS)]),
    ) as Record<Mode, ReturnType<typeof summarize>>;
    const rows: ResultRow[] = [];
    for (const mode of MODES) {
      rows.push({
        scenario: `${label[mode]}: closed loop, 16 connections (median of ${config.BENCH_OBS_ROUNDS} rounds)`,
        rps: round2(median(results[mode].rps)),
        spread: range(results[mode].rps),
        cpuMsPerRequest: Math.round(median(results[mode].cpuMsPerRequest) * 1000) / 1000,
        errors: results[mode].errors,
        ...(results[mode].errorSample ? { errorSample: results[mode].errorSample } : {}),
        target: 'informational',
        met: results[mode].errors === 0,
      });
    }
    for (const mode of MODES) {
      rows.push({
        scenario: `${label[mode]}: latency @ ${fixedRps} req/s (all rounds pooled)`,
        p50: pooled[mode].p50,
        p95: pooled[mode].p95,
        p99: pooled[mode].p99,
        max: pooled[mode].max,
        p95PerRound: results[mode].p95.map(round2).join(' / '),
        // Event-loop delay of the stack's process during these slots: a stall shows here, not as an overhead.
        loopDelayP99Ms: round2(median(results[mode].loopP99Ms)),
        loopDelayMaxMs: round2(Math.max(...results[mode].loopMaxMs)),
        // Time the stack's main thread was ready to run but had no core (other processes on the shared machine), per
        // second of these slots (warm-up included).
        runQueueWaitMsPerS: round2(results[mode].runQueueWaitMs / ((config.BENCH_OBS_ROUNDS * (slotMs + slotWarmupMs)) / 1000)),
        target: 'informational',
        met: results[mode].errors === 0,
      });
    }
    for (const mode of ['metrics', 'tracing-all', 'tracing-ratio'] as const) {
      // Paired with the baseline of the same round, so drift between rounds cancels out.
      const lost = results[mode].rps.map((rps, round) => ((results.baseline.rps[round]! - rps) / results.baseline.rps[round]!) * 100);
      const lostMedian = median(lost);
      rows.push({
        scenario: `${label[mode]}: throughput lost vs baseline (median of per-round pairs)`,
        value: `${round2(lostMedian)} %`,
        spread: range(lost, ' %'),
        target: '< 5 %',
        met: lostMedian < 5,
      });
      // The same cost as CPU of the stack's main thread per request, paired per round: the closed loop is bound by that
      // one thread, so its CPU per request is what limits throughput; it is not lowered by the time other processes take
      // a core from it (what spreads the throughput pairs), though GC and cache effects still spread it by ±15 %.
      const cpuAdded = results[mode].cpuMsPerRequest.map(
        (cpu, round) => ((cpu - results.baseline.cpuMsPerRequest[round]!) / results.baseline.cpuMsPerRequest[round]!) * 100,
      );
      const cpuAddedMedian = median(cpuAdded);
      rows.push({
        scenario: `${label[mode]}: main-thread CPU per request added vs baseline (median of per-round pairs)`,
        value: `${round2(cpuAddedMedian)} %`,
        spread: range(cpuAdded, ' %'),
        target: '< 5 % (the capacity lost)',
        met: cpuAddedMedian < 5,
      });
      // Paired per round too: a slot that met a stall of the shared machine spoils one pair, not the figure.
      const addedPerRound = results[mode].p95.map((p95, round) => p95 - results.baseline.p95[round]!);
      const added = median(addedPerRound);
      rows.push({
        scenario: `${label[mode]}: p95 added vs baseline @ ${fixedRps} req/s (median of per-round pairs)`,
        value: `${round2(added)} ms`,
        spread: range(addedPerRound, ' ms'),
        pooledP95Added: `${round2(pooled[mode].p95 - pooled.baseline.p95)} ms`,
        target: '< 1 ms',
        met: added < 1,
      });
    }
    await report('observability', rows, {
      rounds: config.BENCH_OBS_ROUNDS,
      slotS: config.BENCH_OBS_SLOT_S,
      slotWarmupS: slotWarmupMs / 1000,
      warmupS: config.BENCH_WARMUP_S,
      warmupBaselineRps: round2(capacity),
      fixedRps,
      fixedRpsFrom: config.BENCH_OBS_RPS === 0 ? 'a third of the warm-up baseline closed-loop throughput' : 'BENCH_OBS_RPS',
      tenants: ids.length,
      sampleRatio: config.BENCH_OBS_SAMPLE_RATIO,
      spansExported: { 'tracing-all': results['tracing-all'].spans, 'tracing-ratio': results['tracing-ratio'].spans },
      order: 'rotating: round r starts with mode r mod 4 of baseline,metrics,tracing-all,tracing-ratio',
      // The machine is shared: figures under load are indicative only.
      loadAverage1m: { start: loadAtStart, perRound: loadPerRound, end: loadAtEnd },
      slots,
    });
  } finally {
    scraping(false);
    await bench.destroy();
    await sink.close();
  }
}
