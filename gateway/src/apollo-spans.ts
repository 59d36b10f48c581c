import { createRequire } from 'node:module';
import { passThroughTracer } from '@saldo/service';

/**
 * Apollo Gateway opens about eight spans per operation (gateway.request, validate, plan, execute, one fetch per subgraph
 * call, postprocessing) through the tracer its utilities module took at load time. They were never recorded: that
 * tracer comes from the CommonJS copy of @opentelemetry/api, whose provider never receives the SDK that our ESM code
 * registers. Each still cost a span object, a context copy and an AsyncLocalStorage switch per call, with tracing on or
 * off. With the pass-through tracer they cost a function call, and Apollo's fetches run in the request's own context,
 * so our subgraph CLIENT spans and the `traceparent` they send are children of the gateway's server span as before.
 * Apollo's modules read `tracer` from this exports object at every call, so replacing it once takes effect everywhere.
 */
export function passApolloSpansThrough(): void {
  const require = createRequire(import.meta.url);
  const telemetry = require('@apollo/gateway/dist/utilities/opentelemetry.js') as { tracer?: unknown };
  // An upgrade that moves the tracer must fail loudly here, not quietly bring the per-span cost back.
  if (!telemetry.tracer) throw new Error('@apollo/gateway no longer exports its tracer from dist/utilities/opentelemetry.js: update apollo-spans.ts');
  telemetry.tracer = passThroughTracer;
}
