import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import {
  ConsumedEvent,
  Migration20261123000100Outbox,
  Migration20261125000100ConsumedEvent,
  Migration20261129002000ConsumedEventTenant,
  Migration20261129120000OutboxTraceparent,
  Migration20261129160000OutboxTenantKey,
  Migration20261129160100ConsumedEventTenantKey,
  Migration20261130010000OutboxPublishedAt,
  OutboxEvent,
  OutboxRelay,
  type EventBus,
  type Unsubscribe,
} from '@saldo/events';
import { subscribeTenantRegistry } from './tenant-registry.js';
import { unsafeInputError, createRequestContext, type Identity, type RequestContext, type SubgraphSchema } from '@saldo/graphql';
import { IDENTITY_HEADER, IdentityVerifier } from '@saldo/identity';
import { JobQueue, type AnyQueueDefinition, type Clock, type JobSchedule, type JobWorker } from '@saldo/jobs';
import type { Express } from 'express';
import { createHttpService, variadicLogger, type Logger, type Service } from '@saldo/service';
import { ShardAdministration, ShardedDatabase, type ShardedSchema } from '@saldo/sharding';
import { jobSettings, outboxRetentionSettings, shardingConfig, type SubgraphConfig } from './config.js';
import { createErrorFormatter } from './format-error.js';
import { serveSubscriptions, type SubscriptionServer } from './subscriptions.js';
import { graphqlHttpHandler } from './graphql-http.js';
import { relayLagObserver, serveObserved, subgraphGauges } from './observability.js';
import { ServiceMetrics, startTracing } from '@saldo/observability';
import { OUTBOX_RETENTION_QUEUE, outboxRetentionSchedules, outboxRetentionWorker } from './outbox-retention.js';
import { SHARD_MOVE_QUEUE, SHARD_REBALANCE_QUEUE, scheduleShardMove, shardMoveWorker, shardRebalanceSchedule, shardRebalanceWorker } from './shard-moves.js';
import { outboxDatabases } from './outbox-databases.js';

/**
 * Every shard carries the event infrastructure (outbox for what the subgraph publishes, consumed-event ledger for
 * idempotent consumers) ahead of the subgraph's own tables; subgraphs list only their domain. The control database
 * has an outbox too, so platform-wide rows (partners, their branding and endpoints) announce changes in the same
 * transaction as well.
 */
function withEventTables(schema: ShardedSchema): ShardedSchema {
  const entities = [...new Set([OutboxEvent, ConsumedEvent, ...schema.shard.entities])];
  const infrastructure = [
    Migration20261123000100Outbox,
    Migration20261125000100ConsumedEvent,
    Migration20261129002000ConsumedEventTenant,
    Migration20261129120000OutboxTraceparent,
    Migration20261129160000OutboxTenantKey,
    Migration20261129160100ConsumedEventTenantKey,
    Migration20261130010000OutboxPublishedAt,
  ];
  const migrations = [...infrastructure, ...schema.shard.migrations.filter((migration) => !infrastructure.includes(migration as never))];
  // The control database has an outbox too: rows that belong to no tenant (partners, issued documents) announce
  // their changes from there, in their own transactions, like shard rows do.
  const globalEntities = [...new Set([OutboxEvent, ...(schema.global?.entities ?? [])])];
  const globalInfrastructure = [
    Migration20261123000100Outbox,
    Migration20261129120000OutboxTraceparent,
    Migration20261129160000OutboxTenantKey,
    Migration20261130010000OutboxPublishedAt,
  ];
  const globalMigrations = [
    ...globalInfrastructure,
    ...(schema.global?.migrations ?? []).filter((migration) => !globalInfrastructure.includes(migration as never)),
  ];
  return { ...schema, shard: { entities, migrations }, global: { entities: globalEntities, migrations: globalMigrations } };
}

/** Control characters are refused before any resolver runs, whatever the field (docs/security.md, attack 6). */
const refuseUnsafeInput: GraphQLRequestListener<RequestContext> = {
  async didResolveOperation({ document, operation, request }) {
    const refused = unsafeInputError(document, operation, request.variables);
    if (refused) throw refused;
  },
};

/**
 * The HTTP caching answer Apollo's cache-control plugin gives a schema without cache hints (every Saldo subgraph):
 * `cache-control: no-store` on every GraphQL response. Apollo's plugin works it out per field of every request
 * (a hook around each resolver) to arrive at that; this says it once per response (decision 0025).
 */
const noStore: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        response.http.headers.set('cache-control', 'no-store');
      },
    };
  },
};

