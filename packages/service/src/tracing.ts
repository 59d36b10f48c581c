import diagnostics from 'node:diagnostics_channel';
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

/**
 * The seams where Saldo's own code opens OpenTelemetry spans (docs/decisions/0026-observability.md). Tracing is on only
 * when @saldo/observability's startTracing registered an SDK (OTEL_* configured); until then every helper here returns
 * at its first line (one boolean test), so a process without tracing pays nothing per request: no span objects, no
 * header parsing, no context switches.
 */
let enabled = false;
const TRACER = 'saldo';
/** Taken once when tracing starts (the global provider is a proxy; looking the tracer up per span costs a map lookup). */
let tracer: Tracer | undefined;

/**
 * Whether a parent's "not sampled" is final for its children (every parent-based sampler, and always_off): then work
 * arriving with an unsampled `traceparent` skips the SDK's sampler, id generation and span object (startIncomingSpan).
 */
let unsampledParentIsFinal = false;

/** Called by startTracing / stopTracing only. `unsampledParentIsFinal`: what the configured sampler does (see above). */
export function setTracingEnabled(on: boolean, options: { unsampledParentIsFinal?: boolean } = {}): void {
  enabled = on;
  tracer = on ? trace.getTracer(TRACER) : undefined;
  unsampledParentIsFinal = on && options.unsampledParentIsFinal === true;
  if (on) propagateOnOutboundHttp();
}

/**
 * The active span when its trace is sampled (the W3C sampled flag), else undefined. Child spans are opened only under
 * one: work outside any operation (relay passes, scheduled jobs, pool housekeeping) and work of unsampled operations
 * cost one context lookup, no span object, no attribute, no context switch. The flag, not `isRecording()`, decides:
 * a library's non-recording span may carry the sampled trace's context (a tracer of another API copy), and the
 * parent-based sampler would record its children.
 */
export function sampledParent(): Span | undefined {
  if (!enabled) return undefined;
  const span = trace.getSpan(context.active());
  return span && span.spanContext().traceFlags & TraceFlags.SAMPLED ? span : undefined;
}

let propagating = false;

/**
 * Every outbound HTTP request of the process (node:http clients such as Stripe's, and fetch: webhooks, API key checks,
 * custom domains, ACME) carries the active trace's `traceparent`, through Node's diagnostics channels: no call site has to
 * remember it. Requests made outside any trace are left alone.
 */
function propagateOnOutboundHttp(): void {
  if (propagating) return;
  propagating = true;
  diagnostics.subscribe('http.client.request.created', (message) => {
    if (!enabled || !trace.getSpan(context.active())) return;
    const request = (message as { request: { setHeader(name: string, value: string): void; getHeader(name: string): unknown; headersSent?: boolean } }).request;
    // The gateway's subgraph client sets it already (after its dedup key): no second injection.
    if (request.getHeader('traceparent') !== undefined) return;
    const headers: Record<string, string> = {};
    propagation.inject(context.active(), headers);
    if (request.headersSent) return;
    for (const name in headers) request.setHeader(name, headers[name]!);
  });
  diagnostics.subscribe('undici:request:create', (message) => {
    if (!enabled || !trace.getSpan(context.active())) return;
    const request = (message as { request: { addHeader(name: string, value: string): void } }).request;
    const headers: Record<string, string> = {};
    propagation.inject(context.active(), headers);
    for (const name in headers) request.addHeader(name, headers[name]!);
  });
}

export function tracingEnabled(): boolean {
  return enabled;
}

export { SpanKind };
export type { Attributes, Span };

/** Headers as they arrive (node:http) or as we send them. */
type Carrier = Record<string, string | string[] | undefined>;

const getter = {
  keys: (carrier: Carrier) => Object.keys(carrier),
  get: (carrier: Carrier, key: string) => carrier[key] ?? carrier[key.toLowerCase()],
};

/**
 * A span for work that arrives from outside (an HTTP request, a consumed event), continuing the trace whose W3C context
 * `carrier` holds (headers, or `{ traceparent }`). Undefined when tracing is off. The caller ends it, and runs its work
 * inside with `runInSpan`.
 * `attributes` are set only once the span is recording: given to `startSpan`, the SDK copies and checks them for every
 * request, sampled or not (the largest single item of tracing at ratio 0.1 in the observability benchmark's profile).
 * The configured samplers (OTEL_TRACES_SAMPLER) decide by trace id and parent alone, so they never needed them; a
 * function is called only then (no attribute object per unsampled request).
 */
