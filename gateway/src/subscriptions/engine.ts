import { createHash } from 'node:crypto';
import { executeQueryPlan, type GraphQLDataSource, type ServiceMap } from '@apollo/gateway';
import type { QueryPlan, SequenceNode } from '@apollo/query-planner';
import { GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import type { FormattedExecutionResult } from 'graphql-ws';
import { ErrorCode, type Identity } from '@saldo/graphql';
import type { IdentitySigner } from '@saldo/identity';
import { BoundedStream, type Logger } from '@saldo/service';
import { IdentityForwardingDataSource } from '../auth/identity-data-source.js';
import type { SubgraphHttpClient } from '../auth/subgraph-http.js';
import { PlanningErrors, SubscriptionPlanner, type PlannedSubscription } from './planner.js';
import { UpstreamSubscriptions, type UpstreamOptions } from './upstream.js';

/** Error codes specific to subscriptions (extensions.code). */
export const SubscriptionErrorCode = {
  /** The caller's token expired while subscribed (extensions.reason = TOKEN_EXPIRED): subscribe again with a fresh one. */
  TokenExpired: 'TOKEN_EXPIRED',
  /**
   * The caller's API key was revoked, or its rotation grace ended, while subscribed (extensions.reason): the
   * subscription ends within the API key revocation bound, like HTTP requests with that key.
   */
  CredentialRevoked: 'CREDENTIAL_REVOKED',
  /** One connection asked for more subscriptions at once than WS_MAX_SUBSCRIPTIONS_PER_CONNECTION allows. */
  TooManySubscriptions: 'TOO_MANY_SUBSCRIPTIONS',
  /** The gateway is shutting down; reconnect (another instance, or this one after its restart). */
  ShuttingDown: 'SHUTTING_DOWN',
} as const;

type RequestContext = Parameters<typeof executeQueryPlan>[2];

export interface SubscribeRequest {
  document: DocumentNode;
  operationName?: string | null | undefined;
  variables?: Record<string, unknown> | null | undefined;
  identity: Identity;
  /** When the caller's credentials expire (ms since epoch): the subscription ends then with TOKEN_EXPIRED. */
  expiresAt?: number | undefined;
  /** Aborted when the caller's credential stops being valid: the subscription ends with the abort reason (a GraphQLError). */
  signal?: AbortSignal | undefined;
}

export interface SubscriptionEngineOptions {
  signer: IdentitySigner;
  /** The client entity fetches go through (shared with the gateway's queries). */
  subgraphHttp: SubgraphHttpClient;
  logger: Logger;
  /** A subgraph's URL: the supergraph's routing URL unless overridden (SUBGRAPH_URL_<NAME>). */
  subgraphUrl(name: string, supergraphUrl: string | undefined): string;
  /** Results one subscriber may have waiting; older ones are dropped beyond it. */
  bufferSize: number;
  upstream?: Omit<UpstreamOptions, 'signer' | 'logger'>;
}

export interface SubscriptionMetrics {
  /** Client subscriptions open now. */
  subscribers: number;
  /** Distinct upstream subscriptions open now (identical client subscriptions share one). */
  shared: number;
  /** Upstream subscriptions ever opened on subgraphs (reconnects included). */
  upstreamOpened: number;
  upstreamReconnects: number;
  /** Events received from subgraphs, and results computed from them (one per event and shared subscription). */
  events: number;
  /** Results handed to subscribers, and those dropped from full buffers of slow subscribers. */
  delivered: number;
  dropped: number;
}

/** Marks the primary fetch so that executeQueryPlan takes the event instead of asking a subgraph. */
const EVENT_SOURCE = '__saldo_subscription_event__';

/**
 * Federated subscriptions: Apollo's gateway plans subscriptions but refuses to execute them, so this does.
 *
 * For a subscription it (1) plans it with Apollo's query planner over the supergraph (a primary fetch on the subgraph
 * owning the root field and the `rest`), (2) opens the primary as a graphql-ws subscription on that subgraph, and
 * (3) for each event runs the rest with Apollo's own `executeQueryPlan`, handing the event in as the result of the
 * primary fetch: a plan `Sequence [primary, rest]` whose primary is answered by a data source that returns the event.
 * So entity fetches, @requires, rewrites, error paths and response shaping are exactly those of queries, through
 * the same identity-forwarding data sources.
 *
 * Identical subscriptions share everything: same operation text, variables and scope of the identity (role and
 * tenant/partner: what subgraphs decide on) share one upstream subscription and one set of entity fetches per event;
 * the result is pushed to every subscriber's bounded buffer. A subscriber that joins a running one first gets its
 * latest result (the current state), then the updates.
 */
export class SubscriptionEngine {
  private planner: SubscriptionPlanner | undefined;
  private dataSources: ServiceMap = {};
  private urls = new Map<string, string>();
  private readonly shared = new Map<string, SharedSubscription>();
  readonly upstream: UpstreamSubscriptions;
  private closing = false;
  readonly counters = { events: 0, delivered: 0, dropped: 0, subscribers: 0 };

  constructor(readonly options: SubscriptionEngineOptions) {
    this.upstream = new UpstreamSubscriptions({ signer: options.signer, logger: options.logger, ...options.upstream });
  }

  /** (Re)loads the supergraph: plans, subgraph URLs and data sources. Running subscriptions keep their plan. */
  update(supergraphSdl: string): void {
    const planner = new SubscriptionPlanner(supergraphSdl);
    const urls = new Map<string, string>();
    const dataSources: ServiceMap = {};
    for (const { name, url } of planner.subgraphs) {
      const target = this.options.subgraphUrl(name, url);
      urls.set(name, target);
      dataSources[name] = new IdentityForwardingDataSource(target, this.options.signer, this.options.subgraphHttp);
    }
    this.planner = planner;
    this.urls = urls;
    this.dataSources = dataSources;
  }

  /** The API schema subscriptions are validated against (undefined before the supergraph loaded). */
  get schema() {
    return this.planner?.schema;
  }

  metrics(): SubscriptionMetrics {
    const upstream = this.upstream.metrics();
    return {
      subscribers: this.counters.subscribers,
      shared: this.shared.size,
      upstreamOpened: upstream.opened,
      upstreamReconnects: upstream.reconnects,
      events: this.counters.events,
      delivered: this.counters.delivered,
      dropped: this.counters.dropped,
    };
  }

  /**
   * Starts a subscription for an authenticated caller. Returns the result stream, or a single result with errors
   * when the operation cannot run (invalid, not a subscription).
   */
  subscribe(request: SubscribeRequest): BoundedStream<ExecutionResult> | ExecutionResult {
    if (this.closing)
      return { errors: [new GraphQLError('The gateway is shutting down; subscribe again.', { extensions: { code: SubscriptionErrorCode.ShuttingDown } })] };
    if (!this.planner) return { errors: [new GraphQLError('The gateway has not loaded its supergraph yet.', { extensions: { code: ErrorCode.Internal } })] };
    let planned: PlannedSubscription;
    try {
      planned = this.planner.plan(request.document, request.operationName);
    } catch (error) {
      if (error instanceof PlanningErrors) return { errors: [...error.errors] };
      this.options.logger.error('could not plan a subscription', { error });
      return { errors: [new GraphQLError('Internal server error', { extensions: { code: ErrorCode.Internal } })] };
    }
    const variables = request.variables ?? {};
    const key = createHash('sha256')
      .update(planned.operationName ?? '')
      .update('\n')
      .update(planned.text)
      .update('\n')
      .update(stableStringify(variables))
      .update('\n')
      .update(scopeKey(request.identity))
      .digest('base64url');

    let shared = this.shared.get(key);
    if (!shared) {
      shared = new SharedSubscription(this, key, planned, variables, request.identity, this.planner);
      this.shared.set(key, shared);
      shared.start();
    }
    const owner = shared;
    this.counters.subscribers += 1;
    let expiry: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stream = new BoundedStream<ExecutionResult>(this.options.bufferSize, {
      onDrop: () => {
        this.counters.dropped += 1;
      },
      onClose: () => {
        this.counters.subscribers -= 1;
        if (expiry) clearTimeout(expiry);
        if (onAbort) request.signal?.removeEventListener('abort', onAbort);
        owner.detach(stream);
      },
    });
    owner.attach(stream);
    if (request.expiresAt !== undefined) {
      const expire = (): void =>
        stream.terminate({
          errors: [
            new GraphQLError(`The token expired at ${new Date(request.expiresAt!).toISOString()}; subscribe again with a fresh token.`, {
              extensions: { code: ErrorCode.Unauthenticated, reason: SubscriptionErrorCode.TokenExpired },
            }),
          ],
        });
      const remaining = request.expiresAt - Date.now();
      if (remaining <= 0) expire();
      else {
        // Timers hold 32-bit delays: a token valid for longer than ~24 days is checked again later.
        expiry = setTimeout(expire, Math.min(remaining, 2 ** 31 - 1));
        expiry.unref();
      }
    }
    if (request.signal) {
      const signal = request.signal;
      const revoked = (): ExecutionResult => ({
        errors: [
          signal.reason instanceof GraphQLError
            ? signal.reason
            : new GraphQLError('The credential is no longer valid.', {
                extensions: { code: ErrorCode.Unauthenticated, reason: SubscriptionErrorCode.CredentialRevoked },
              }),
        ],
      });
      if (signal.aborted) stream.terminate(revoked());
      else {
        onAbort = () => stream.terminate(revoked());
        signal.addEventListener('abort', onAbort, { once: true });
      }
    }
    return stream;
  }

  /** Ends every subscription (subscribers get SHUTTING_DOWN, then completion) and closes the upstream connections. */
  async close(): Promise<void> {
    this.closing = true;
    const error = new GraphQLError('The gateway is shutting down; subscribe again.', { extensions: { code: SubscriptionErrorCode.ShuttingDown } });
    for (const shared of [...this.shared.values()]) shared.finish({ errors: [error] });
    await this.upstream.close();
  }

  /** @internal */
  forget(shared: SharedSubscription): void {
    if (this.shared.get(shared.key) === shared) this.shared.delete(shared.key);
  }

  /** @internal the data sources and URL of a subgraph, as of the current supergraph. */
  route(name: string): { url: string | undefined; dataSources: ServiceMap } {
    return { url: this.urls.get(name), dataSources: this.dataSources };
  }
}

/** One upstream subscription and everyone subscribed to it. */
class SharedSubscription {
  private readonly subscribers = new Set<BoundedStream<ExecutionResult>>();
  /** The latest result, for subscribers that join later. */
  private last: ExecutionResult | undefined;
  /** Results are computed concurrently but delivered in event order. */
  private delivery: Promise<void> = Promise.resolve();
  private stop: (() => void) | undefined;
  private finished = false;

  constructor(
    private readonly engine: SubscriptionEngine,
    readonly key: string,
    private readonly planned: PlannedSubscription,
    private readonly variables: Record<string, unknown>,
    private readonly identity: Identity,
    private readonly planner: SubscriptionPlanner,
  ) {}

  start(): void {
    const { primary } = this.planned;
    const { url, dataSources } = this.engine.route(primary.serviceName);
    if (!url) {
      this.finish({ errors: [new GraphQLError(`No URL for subgraph ${primary.serviceName}.`, { extensions: { code: ErrorCode.Internal } })] });
      return;
    }
    const variables: Record<string, unknown> = {};
    for (const name of primary.variableUsages ?? []) if (name in this.variables) variables[name] = this.variables[name];
    this.stop = this.engine.upstream.subscribe(
      { subgraph: primary.serviceName, url, query: primary.operation, operationName: primary.operationName, variables, identity: this.identity },
      {
        next: (event) => {
          this.engine.counters.events += 1;
          const result = this.execute(event, dataSources);
          this.delivery = this.delivery.then(async () => this.broadcast(await result));
        },
        complete: () => {
          this.delivery = this.delivery.then(() => this.finish());
        },
        error: (errors) => {
          this.delivery = this.delivery.then(() => this.finish({ errors: errors.map(toGraphQLError) }));
        },
      },
    );
  }

  attach(stream: BoundedStream<ExecutionResult>): void {
    if (this.finished) {
      stream.end();
      return;
    }
    this.subscribers.add(stream);
    if (this.last) this.push(stream, this.last);
  }

  detach(stream: BoundedStream<ExecutionResult>): void {
    if (!this.subscribers.delete(stream) || this.subscribers.size > 0 || this.finished) return;
    // The last subscriber left: end the upstream subscription.
    this.finished = true;
    this.engine.forget(this);
    this.stop?.();
  }

  /** Ends every subscriber after what was delivered (and `last`). */
  finish(last?: ExecutionResult): void {
    if (!this.finished) {
      this.finished = true;
      this.engine.forget(this);
      this.stop?.();
    }
    for (const stream of [...this.subscribers]) stream.end(last);
    this.subscribers.clear();
  }

  private broadcast(result: ExecutionResult): void {
    if (this.finished) return;
    this.last = result;
    for (const stream of this.subscribers) this.push(stream, result);
  }

  private push(stream: BoundedStream<ExecutionResult>, result: ExecutionResult): void {
    stream.push(result);
    this.engine.counters.delivered += 1;
  }

  /** One event through the rest of the plan: never rejects (a failure is a result with errors). */
  private async execute(event: FormattedExecutionResult, dataSources: ServiceMap): Promise<ExecutionResult> {
    if (event.data === null || event.data === undefined) return { data: null, errors: (event.errors ?? []).map(toGraphQLError) };
    const source: GraphQLDataSource = { process: async () => ({ data: event.data, ...(event.errors ? { errors: event.errors } : {}) }) as never };
    const node: SequenceNode = {
      kind: 'Sequence',
      nodes: [{ ...this.planned.primary, serviceName: EVENT_SOURCE }, ...(this.planned.rest ? [this.planned.rest] : [])],
    };
    const plan: QueryPlan = { kind: 'QueryPlan', node };
    const requestContext = {
      request: { query: this.planned.text, variables: this.variables, operationName: this.planned.operationName ?? undefined },
      context: { identity: this.identity },
      logger: this.engine.options.logger,
      metrics: {},
      document: this.planned.document,
      operationName: this.planned.operationName,
      operation: this.planned.operationContext.operation,
      schema: this.planner.schema,
      cache: undefined,
      queryHash: this.key,
      source: this.planned.text,
      overallCachePolicy: undefined,
    } as unknown as RequestContext;
    try {
      const result = await executeQueryPlan(
        plan,
        { ...dataSources, [EVENT_SOURCE]: source },
        requestContext,
        this.planned.operationContext,
        this.planner.supergraphSchema,
        this.planner.apiSchema,
      );
      return { data: (result.data ?? null) as ExecutionResult['data'], ...(result.errors?.length ? { errors: result.errors.map(toGraphQLError) } : {}) };
    } catch (error) {
      this.engine.options.logger.error('subscription event could not be executed', { error });
      return { data: null, errors: [new GraphQLError('Internal server error', { extensions: { code: ErrorCode.Internal } })] };
    }
  }
}

function toGraphQLError(error: GraphQLFormattedError | GraphQLError): GraphQLError {
  if (error instanceof GraphQLError) return error;
  return new GraphQLError(error.message, { path: error.path, extensions: error.extensions });
}

/**
 * The part of an identity that subgraphs decide on (role and tenant/partner), so callers that would get the same
 * answers share a subscription; the subject (which user) does not change any answer.
 */
export function scopeKey(identity: Identity): string {
  // Through a partner's custom domain the answers are narrowed to that partner: never shared with other callers.
  return identity.hostPartnerId ? `${roleScopeKey(identity)}@${identity.hostPartnerId}` : roleScopeKey(identity);
}

function roleScopeKey(identity: Identity): string {
  switch (identity.role) {
    case 'anonymous':
    case 'platform-admin':
      return identity.role;
    case 'partner':
      return `partner:${identity.partnerId}`;
    case 'tenant-admin':
    case 'tenant-member':
      return `${identity.role}:${identity.tenantId}:${identity.partnerId ?? ''}`;
  }
}

/** JSON with object keys sorted, so equal variables give equal keys. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${stableStringify(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
