export { BoundedLabel, HistogramChildren, LATENCY_BUCKETS, ServiceMetrics } from './metrics.js';
export { observabilityConfigFields, observabilityConfigSchema, type ObservabilityConfig } from './config.js';
export { flushTraces, samplerOf, startTracing, tracesEndpoint } from './tracing.js';
