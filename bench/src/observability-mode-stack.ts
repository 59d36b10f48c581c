import { flushTraces, startTracing } from '@saldo/observability';
import { createLogger } from '@saldo/service';
import { startBenchStack } from './bench-stack.js';
import type { BenchConfig } from './config.js';
import { TENANT_QUERY, seedLatencyTenants } from './gateway-latency.js';

/**
 * One mode of the observability benchmark in a process of its own (forked by observability.ts): the embedded stack over
 * its own databases, with tracing configured once at start and never switched, as a deployment runs it. The benchmark
 * drives its load from outside and pauses the process (SIGSTOP) while another mode is measured.
 */
export interface ModeStackStart {
  type: 'start';
  label: string;
  /** The benchmark's configuration, as the parent process read it. */
  config: BenchConfig;
  /** Tracing with parentbased_traceidratio at `ratio`, exported over OTLP/HTTP to `otlpUrl`; null: tracing off. */
  tracing: { otlpUrl: string; ratio: number } | null;
}
export type ModeStackCommand = ModeStackStart | { type: 'flush' } | { type: 'stop' };
export type ModeStackReport =
  | { type: 'ready'; graphqlUrl: string; metricsUrls: string[]; requests: Array<{ body: string; headers: Record<string, string> }> }
  | { type: 'flushed' }
  | { type: 'stopped' };

const send = (message: ModeStackReport) => process.send!(message);

async function run(start: ModeStackStart): Promise<void> {
  const { config } = start;
  const quiet = createLogger({ service: 'bench', level: 'warn' });
  // Before the stack: the services find the SDK registered and share it, as the services of one process do.
  const stopTracing = start.tracing
    ? startTracing(
        {
          OTEL_SDK_DISABLED: false,
          OTEL_EXPORTER_OTLP_ENDPOINT: start.tracing.otlpUrl,
          OTEL_EXPORTER_OTLP_HEADERS: {},
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: start.tracing.ratio,
        },
        'saldo-bench',
        quiet,
      )
    : async () => {};
  // Four of these stacks run at once (one per mode): the development stack's pool size (5 per database) keeps their
  // connections within PostgreSQL's max_connections; the measured one alone serves load.
  const bench = await startBenchStack(config, `obs_${start.label}`, 2, { poolMax: 5 });
  const { stack, logger } = bench;
  const ids = await seedLatencyTenants(stack, logger);
  const headers = { authorization: `Bearer ${await stack.issueToken({ role: 'platform-admin', subject: 'bench' })}` };
  send({
    type: 'ready',
    graphqlUrl: stack.graphqlUrl,
    metricsUrls: [stack.gateway.url, stack.tenants.url, stack.billing.url, stack.usageForecast.url, stack.whiteLabel.url].map((url) => `${url}/metrics`),
    requests: ids.map((id) => ({ body: JSON.stringify({ query: TENANT_QUERY, variables: { id } }), headers })),
  });
  process.on('message', (command: ModeStackCommand) => {
    if (command.type === 'flush') void flushTraces().then(() => send({ type: 'flushed' }));
    else if (command.type === 'stop')
      void (async () => {
        await stopTracing();
        await bench.destroy();
        send({ type: 'stopped' });
        process.disconnect();
      })();
  });
}

process.once('message', (command: ModeStackCommand) => {
  if (command.type !== 'start') throw new Error(`expected a start command, got ${command.type}`);
  run(command).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
