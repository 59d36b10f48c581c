import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { setTracingEnabled, type Logger } from '@saldo/service';
import type { ObservabilityConfig } from './config.js';

let running: { provider: TracerProvider; users: number } | undefined;

/**
 * Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces` (the
 * OTLP/HTTP convention); undefined when neither is set or OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none says so.
 */
export function tracesEndpoint(config: ObservabilityConfig): string | undefined {
  if (config.OTEL_SDK_DISABLED || config.OTEL_TRACES_EXPORTER === 'none') return undefined;
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/**
 * Starts OpenTelemetry tracing for this process when OTLP export is configured (standard OTEL_* variables), and returns
 * the function that flushes and stops it; returns a no-op otherwise, and the span seams in @saldo/service stay off.
 * One SDK per process: services sharing a process (the embedded default, tests) share it; the last to stop ends it.
 * `exporter` is a test seam.
 */
export function startTracing(config: ObservabilityConfig, serviceName: string, logger: Logger, exporter?: SpanExporter): () => Promise<void> {
  const url = tracesEndpoint(config);
  if (!url && !exporter) return async () => {};
  if (!running) {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.OTEL_SERVICE_NAME ?? serviceName, 'service.namespace': 'saldo' }),
      sampler: samplerOf(config),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: exporter ?? new OTLPTraceExporter({ url: url!, headers: config.OTEL_EXPORTER_OTLP_HEADERS }),
          // Fewer, larger exports: each export serializes its batch and makes one HTTP request on the service's own event
          // loop, so a batch of 2,048 spans (about 100 federated queries with every trace sampled) every 2 s at most costs
          // less per span than many small ones. The queue holds several batches; spans beyond it are dropped, never awaited.
          scheduledDelayMillis: 2000,
          maxExportBatchSize: 2048,
          maxQueueSize: 16384,
        }),
      ],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    running = { provider, users: 0 };
    setTracingEnabled(true, { unsampledParentIsFinal: unsampledParentIsFinal(config) });
    logger.info('tracing on', { exporter: exporter ? 'test' : url, sampler: config.OTEL_TRACES_SAMPLER, samplerArg: config.OTEL_TRACES_SAMPLER_ARG });
  }
  const current = running;
  current.users += 1;
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    current.users -= 1;
    if (current.users > 0) {
      await current.provider.forceFlush();
      return;
    }
    if (running === current) running = undefined;
    setTracingEnabled(false);
    await current.provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  };
}

/** The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name (the standard values). */
export function samplerOf(config: Pick<ObservabilityConfig, 'OTEL_TRACES_SAMPLER' | 'OTEL_TRACES_SAMPLER_ARG'>): Sampler {
  switch (config.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLER_ARG);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLER_ARG) });
  }
}

/**
 * Whether the sampler never samples below a parent that was not sampled: the parent-based ones (their default
 * `remoteParentNotSampled` / `localParentNotSampled` is always-off) and always_off. Not traceidratio or always_on alone,
 * which decide again for a caller's unsampled trace.
 */
function unsampledParentIsFinal(config: Pick<ObservabilityConfig, 'OTEL_TRACES_SAMPLER'>): boolean {
  return config.OTEL_TRACES_SAMPLER.startsWith('parentbased_') || config.OTEL_TRACES_SAMPLER === 'always_off';
}

/** Exports what finished spans are waiting (tests wait for the receiver after this). */
export async function flushTraces(): Promise<void> {
  await running?.provider.forceFlush();
}
