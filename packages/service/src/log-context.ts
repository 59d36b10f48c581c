import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/**
 * What every log line written while serving one request carries: the trace id (the OpenTelemetry trace when tracing is
 * on, else the W3C `traceparent` the caller sent, else one made up for this request the first time a line needs it) and
 * the tenant the caller acts for. Services enter it once per request (`runWithLogContext`); the logger reads it.
 */
export interface LogContext {
  traceId?: string;
  tenantId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `work` with `context` as the current request's log context (the object may be filled in later, e.g. the tenant). */
export function runWithLogContext<T>(context: LogContext, work: () => T): T {
  return storage.run(context, work);
}

/** The current request's log context, if any (the same object that was entered, so callers may add the tenant). */
export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/** The 32-hex trace id of a W3C `traceparent` header (`00-<trace>-<span>-<flags>`), when it is well formed. */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  if (typeof traceparent !== 'string' || traceparent.length < 55 || traceparent.charCodeAt(2) !== 45 /* - */) return undefined;
  const traceId = traceparent.slice(3, 35);
  return /^[0-9a-f]{32}$/.test(traceId) && traceId !== '00000000000000000000000000000000' ? traceId : undefined;
}

/** The fields a log line takes from the context; the trace id is made (once per request) only when a line needs it. */
export function logContextFields(context: LogContext): { traceId: string; tenantId?: string } {
  context.traceId ??= randomBytes(16).toString('hex');
  return context.tenantId ? { traceId: context.traceId, tenantId: context.tenantId } : { traceId: context.traceId };
}
