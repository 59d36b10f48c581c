// The job queue's SQL in traces: pg-boss runs its statements through the same pg.Client#query as MikroORM (one pg in
// the tree, callback style through pg.Pool), so a job sent inside a sampled operation shows its INSERT as a PostgreSQL
// span of that operation's trace (under pg-boss's own `send` span).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { JobQueue, defineQueue } from '@saldo/jobs';
import { flushTraces, observabilityConfigSchema, startTracing } from '@saldo/observability';
import { SpanKind, runInSpan, startIncomingSpan } from '@saldo/service';
import { dropDatabases, ensureDatabases } from '@saldo/sharding';
import { TEST_POSTGRES_URL, testLogger, uniquePrefix } from '@saldo/testing';

describe('job queue statements in traces', () => {
  const controlUrl = `${TEST_POSTGRES_URL}/${uniquePrefix('jobs_trace')}_control`;
  const queue = defineQueue<{ note: string }>({ name: 'test.traced' });
  const exporter = new InMemorySpanExporter();
  let stopTracing: () => Promise<void>;
  let jobs: JobQueue;

  before(async () => {
    await ensureDatabases([controlUrl]);
    stopTracing = startTracing(observabilityConfigSchema.parse({}), 'test', testLogger(), exporter);
    jobs = new JobQueue({ url: controlUrl, name: 'tracing-test', logger: testLogger(), settings: { runWorkers: false, poolMax: 2 } });
    await jobs.start([queue]);
  });

  after(async () => {
    await jobs?.stop();
    await stopTracing?.();
    await dropDatabases([controlUrl]);
  });

  it("records a send inside an operation as a PostgreSQL span of that operation's trace", async () => {
    exporter.reset();
    const operation = startIncomingSpan('POST /graphql', SpanKind.SERVER, undefined)!;
    await runInSpan(operation, () => jobs.send(queue, { note: 'inside' }));
    operation.end();
    await flushTraces();
    const traceId = operation.spanContext().traceId;
    const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    const statements = spans.filter((span) => span.attributes['db.system.name'] === 'postgresql');
    assert.ok(
      statements.some((span) => span.attributes['db.operation.name'] === 'INSERT' && String(span.attributes['db.query.text']).includes('pgboss')),
      spans.map((span) => `${span.name}: ${String(span.attributes['db.query.text'] ?? '').slice(0, 80)}`).join('\n'),
    );
    // Parameters (the job's data) are never recorded.
    assert.ok(!JSON.stringify(statements.map((span) => span.attributes)).includes('inside'));
  });
});
