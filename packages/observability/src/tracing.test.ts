import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { connectRedis } from '@saldo/redis';
import {
  SpanKind,
  createLogger,
  currentTraceparent,
  injectTraceHeaders,
  passThroughTracer,
  startIncomingSpan,
  runInSpan,
  tracingEnabled,
  withLeafSpan,
  withSpan,
} from '@saldo/service';
import { observabilityConfigSchema } from './config.js';
import { flushTraces, samplerOf, startTracing, tracesEndpoint } from './tracing.js';

const quiet = createLogger({ service: 'test', level: 'error', write: () => undefined });

describe('tracing', () => {
  it('is off unless an OTLP endpoint is configured, and then costs no spans or headers', async () => {
    const config = observabilityConfigSchema.parse({});
    assert.equal(tracesEndpoint(config), undefined);
    const stop = startTracing(config, 'test', quiet);
    assert.equal(tracingEnabled(), false);
    const headers: Record<string, string> = {};
    await withSpan('nothing', SpanKind.CLIENT, undefined, async (span) => {
      assert.equal(span, undefined);
      injectTraceHeaders(headers);
    });
    assert.deepEqual(headers, {});
    assert.equal(currentTraceparent(), undefined);
    await stop();
    assert.equal(tracesEndpoint(observabilityConfigSchema.parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })), 'http://collector:4318/v1/traces');
    assert.equal(
      tracesEndpoint(observabilityConfigSchema.parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })),
      undefined,
    );
  });

  it('continues a caller’s trace and records Redis commands as child spans (names only)', async () => {
    const exporter = new InMemorySpanExporter();
    const stop = startTracing(observabilityConfigSchema.parse({}), 'test', quiet, exporter);
    const redis = connectRedis('redis://127.0.0.1:6379', { name: 'tracing-test', logger: quiet, commandTimeoutMs: 1000 });
    try {
      assert.ok(await redis.ready());
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const server = startIncomingSpan('POST /graphql', SpanKind.SERVER, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }, { 'url.path': '/graphql' });
      await runInSpan(server, async () => {
        await redis.redis.set('saldo:tracing-test', 'secret-value', 'EX', 5);
        const headers: Record<string, string> = {};
        injectTraceHeaders(headers);
        assert.match(headers['traceparent'] ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      });
      server?.end();
      await flushTraces();
      const spans = exporter.getFinishedSpans();
      const command = spans.find((span) => span.name === 'redis SET');
      assert.ok(command, spans.map((span) => span.name).join(', '));
      assert.equal(command.spanContext().traceId, traceId);
      assert.equal(command.parentSpanContext?.spanId, server?.spanContext().spanId);
      assert.ok(!JSON.stringify(command.attributes).includes('secret-value'));
      // The incoming span's attributes are set once it records (not given to the sampler).
      assert.equal(spans.find((span) => span.name === 'POST /graphql')?.attributes['url.path'], '/graphql');
    } finally {
      await redis.close();
      await stop();
    }
    assert.equal(tracingEnabled(), false);
  });

  it('samples as OTEL_TRACES_SAMPLER says: an unsampled operation records nothing below it, a sampled caller is followed', async () => {
    const exporter = new InMemorySpanExporter();
    const config = observabilityConfigSchema.parse({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    const stop = startTracing(config, 'test', quiet, exporter);
    try {
      let described = 0;
      const describe = () => {
        described += 1;
        return { name: 'SELECT test', attributes: { 'db.system.name': 'postgresql' } };
      };
      // A new trace at ratio 0: not sampled. Its children are neither recorded nor described, but the decision travels on.
      const unsampled = startIncomingSpan('POST /graphql', SpanKind.SERVER, undefined);
      await runInSpan(unsampled, async () => {
        await withSpan(
          'POST billing',
          SpanKind.CLIENT,
          () => ({ 'saldo.subgraph': 'billing' }),
          async (span) => {
            assert.equal(span, undefined);
            const headers: Record<string, string> = {};
            injectTraceHeaders(headers);
            assert.match(headers['traceparent'] ?? '', /-00$/, 'downstream services learn the trace is not sampled');
          },
        );
        await withLeafSpan(SpanKind.CLIENT, describe, async () => undefined);
      });
      unsampled?.end();
      // Work outside any operation (a relay pass, a job poll) opens no root spans of its own.
      await withLeafSpan(SpanKind.CLIENT, describe, async () => undefined);
      assert.equal(described, 0);
      // A caller that sampled its trace is followed (parent-based), children included.
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const sampled = startIncomingSpan('POST /graphql', SpanKind.SERVER, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
      await runInSpan(sampled, () => withLeafSpan(SpanKind.CLIENT, describe, async () => undefined));
      sampled?.end();
      await flushTraces();
      assert.deepEqual(
        exporter.getFinishedSpans().map((span) => [span.name, span.spanContext().traceId]),
        [
          ['SELECT test', traceId],
          ['POST /graphql', traceId],
        ],
      );
      assert.equal(described, 1);
    } finally {
      await stop();
    }
  });

  it('continues a caller’s unsampled trace as it came (same context, flag 00) and records nothing, with a parent-based sampler', async () => {
    const exporter = new InMemorySpanExporter();
    // Ratio 1: a new trace would be sampled, so only following the caller's decision keeps these requests unrecorded.
    const stop = startTracing(
      observabilityConfigSchema.parse({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' }),
      'test',
      quiet,
      exporter,
    );
    try {
      const caller = '00-5ba7a1b3e1c6d5e4f3a2b1c0d9e8f7a6-1a2b3c4d5e6f7a8b-00';
      let attributesAsked = 0;
      const server = startIncomingSpan('billing POST /graphql', SpanKind.SERVER, { traceparent: caller }, () => {
        attributesAsked += 1;
        return { 'url.path': '/graphql' };
      });
      assert.ok(server);
      assert.equal(server.isRecording(), false);
      await runInSpan(server, async () => {
        const headers: Record<string, string> = {};
        injectTraceHeaders(headers);
        assert.equal(headers['traceparent'], caller, 'what this request calls learns the same unsampled trace');
        assert.equal(currentTraceparent(), caller);
        await withSpan('POST usage-forecast', SpanKind.CLIENT, undefined, async (span) => assert.equal(span, undefined));
      });
      server.end();
      await flushTraces();
      assert.deepEqual(exporter.getFinishedSpans(), []);
      assert.equal(attributesAsked, 0, 'no attributes are built for an unrecorded request');
    } finally {
      await stop();
    }
  });

  it('decides again for a caller’s unsampled trace when the sampler is not parent-based', async () => {
    const exporter = new InMemorySpanExporter();
    const stop = startTracing(observabilityConfigSchema.parse({ OTEL_TRACES_SAMPLER: 'always_on' }), 'test', quiet, exporter);
    try {
      const server = startIncomingSpan('POST /graphql', SpanKind.SERVER, { traceparent: '00-5ba7a1b3e1c6d5e4f3a2b1c0d9e8f7a6-1a2b3c4d5e6f7a8b-00' }, () => ({
        'url.path': '/graphql',
      }));
      assert.equal(server?.isRecording(), true);
      server?.end();
      await flushTraces();
      assert.deepEqual(
        exporter.getFinishedSpans().map((span) => [span.name, span.attributes['url.path']]),
        [['POST /graphql', '/graphql']],
      );
    } finally {
      await stop();
    }
  });

  it('runs a library’s pass-through spans in the caller’s span, recording nothing and ending nothing of ours', async () => {
    const exporter = new InMemorySpanExporter();
    const stop = startTracing(observabilityConfigSchema.parse({}), 'test', quiet, exporter);
    try {
      const traceId = '6e0c63257de34c926f9efcd03899b3b8';
      const server = startIncomingSpan('POST /graphql', SpanKind.SERVER, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
      await runInSpan(server, () =>
        passThroughTracer.startActiveSpan('gateway.request', async (library) => {
          assert.equal(library.isRecording(), false);
          assert.equal(trace.getSpan(context.active()), server, 'the library works in the request’s own context');
          // What the library sends below carries the server span, so its children hang off it.
          await withSpan('POST tenants', SpanKind.CLIENT, undefined, async () => undefined);
          library.setAttribute('graphql.operation.type', 'query');
          library.end();
        }),
      );
      assert.equal(server?.isRecording(), true, 'the library ending its span does not end ours');
      server?.end();
      await flushTraces();
      const spans = exporter.getFinishedSpans();
      assert.deepEqual(
        spans.map((span) => span.name),
        ['POST tenants', 'POST /graphql'],
      );
      assert.equal(spans[0]?.parentSpanContext?.spanId, server?.spanContext().spanId);
      assert.equal(spans[1]?.attributes['graphql.operation.type'], undefined);
    } finally {
      await stop();
    }
  });

  it('reads the standard sampler names', () => {
    assert.equal(observabilityConfigSchema.parse({}).OTEL_TRACES_SAMPLER, 'parentbased_traceidratio');
    assert.equal(observabilityConfigSchema.parse({}).OTEL_TRACES_SAMPLER_ARG, 1);
    const described = (name: string) => samplerOf(observabilityConfigSchema.parse({ OTEL_TRACES_SAMPLER: name, OTEL_TRACES_SAMPLER_ARG: '0.1' })).toString();
    assert.equal(described('always_on'), 'AlwaysOnSampler');
    assert.equal(described('always_off'), 'AlwaysOffSampler');
    assert.equal(described('traceidratio'), 'TraceIdRatioBased{0.1}');
    assert.match(described('parentbased_always_on'), /^ParentBased\{root=AlwaysOnSampler/);
    assert.match(described('parentbased_always_off'), /^ParentBased\{root=AlwaysOffSampler/);
    assert.match(described('parentbased_traceidratio'), /^ParentBased\{root=TraceIdRatioBased\{0\.1\}/);
    assert.throws(() => observabilityConfigSchema.parse({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }));
  });
});
