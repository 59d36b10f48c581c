import { Worker } from 'node:worker_threads';
import { seedDemoData } from '@saldo/dev-stack';
import { backtest, runFraudBenchmark, syntheticUsage, trainForecaster, type AccuracyReport } from '@saldo/subgraph-usage-forecast';
import { startBenchStack } from './bench-stack.js';
import type { BenchConfig } from './config.js';
import { runLoad } from './gateway-latency.js';
import { report, type ResultRow } from './report.js';
import { percentile, summarize } from './stats.js';

const DAY_MS = 86_400_000;
const FORECAST_QUERY = `query Forecast($id: ID!) {
  tenant(id: $id) { forecast(days: 7) { days { date quantity lower upper } depletion { date earliest latest confidence } model { version backtestWape } } }
}`;

const NAME_QUERY = `query Name($id: ID!) { tenant(id: $id) { name } }`;
const BALANCE_QUERY = `query Balance($id: ID!) { tenant(id: $id) { balance { available { amountMinor } version } } }`;

const pct = (value: number) => Math.round(value * 1000) / 10;

function percentileOf(values: readonly number[], fraction: number): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    fraction,
  );
}

/**
 * `requests` one after the other for `durationMs` (after 3 s not counted) from a worker thread (closed loop, one
 * connection), and the CPU this thread spent meanwhile per request: the servers' CPU when the stack runs here.
 */
function sequentialRequests(url: string, requests: Array<{ body: string; headers: Record<string, string> }>, durationMs: number) {
  return new Promise<{ latencies: number[]; errors: number; measuredMs: number; cpuMsPerRequest: number }>((resolve, reject) => {
    const worker = new Worker(new URL('./closed-loop-worker.js', import.meta.url), {
      workerData: { url, connections: 1, warmupMs: 3_000, durationMs, requests },
    });
    let cpu = process.threadCpuUsage();
    worker.on('message', (message: { type: string; ok: number; errors: number; latencies: number[]; measuredMs: number; sample: string }) => {
      if (message.type === 'measuring') {
        cpu = process.threadCpuUsage();
        return;
      }
      const used = process.threadCpuUsage(cpu);
      if (message.errors > 0) console.warn(`sequential requests: ${message.errors} failed, e.g. ${message.sample}`);
      resolve({
        latencies: message.latencies,
        errors: message.errors,
        measuredMs: message.measuredMs,
        cpuMsPerRequest: (used.user + used.system) / 1000 / Math.max(1, message.ok + message.errors),
      });
    });
    worker.once('error', reject);
  });
}

/**
 * The forecasting benchmark: (1) training the production forecaster on BENCH_FORECAST_SERIES synthetic tenants x
 * BENCH_FORECAST_DAYS days (target < 60 s); (2) the rolling-origin backtest of the forecaster against the baselines;
 * (3) the labelled fraud benchmark; (4) Tenant.forecast p95 through the gateway on the demo stack (target < 20 ms).
 */
