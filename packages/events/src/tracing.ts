import { SpanKind, failSpan, runInSpan, runWithLogContext, startIncomingSpan, tracingEnabled, traceIdOf, type Span } from '@saldo/service';
import type { EventEnvelope } from './contracts.js';

/**
 * Runs a consumer group's handler on events inside a CONSUMER span that continues the trace of the operation that
 * produced the first event (its `traceparent`, carried from the outbox row), and in a log context naming that trace and
 * tenant (the events' key), so a consumer's log lines and spans land in the producing operation's trace.
 */
export function consumeInTrace(topic: string, group: string, events: readonly EventEnvelope[], work: () => Promise<void>): Promise<void> {
  const first = events[0];
  const traceparent = first?.traceparent;
  const span = traceparent
    ? startIncomingSpan(
        `consume ${topic}`,
        SpanKind.CONSUMER,
        { traceparent },
        {
          'messaging.destination.name': topic,
          'messaging.consumer.group.name': group,
          'messaging.batch.message_count': events.length,
        },
      )
    : undefined;
  const traceId = span?.spanContext().traceId ?? traceIdOf(traceparent);
  const logContext = { ...(traceId ? { traceId } : {}), ...(first ? { tenantId: first.key } : {}) };
  if (!span) return runWithLogContext(logContext, work);
  return runWithLogContext(logContext, () => runInSpan(span, work)).then(
    () => span.end(),
    (error: unknown) => {
      failSpan(span, error);
      span.end();
      throw error;
    },
  );
}

/**
 * PRODUCER spans for events about to be published, each a child of the operation that wrote it (events written without
 * tracing get none); each event's traceparent becomes its producer span's, so consumers continue from the publish.
 * Returns the function that ends them.
 */
export function startPublishSpans(events: EventEnvelope[]): ((error?: unknown) => void) | undefined {
  if (!tracingEnabled()) return undefined;
  const spans: Span[] = [];
  for (let i = 0; i < events.length; i += 1) {
    const event = events[i]!;
    if (!event.traceparent) continue;
    const span = startIncomingSpan(
      `publish ${event.topic}`,
      SpanKind.PRODUCER,
      { traceparent: event.traceparent },
      {
        'messaging.destination.name': event.topic,
        'messaging.message.id': event.id,
      },
    );
    if (!span) continue;
    spans.push(span);
    const { traceId, spanId, traceFlags } = span.spanContext();
    events[i] = { ...event, traceparent: `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}` };
  }
  if (spans.length === 0) return undefined;
  return (error?: unknown) => {
    for (const span of spans) {
      if (error !== undefined) failSpan(span, error);
      span.end();
    }
  };
}
