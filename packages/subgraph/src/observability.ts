import type http from 'node:http';
import type { EventBus, OutboxRelay } from '@saldo/events';
import type { JobQueue } from '@saldo/jobs';
import type { ServiceMetrics } from '@saldo/observability';
import { SpanKind, runInSpan, runWithLogContext, startIncomingSpan, traceIdOf, type LogContext } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';

/**
 * Runs one GraphQL request of a subgraph in its log context (trace and tenant of the forwarded identity) and, when
 * tracing, in a SERVER span continuing the gateway's trace from the `traceparent` it sent.
 */
export function serveObserved(
  service: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  tenantId: string | undefined,
  work: () => Promise<void>,
): Promise<void> {
  const span = startIncomingSpan(`${service} POST /graphql`, SpanKind.SERVER, req.headers, () => ({
    'http.request.method': req.method ?? 'POST',
    'url.path': '/graphql',
    'saldo.service': service,
    ...(tenantId ? { 'saldo.tenant_id': tenantId } : {}),
  }));
  const context: LogContext = {};
  const traceId = span?.spanContext().traceId ?? traceIdOf(req.headers.traceparent);
  if (traceId) context.traceId = traceId;
  if (tenantId) context.tenantId = tenantId;
  if (span) {
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      span.end();
    });
  }
  return runWithLogContext(context, () => runInSpan(span, work));
}

/**
 * What every subgraph reports beyond requests: its outbox's backlog (per database) and the relay's lag, consumer lag per
 * topic, its job queues' depth, and the live subscriptions it serves. Gauges are read at scrape time.
 */
export function subgraphGauges(
  metrics: ServiceMetrics,
  parts: { db: ShardedDatabase; bus: EventBus; jobs: JobQueue; subscriptions: () => { active: number; connections: number } },
): void {
  metrics.gauge({
    name: 'saldo_outbox_backlog_events',
    help: 'Outbox events written but not yet published, per database (control, shard-N).',
    labelNames: ['database'],
    async collect(gauge) {
      const sources = [{ name: 'control', em: parts.db.globalEm() }, ...parts.db.shardIds.map((id) => ({ name: `shard-${id}`, em: parts.db.em(id) }))];
      await Promise.all(
        sources.map(async ({ name, em }) => {
          const [row] = await em.execute<Array<{ count: string }>>('select count(*) as count from outbox_event where published_at is null');
          gauge.set({ database: name }, Number(row?.count ?? 0));
        }),
      );
    },
  });
  metrics.gauge({
    name: 'saldo_event_consumer_lag_messages',
    help: 'Messages a consumer group has yet to handle, per topic.',
    labelNames: ['topic', 'group'],
    collect(gauge) {
      gauge.reset();
      for (const { topic, group, messages } of parts.bus.consumerLag?.() ?? []) gauge.set({ topic, group }, messages);
    },
  });
  metrics.gauge({
    name: 'saldo_job_queue_depth',
    help: 'Jobs per queue and state (queued, deferred, active, failed), as last counted by the queue monitor.',
    labelNames: ['queue', 'state'],
    async collect(gauge) {
      gauge.reset();
      for (const depth of await parts.jobs.stats()) {
        gauge.set({ queue: depth.queue, state: 'queued' }, depth.queued);
        gauge.set({ queue: depth.queue, state: 'deferred' }, depth.deferred);
        gauge.set({ queue: depth.queue, state: 'active' }, depth.active);
        gauge.set({ queue: depth.queue, state: 'failed' }, depth.failed);
      }
    },
  });
  metrics.gauge({
    name: 'saldo_subgraph_subscriptions',
    help: 'GraphQL subscriptions this subgraph serves now (upstream of the gateway).',
    collect(gauge) {
      gauge.set(parts.subscriptions().active);
    },
  });
}

/** The relay's lag: seconds from an event's occurrence to its publication. */
export function relayLagObserver(metrics: ServiceMetrics): NonNullable<ConstructorParameters<typeof OutboxRelay>[0]['observeLag']> {
  const histogram = metrics.histogram({
    name: 'saldo_outbox_relay_lag_seconds',
    help: 'Seconds from an event being written to the outbox to its publication on the bus.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  return (seconds) => histogram.observe(seconds);
}
