import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { connectRedis } from '@saldo/redis';
import { SpanKind, createLogger, currentTraceparent, injectTraceHeaders, startIncomingSpan, runInSpan, tracingEnabled, withSpan } from '@saldo/service';
import { observabilityConfigSchema } from './config.js';
import { flushTraces, startTracing, tracesEndpoint } from './tracing.js';

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
      const server = startIncomingSpan('POST /graphql', SpanKind.SERVER, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
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
    } finally {
      await redis.close();
      await stop();
    }
    assert.equal(tracingEnabled(), false);
  });
});
