export { createLogger, variadicLogger, type Logger, type LogLevel, type LogFields, type LogFormat, type LoggerOptions, type VariadicLogger } from './logger.js';
export { currentLogContext, logContextFields, runWithLogContext, traceIdOf, type LogContext } from './log-context.js';
export { REDACTED, redactFields, scrub } from './redact.js';
export { createHttpService, type HttpService, type HttpServiceOptions, type RawHandler, type ReadinessCheck } from './http-service.js';
export { stopOnSignals, type Service } from './lifecycle.js';
export { WorkLoop, type PassResult, type WorkLoopOptions } from './work-loop.js';
export { BoundedStream } from './bounded-stream.js';
export { seededRandom } from './seeded-random.js';
export { HttpErrorCode, describeHttpError, httpErrorBody, httpErrorHandler, notFoundHandler, sendHttpError, type HttpErrorBody } from './http-errors.js';
export {
  SpanKind,
  activeTraceId,
  currentTraceparent,
  failSpan,
  passThroughTracer,
  injectTraceHeaders,
  sampledParent,
  runInSpan,
  setTracingEnabled,
  startIncomingSpan,
  startLeafSpan,
  tracingEnabled,
  withLeafSpan,
  withSpan,
  type Attributes,
  type Span,
} from './tracing.js';
export { waitUntil } from './wait.js';
export { isProcessAlive, processCommand, processParent, saldoParentOf, stopLeftRunning } from './processes.js';
export { isOutputGone } from './output.js';