export async function forecast(config: BenchConfig): Promise<void> {
  const rows: ResultRow[] = [];
  const lastDay = Math.floor(Date.now() / DAY_MS) - 1;
  const parts = new Set(config.BENCH_FORECAST_PARTS.split(','));
  let result: Awaited<ReturnType<typeof backtest>> | undefined;

  if (parts.has('training')) {
    const big = syntheticUsage({ series: config.BENCH_FORECAST_SERIES, days: config.BENCH_FORECAST_DAYS, lastDay, seed: 1 });
    const started = performance.now();
    const trained = await trainForecaster(big.series, { holidays: big.holidays });
    const trainingMs = performance.now() - started;
    trained.forecaster.dispose();
    rows.push({
      scenario: `training ${config.BENCH_FORECAST_SERIES} tenants x ${config.BENCH_FORECAST_DAYS} days (${trained.report.backend}, ${trained.report.trainingRows}+${trained.report.fineTuneRows} windows)`,
      seconds: Math.round(trainingMs / 100) / 10,
      target: '< 60 s',
      met: trainingMs < 60_000,
    });
  }

  if (parts.has('backtest')) {
    const data = syntheticUsage({ series: config.BENCH_FORECAST_BACKTEST_SERIES, days: config.BENCH_FORECAST_DAYS, lastDay, seed: 7 });
    result = await backtest(data.series, { holdoutDays: 28, training: { holidays: data.holidays } });
    const accuracy = (name: string, accuracyReport: AccuracyReport, target: string, met: boolean): ResultRow => ({
      scenario: `backtest ${config.BENCH_FORECAST_BACKTEST_SERIES} tenants, 4 weekly origins, 1-7 days: ${name}`,
      accuracy: pct(accuracyReport.accuracy),
      wape: pct(accuracyReport.wape),
      mase: Math.round(accuracyReport.mase * 1000) / 1000,
      coverage80: pct(accuracyReport.coverage),
      target,
      met,
    });
    rows.push(
      accuracy(
        'forecaster',
        result.forecaster,
        '1-WAPE >= 85 %, clearly better than seasonal naive',
        result.forecaster.accuracy >= 0.85 && result.forecaster.wape < 0.9 * result.seasonalNaive.wape,
      ),
    );
    rows.push(accuracy('network alone', result.model, 'informational', true));
    rows.push(accuracy('weekday profile x level', result.profile, "baseline (and the network's anchor)", true));
    rows.push(accuracy('median of 4 same weekdays', result.median4, 'baseline', true));
    rows.push(accuracy('seasonal naive', result.seasonalNaive, 'baseline', true));
  }

  if (parts.has('fraud')) {
    const fraud = runFraudBenchmark({ tenants: config.BENCH_FRAUD_TENANTS, seed: 11 });
    rows.push({
      scenario: `fraud benchmark, ${fraud.tenants} labelled tenants (${fraud.frauds} frauds)`,
      recall: pct(fraud.recall),
      precision: pct(fraud.precision),
      target: 'recall >= 90 % at precision >= 80 %',
      met: fraud.recall >= 0.9 && fraud.precision >= 0.8,
    });
  }

  if (parts.has('gateway')) {
    const bench = await startBenchStack(config, 'bench');
    const { stack, logger } = bench;
    try {
      await seedDemoData(stack, logger);
      const outcome = await stack.usageForecast.services.trainer.train('manual');
      if (!outcome.trained) throw new Error(`demo training failed: ${outcome.reason}`);
      await stack.usageForecast.services.serving.refresh();
      await stack.flushEvents();
      const ids = (await stack.tenants.services.tenants.list({ first: 100 })).tenants.map((tenant) => tenant.id);
      const headers = { authorization: `Bearer ${await stack.issueToken({ role: 'platform-admin', subject: 'bench' })}` };
      // One request after the other (latency without queueing: what a portal user waits for), from a worker thread so
      // the client's own work does not share the servers' event loop, with the servers' CPU per request (this thread's
      // CPU: gateway and all four subgraphs). Then the same for the query's first one and two fetches, to show each
      // hop's share: `tenant { name }` (tenants), `tenant { balance }` (tenants -> billing), and Tenant.forecast
      // (tenants -> billing for the @requires balance -> usage-forecast).
      for (const [label, query] of [
        ['Tenant.forecast (tenants -> billing -> usage-forecast)', FORECAST_QUERY],
        ['tenant { balance } alone (tenants -> billing)', BALANCE_QUERY],
        ['tenant { name } alone (tenants)', NAME_QUERY],
      ] as const) {
        const run = await sequentialRequests(
          stack.graphqlUrl,
          ids.map((id) => ({ body: JSON.stringify({ query, variables: { id } }), headers })),
          config.BENCH_FORECAST_SEQUENTIAL_S * 1000,
        );
        rows.push({
          scenario: `${label}, one request after the other (servers' CPU ${run.cpuMsPerRequest.toFixed(1)} ms per request)`,
          ...summarize(run.latencies, run.errors, run.measuredMs),
          cpuMsPerRequest: Math.round(run.cpuMsPerRequest * 100) / 100,
          target: query === FORECAST_QUERY ? 'p95 < 20 ms' : 'informational',
          met: query === FORECAST_QUERY ? percentileOf(run.latencies, 0.95) < 20 && run.errors === 0 : true,
        });
      }
      // At a fixed arrival rate (open loop), after the quiet runs: a saturated stack queues without bound.
      const bodies = ids.map((id) => JSON.stringify({ query: FORECAST_QUERY, variables: { id } }));
      const durationMs = config.BENCH_DURATION_S * 1000;
      const load = await runLoad(stack.graphqlUrl, config.BENCH_FORECAST_RPS, durationMs, config.BENCH_WARMUP_S * 1000, bodies, headers);
      const summary = summarize(load.latencies, load.errors, durationMs);
      rows.push({
        scenario: `Tenant.forecast through the gateway @ ${config.BENCH_FORECAST_RPS} req/s (${ids.length} demo tenants)`,
        ...summary,
        target: 'p95 < 20 ms',
        met: summary.p95 < 20 && summary.errors === 0,
      });

      const inProcess: number[] = [];
      for (let index = 0; index < 2_000; index += 1) {
        const started = performance.now();
        await stack.usageForecast.services.forecasts.forecast([{ tenantId: ids[index % ids.length]!, days: 7 }]);
        inProcess.push(performance.now() - started);
      }
      rows.push({
        scenario: "ForecastService.forecast in process (the subgraph's own work, cached forecast)",
        ...summarize(
          inProcess,
          0,
          inProcess.reduce((a, b) => a + b, 0),
        ),
        target: 'informational',
        met: true,
      });
    } finally {
      await bench.destroy();
    }
  }

  await report('forecast', rows, {
    trainingSeries: config.BENCH_FORECAST_SERIES,
    days: config.BENCH_FORECAST_DAYS,
    backtestSeries: config.BENCH_FORECAST_BACKTEST_SERIES,
    forecastRps: config.BENCH_FORECAST_RPS,
    fraudTenants: config.BENCH_FRAUD_TENANTS,
    backtest: result && {
      origins: result.origins,
      points: result.forecaster.points,
      blendWeights: { network: result.training.calibration.modelWeight.slice(0, 7), profile: result.training.calibration.profileWeight.slice(0, 7) },
    },
  });
}