/** What resolvers receive: the request context seam plus the subgraph's domain services. */
export type SubgraphContext<S> = RequestContext & {
  readonly services: S;
  /** Operators' shard tools (load, moves), the same in every subgraph; resolvers check the caller is an operator. */
  readonly shardAdministration: ShardAdministration;
};

export interface SubgraphRuntime<C extends SubgraphConfig = SubgraphConfig> {
  /** The subgraph's parsed configuration (its own schema's output, so domain settings are typed). */
  config: C;
  db: ShardedDatabase;
  bus: EventBus;
  relay: OutboxRelay;
  logger: Logger;
  /** Verifies gateway-signed identities (GraphQL requests and internal endpoints). */
  identity: IdentityVerifier;
  /** The subgraph's durable job queue in its control database (send from services; see SubgraphDefinition.jobs). */
  jobs: JobQueue;
  /** The subgraph's Prometheus metrics (GET /metrics): domains add theirs (ledger postings, model versions, certificates). */
  metrics: ServiceMetrics;
}

/**
 * A subgraph's durable jobs (packages/jobs). Queues are declared before the subgraph serves, so services may send from
 * the first request; workers and schedules start once it listens and stop (waiting for running jobs, bounded by
 * JOBS_STOP_TIMEOUT_SECONDS) before the databases close.
 */
export interface SubgraphJobs<S, C extends SubgraphConfig = SubgraphConfig> {
  queues: readonly AnyQueueDefinition[];
  /** Handlers of this subgraph's queues (`work(queue, handler)`); not started where JOBS_WORKERS=false. */
  workers?(services: S, runtime: SubgraphRuntime<C>): readonly JobWorker[];
  /** Recurring jobs (`schedule(queue, { cron, data })`); the queues' schedules are exactly these, once across instances. */
  schedules?(runtime: SubgraphRuntime<C>): readonly JobSchedule[];
}

/**
 * A subgraph is its domain: schema classes, shard schema, services, and event consumers. `C` is the subgraph's
 * configuration type (its config schema's output); services read their domain settings from `runtime.config`.
 */
export interface SubgraphDefinition<S, C extends SubgraphConfig = SubgraphConfig> {
  name: string;
  shardSchema: ShardedSchema;
  buildSchema(): Promise<SubgraphSchema>;
  createServices(runtime: SubgraphRuntime<C>): S;
  /** Subscribes the subgraph's event consumers; returns unsubscribe functions. */
  subscribe?(services: S, runtime: SubgraphRuntime<C>): Unsubscribe[];
  /** Mounts extra HTTP endpoints (internal APIs, webhooks) before GraphQL. */
  configureHttp?(app: Express, services: S, runtime: SubgraphRuntime<C>): void;
  /**
   * Starts background work (workers, connections) once the service listens and its relay runs. Its result is
   * called on stop, after HTTP closed (no request is in flight) and before the relay and the databases stop.
   * `listening.url` is where this instance serves (its port is known only now when PORT=0).
   */
  start?(services: S, runtime: SubgraphRuntime<C>, listening: { url: string }): Promise<() => Promise<void>>;
  /**
   * Called on stop after HTTP closed and the consumers stopped, and before the job queue stops: background work that
   * sends jobs (a retry it schedules, say) stops taking new work and finishes what it has in hand while the queue still
   * takes jobs. Job workers may call into services until the queue has stopped; `start`'s result runs after that.
   */
  quiesce?(services: S, runtime: SubgraphRuntime<C>): Promise<void>;
  /** Durable jobs: queues, their workers and recurring schedules. */
  jobs?: SubgraphJobs<S, C>;
}

export interface SubgraphService<S, C extends SubgraphConfig = SubgraphConfig> extends Service {
  /** Base URL once started; GraphQL is at `${url}/graphql`. */
  readonly url: string;
  readonly services: S;
  readonly runtime: SubgraphRuntime<C>;
  /**
   * Round trips so far: HTTP requests served, SQL statements sent, and database round trips (the statements plus
   * BEGIN/COMMIT/ROLLBACK); for a subgraph with Subscription fields, the GraphQL subscriptions it serves (graphql-ws
   * at `/graphql`) now and ever opened.
   */
  metrics(): {
    httpRequests: number;
    databaseQueries: number;
    databaseRoundTrips: number;
    subscriptions: { active: number; opened: number; connections: number };
  };
}