export function startIncomingSpan(name: string, kind: SpanKind, carrier: Carrier | undefined, attributes?: Attributes | (() => Attributes)): Span | undefined {
  if (!tracer) return undefined;
  const parent = carrier ? propagation.extract(ROOT_CONTEXT, carrier, getter) : ROOT_CONTEXT;
  if (unsampledParentIsFinal) {
    // The caller decided "not sampled" and the sampler follows it: the caller's own (non-recording) span context is
    // what this work runs in and hands on (same trace id, flag 00), so downstream services decide the same. The SDK
    // would only have made a fresh span id for a span that is never recorded.
    const remote = trace.getSpan(parent);
    if (remote && !(remote.spanContext().traceFlags & TraceFlags.SAMPLED)) return remote;
  }
  const span = tracer.startSpan(name, { kind }, parent);
  if (attributes && span.isRecording()) span.setAttributes(typeof attributes === 'function' ? attributes() : attributes);
  return span;
}

/** The one span of `passThroughTracer`: records nothing, ends nothing, carries no context. */
const NOT_RECORDED: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * A tracer for libraries whose spans Saldo does not record (Apollo Gateway's gateway.request/plan/execute/fetch/...):
 * every span is one shared non-recording span with an invalid context, and `startActiveSpan` calls its function
 * directly, without a context switch, so the library's work runs in the caller's context (its fetches carry the
 * caller's `traceparent`) and ending or annotating its spans touches nothing of ours.
 */
export const passThroughTracer: Tracer = {
  startSpan: () => NOT_RECORDED,
  startActiveSpan: ((...args: unknown[]) => (args[args.length - 1] as (span: Span) => unknown)(NOT_RECORDED)) as Tracer['startActiveSpan'],
};

/** Runs `work` with `span` as the active span (a no-op wrapper when there is no span). */
export function runInSpan<T>(span: Span | undefined, work: () => T): T {
  if (!span) return work();
  return context.with(trace.setSpan(context.active(), span), work);
}

/**
 * Runs `work` in a child span of the active one (a call to a dependency), made active so what `work` sends carries it
 * (`traceparent` on outbound HTTP), ending it when the promise settles and recording a failure. Only inside a sampled
 * operation (`sampledParent`); otherwise, and with tracing off: `work(undefined)` and nothing else. `attributes` is a
 * function so that nothing is formatted for calls that are not traced.
 */
export function withSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: (() => Attributes) | undefined,
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!sampledParent()) return work(undefined);
  const span = tracer!.startSpan(name, { kind, ...(attributes ? { attributes: attributes() } : {}) });
  return endWhenSettled(span, context.with(trace.setSpan(context.active(), span), work, undefined, span));
}

/**
 * A leaf child span (a SQL statement, a Redis command): like `withSpan`, but the span is never made the active one, since
 * nothing inside the call opens spans or sends headers; that saves a context switch per statement. `describe` gives the
 * span's name and attributes, and runs only for a sampled operation.
 */
export function withLeafSpan<T>(kind: SpanKind, describe: () => { name: string; attributes: Attributes }, work: () => Promise<T>): Promise<T> {
  const span = startLeafSpan(kind, describe);
  if (!span) return work();
  let sent: Promise<T>;
  try {
    sent = work();
  } catch (error) {
    failSpan(span, error);
    span.end();
    throw error;
  }
  return endWhenSettled(span, sent);
}

/**
 * The span of `withLeafSpan` for callback-style work (the caller ends it, `failSpan` first on an error): undefined, and
 * `describe` not called, unless the active span's trace is sampled.
 */
export function startLeafSpan(kind: SpanKind, describe: () => { name: string; attributes: Attributes }): Span | undefined {
  if (!sampledParent()) return undefined;
  const { name, attributes } = describe();
  return tracer!.startSpan(name, { kind, attributes });
}

function endWhenSettled<T>(span: Span, work: Promise<T>): Promise<T> {
  return work.then(
    (result) => {
      span.end();
      return result;
    },
    (error: unknown) => {
      failSpan(span, error);
      span.end();
      throw error;
    },
  );
}

/** Marks a span failed with the error's type and message (never its data). */
export function failSpan(span: Span | undefined, error: unknown): void {
  if (!span) return;
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  if (error instanceof Error) span.setAttribute('error.type', error.name);
}

/** Adds the active trace's W3C headers (`traceparent`, `tracestate`) to outgoing headers; nothing when tracing is off. */
export function injectTraceHeaders(headers: Record<string, string>): void {
  if (!enabled) return;
  propagation.inject(context.active(), headers);
}

/** The active span's W3C `traceparent` (stored with an outbox event so its consumers join the trace), if any. */
export function currentTraceparent(): string | undefined {
  if (!enabled) return undefined;
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-0${(traceFlags & 0xff).toString(16)}`;
}

/** The active span's trace id (for the log context), if any. */
export function activeTraceId(): string | undefined {
  if (!enabled) return undefined;
  return trace.getSpan(context.active())?.spanContext().traceId;
}

export type { Context };
