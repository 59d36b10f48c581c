import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { RequestHandler } from 'express';
import { BoundedLabel, HistogramChildren, type ServiceMetrics } from '@saldo/observability';
import type { SubscriptionMetrics } from './subscriptions/engine.js';
import { SpanKind, currentLogContext, runInSpan, runWithLogContext, startIncomingSpan, traceIdOf, type LogContext, type Span } from '@saldo/service';

/** What the gateway keeps about one HTTP GraphQL request: its log context (trace, tenant), start time and server span. */
export interface GatewayRequest extends LogContext {
  startedAt: number;
  span?: Span;
}

/**
 * Enters a request's observation before anything else on /graphql: the log context every line of the request carries,
 * the start time the latency histogram measures from and, when tracing is on, the server span that is the root of the
 * operation's trace (or continues the caller's, from its `traceparent`).
 */
export function observeRequests(): RequestHandler {
  return (req, res, next) => {
    const request: GatewayRequest = { startedAt: performance.now() };
    const span = startIncomingSpan('POST /graphql', SpanKind.SERVER, req.headers, { 'http.request.method': req.method, 'url.path': '/graphql' });
    if (span) {
      request.span = span;
      request.traceId = span.spanContext().traceId;
      res.once('finish', () => {
        span.setAttribute('http.response.status_code', res.statusCode);
        span.end();
      });
    } else {
      const traceId = traceIdOf(req.headers.traceparent);
      if (traceId) request.traceId = traceId;
    }
    runWithLogContext(request, () => runInSpan(span, next));
  };
}

/**
 * Per-operation request rate, errors and latency (Prometheus). Operation names come from clients: BoundedLabel keeps
 * their number of series bounded. One listener object serves every request (no allocation per request beyond Apollo's).
 */
export function operationMetricsPlugin<C extends object>(metrics: ServiceMetrics): ApolloServerPlugin<C> {
  const names = new BoundedLabel(200);
  const codes = new BoundedLabel(50);
  const requests = metrics.counter({
    name: 'saldo_gateway_requests_total',
    help: 'GraphQL operations served over HTTP, per operation.',
    labelNames: ['operation_type', 'operation_name'],
  });
  const errors = metrics.counter({
    name: 'saldo_gateway_request_errors_total',
    help: 'GraphQL operations answered with errors, per operation and first error code.',
    labelNames: ['operation_type', 'operation_name', 'code'],
  });
  const latency = new HistogramChildren(
    metrics.histogram({
      name: 'saldo_gateway_request_duration_seconds',
      help: 'Time from receiving a GraphQL operation over HTTP to sending its response, per operation.',
      labelNames: ['operation_type', 'operation_name'],
    }),
    (operation_type, operation_name) => ({ operation_type, operation_name }),
  );
  const requestChildren = new Map<string, ReturnType<typeof requests.labels>>();
  const listener: GraphQLRequestListener<C> = {
    async willSendResponse({ operation, operationName, request, response }) {
      const type = operation?.operation ?? 'unknown';
      const name = names.of(operationName ?? request.operationName ?? 'anonymous');
      const key = `${type} ${name}`;
      let counted = requestChildren.get(key);
      if (!counted) requestChildren.set(key, (counted = requests.labels({ operation_type: type, operation_name: name })));
      counted.inc();
      const observed = currentLogContext() as GatewayRequest | undefined;
      if (observed?.startedAt !== undefined) latency.observe(type, name, (performance.now() - observed.startedAt) / 1000);
      if (observed?.span) observed.span.updateName(key);
      const failures = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
      if (failures?.length) {
        const code = codes.of(String(failures[0]?.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR'));
        errors.inc({ operation_type: type, operation_name: name, code });
        observed?.span?.setAttribute('graphql.error.code', code);
      }
    },
  };
  return { requestDidStart: async () => listener };
}

/** Adds an attribute to the request's server span (when tracing). */
export function tagActiveSpan(name: string, value: string): void {
  (currentLogContext() as GatewayRequest | undefined)?.span?.setAttribute(name, value);
}

/** Subgraph fetch latency per subgraph and outcome (what SubgraphHttpClient reports after each POST). */
export function subgraphFetchObserver(metrics: ServiceMetrics): SubgraphFetchObserver {
  const latency = new HistogramChildren(
    metrics.histogram({
      name: 'saldo_gateway_subgraph_fetch_duration_seconds',
      help: 'Time of one gateway-to-subgraph HTTP request (query plan fetches and subscription entity fetches).',
      labelNames: ['subgraph', 'outcome'],
    }),
    (subgraph, outcome) => ({ subgraph, outcome }),
  );
  return (subgraph, seconds, failed) => latency.observe(subgraph, failed ? 'error' : 'ok', seconds);
}

export type SubgraphFetchObserver = (subgraph: string, seconds: number, failed: boolean) => void;

/** Live subscriptions, their connections and updates delivered or dropped, read from the engine at scrape time. */
export function gatewayGauges(
  metrics: ServiceMetrics,
  state: () => { engine: { metrics(): SubscriptionMetrics }; transports: { connections(): { webSocket: number; sse: number } } } | undefined,
): void {
  metrics.gauge({
    name: 'saldo_gateway_subscriptions',
    help: 'Client subscriptions open now (graphql-ws and SSE).',
    collect(gauge) {
      gauge.set(state()?.engine.metrics().subscribers ?? 0);
    },
  });
  metrics.gauge({
    name: 'saldo_gateway_subscription_upstreams',
    help: 'Distinct upstream subscriptions open on subgraphs (identical client subscriptions share one).',
    collect(gauge) {
      gauge.set(state()?.engine.metrics().shared ?? 0);
    },
  });
  metrics.gauge({
    name: 'saldo_gateway_subscription_connections',
    help: 'Open subscription connections per transport.',
    labelNames: ['transport'],
    collect(gauge) {
      const connections = state()?.transports.connections() ?? { webSocket: 0, sse: 0 };
      gauge.set({ transport: 'websocket' }, connections.webSocket);
      gauge.set({ transport: 'sse' }, connections.sse);
    },
  });
  metrics.counter({
    name: 'saldo_gateway_subscription_updates_delivered_total',
    help: 'Subscription results handed to subscribers.',
    collect(counter) {
      counter.inc(state()?.engine.metrics().delivered ?? 0);
    },
  });
  metrics.counter({
    name: 'saldo_gateway_subscription_updates_dropped_total',
    help: 'Subscription results dropped from the full buffers of slow subscribers.',
    collect(counter) {
      counter.inc(state()?.engine.metrics().dropped ?? 0);
    },
  });
}

/**
 * How long the gateway has been verifying bearer tokens with a JWKS it cannot refresh: seconds since the last successful
 * fetch while fetches fail, 0 otherwise. Tokens are refused once it passes JWT_JWKS_MAX_STALE_SECONDS; alert well before.
 */
export function jwksStalenessGauge(metrics: ServiceMetrics, portalTokens: { jwksStaleSeconds(): number } | undefined): void {
  metrics.gauge({
    name: 'saldo_jwks_stale_seconds',
    help: 'Seconds since the last successful JWKS fetch while refreshing it fails (tokens are verified with that set until JWT_JWKS_MAX_STALE_SECONDS); 0 while it refreshes.',
    collect(gauge) {
      gauge.set(portalTokens?.jwksStaleSeconds() ?? 0);
    },
  });
}