/** The largest GraphQL request body a subgraph reads (1 MiB, body-parser's '1mb'). */
const GRAPHQL_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds a runnable subgraph: opens and migrates its shards, serves Apollo Server on Express with
 * /health and /ready, relays its outbox, and shuts down in reverse order.
 */
export function createSubgraphService<S, C extends SubgraphConfig = SubgraphConfig>(
  definition: SubgraphDefinition<S, C>,
  config: C,
  deps: { bus: EventBus; logger: Logger; /** Test seam: the job queue's clock (pg-boss TestClock drives schedules by hand). */ jobClock?: Clock },
): SubgraphService<S, C> {
  const logger = deps.logger.child(definition.name);
  const metrics = new ServiceMetrics(definition.name);
  let state:
    | {
        url: string;
        services: S;
        runtime: SubgraphRuntime<C>;
        httpRequests: () => number;
        subscriptions: SubscriptionServer | undefined;
        stop: () => Promise<void>;
      }
    | undefined;

  const started = () => {
    if (!state) throw new Error(`${definition.name} is not started`);
    return state;
  };

  return {
    name: definition.name,
    get url() {
      return started().url;
    },
    get services() {
      return started().services;
    },
    get runtime() {
      return started().runtime;
    },
    metrics() {
      const current = started();
      return {
        httpRequests: current.httpRequests(),
        databaseQueries: current.runtime.db.queryCount,
        databaseRoundTrips: current.runtime.db.roundTrips,
        subscriptions: current.subscriptions?.metrics() ?? { active: 0, opened: 0, connections: 0 },
      };
    },

    async start() {
      const stopTracing = startTracing(config, `saldo-${definition.name}`, logger);
      const db = await ShardedDatabase.open(shardingConfig(config), withEventTables(definition.shardSchema), logger);
      const relay = new OutboxRelay({
        sources: outboxDatabases(db),
        bus: deps.bus,
        logger,
        pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
        observeLag: relayLagObserver(metrics),
      });
      const identity = await IdentityVerifier.fromPem(config.IDENTITY_PUBLIC_KEY, { maxLifetimeSeconds: config.IDENTITY_TTL_SECONDS });
      const jobs = new JobQueue({
        url: config.CONTROL_DATABASE_URL,
        name: definition.name,
        logger,
        settings: jobSettings(config),
        entityManagers: () => db.requestContextManagers(),
        ...(deps.jobClock ? { clock: deps.jobClock } : {}),
      });
      try {
        await jobs.start([...(definition.jobs?.queues ?? []), SHARD_MOVE_QUEUE, SHARD_REBALANCE_QUEUE, OUTBOX_RETENTION_QUEUE]);
      } catch (error) {
        await db.close();
        throw error;
      }
      try {
        const runtime: SubgraphRuntime<C> = { config, db, bus: deps.bus, relay, logger, identity, jobs, metrics };
        const services = definition.createServices(runtime);
        const unsubscribes = [subscribeTenantRegistry(definition.name, runtime), ...(definition.subscribe?.(services, runtime) ?? [])];
        const { schema } = await definition.buildSchema();
        const shardAdministration = new ShardAdministration(definition.name, db, logger, {
          schedule: scheduleShardMove(jobs),
          // The fence waits for the tenant's events to leave the source's outbox: publish them now, not at the next poll.
          mover: {
            drainOutbox: () => relay.flush(),
            graceMs: config.SHARD_MOVE_GRACE_SECONDS * 1000,
            copyPace: { maxRowsPerS: config.SHARD_MOVE_COPY_MAX_ROWS_PER_S, minRowsPerS: config.SHARD_MOVE_COPY_MIN_ROWS_PER_S },
          },
          rebalance: { threshold: config.SHARD_REBALANCE_THRESHOLD, maxConcurrentMoves: config.SHARD_REBALANCE_MAX_CONCURRENT_MOVES },
        });

        const http = createHttpService({ name: definition.name, logger, readinessChecks: { databases: () => db.ping() } });
        const apollo = new ApolloServer<SubgraphContext<S>>({
          schema,
          logger: variadicLogger(logger),
          // Shutdown is ours (stopOnSignals in main.ts, in order); Apollo's own handlers would race it.
          stopOnTerminationSignals: false,
          plugins: [
            ApolloServerPluginDrainHttpServer({ httpServer: http.server }),
            ApolloServerPluginLandingPageDisabled(),
            ApolloServerPluginCacheControlDisabled(),
            noStore,
            { requestDidStart: async () => refuseUnsafeInput },
          ],
          formatError: createErrorFormatter(logger),
          includeStacktraceInErrorResponses: false,
        });
        await apollo.start();
        const requestContext = (caller: Identity): SubgraphContext<S> => ({
          ...createRequestContext(caller, (tenantIds) => db.directory.partnersOf(tenantIds)),
          services,
          shardAdministration,
        });
        definition.configureHttp?.(http.app, services, runtime);
        // The gateway's requests (JSON POSTs) skip Express; the route below serves everything else the same way.
        http.rawRoute(
          '/graphql',
          graphqlHttpHandler({ apollo, identity, context: requestContext, limitBytes: GRAPHQL_BODY_LIMIT_BYTES, logger, service: definition.name }),
        );
        http.app.use(
          '/graphql',
          // Nothing reaches GraphQL (not even _service or _entities) without an identity the gateway signed.
          async (req, res, next) => {
            try {
              const caller = await identity.verify(req.header(IDENTITY_HEADER));
              res.locals['identity'] = caller;
              void serveObserved(definition.name, req, res, 'tenantId' in caller ? caller.tenantId : undefined, async () => next());
            } catch (error) {
              res.status(401).json({ errors: [{ message: (error as Error).message, extensions: { code: 'UNAUTHENTICATED' } }] });
            }
          },
          express.json({ limit: GRAPHQL_BODY_LIMIT_BYTES }),
          expressMiddleware(apollo, { context: async ({ res }) => requestContext(res.locals['identity'] as Identity) }),
        );
        // Subscription fields are served over graphql-ws on the same server and path (the WebSocket upgrade of
        // /graphql), with the same identity verification and request context as HTTP.
        const subscriptions = schema.getSubscriptionType()
          ? serveSubscriptions({
              server: http.server,
              path: '/graphql',
              schema,
              identity,
              logger,
              // One context serves every event of a subscription: its loaders must not remember the previous event's data.
              context: (caller) => ({
                ...createRequestContext(caller, (tenantIds) => db.directory.partnersOf(tenantIds), undefined, { cacheLoaders: false }),
                services,
                shardAdministration,
              }),
            })
          : undefined;
        metrics.serve(http);
        subgraphGauges(metrics, { db, bus: deps.bus, jobs, subscriptions: () => subscriptions?.metrics() ?? { active: 0, connections: 0 } });
        const url = await http.listen(config.PORT, config.HOST);
        relay.start();
        const stopBackground = (await definition.start?.(services, runtime, { url })) ?? (async () => {});
        // Every schedule at once: the queue drops schedules of its queues that are not in the list.
        await jobs.schedule([
          ...(definition.jobs?.schedules?.(runtime) ?? []),
          ...(config.SHARD_REBALANCE_AUTO ? [shardRebalanceSchedule(config.SHARD_REBALANCE_CRON)] : []),
          ...outboxRetentionSchedules(outboxRetentionSettings(config), config.OUTBOX_RETENTION_CRON),
        ]);
        for (const worker of definition.jobs?.workers?.(services, runtime) ?? []) await jobs.work(worker);
        await jobs.work(shardMoveWorker(() => shardAdministration, jobs));
        await jobs.work(shardRebalanceWorker(() => shardAdministration));
        await jobs.work(outboxRetentionWorker(db, outboxRetentionSettings(config), metrics));
        logger.info('listening', { url: `${url}/graphql`, shards: db.shardIds.length });

        state = {
          url,
          services,
          runtime,
          httpRequests: () => http.requestCount,
          subscriptions,
          stop: async () => {
            // Subscribers are told first (1001, Going away: the gateway subscribes again elsewhere or after restart).
            await subscriptions?.close();
            // Consumers stop first and finish the event in hand while the databases are still open.
            await Promise.all(unsubscribes.map((unsubscribe) => unsubscribe()));
            await apollo.stop();
            await http.close();
            // Background work that sends jobs finishes while the job queue still runs (nothing sends to a stopped queue).
            await definition.quiesce?.(services, runtime);
            // Workers finish the jobs in hand (bounded) while what they use (background services, databases) still runs.
            await jobs.stop();
            await stopBackground();
            await relay.stop();
            await db.close();
            await stopTracing();
          },
        };
      } catch (error) {
        // A start that failed half-way leaves nothing running (pg-boss's timers would keep the process alive).
        await jobs.stop();
        await relay.stop();
        await db.close();
        await stopTracing();
        throw error;
      }
    },

    async stop() {
      if (!state) return;
      const { stop } = state;
      state = undefined;
      await stop();
      logger.info('stopped');
    },
  };
}
