import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { OutboxRelay, type EventBus } from '@saldo/events';
import { subscribeTenantRegistry } from './tenant-registry.js';
import { PLATFORM_OPERATOR, createRequestContext, type RequestContext, type SubgraphSchema } from '@saldo/graphql';
import { createHttpService, variadicLogger, type Logger, type Service } from '@saldo/service';
import { ShardedDatabase, type ShardedSchema } from '@saldo/sharding';
import { shardingConfig, type SubgraphConfig } from './config.js';
import { createErrorFormatter } from './format-error.js';

/** What resolvers receive: the request context seam plus the subgraph's domain services. */
export type SubgraphContext<S> = RequestContext & { readonly services: S };

export interface SubgraphRuntime {
  db: ShardedDatabase;
  bus: EventBus;
  relay: OutboxRelay;
  logger: Logger;
}

/** A subgraph is its domain: schema classes, shard schema, services, and event consumers. */
export interface SubgraphDefinition<S> {
  name: string;
  shardSchema: ShardedSchema;
  buildSchema(): Promise<SubgraphSchema>;
  createServices(runtime: SubgraphRuntime): S;
  /** Subscribes the subgraph's event consumers; returns unsubscribe functions. */
  subscribe?(services: S, runtime: SubgraphRuntime): Array<() => void>;
}

export interface SubgraphService<S> extends Service {
  /** Base URL once started; GraphQL is at `${url}/graphql`. */
  readonly url: string;
  readonly services: S;
  readonly runtime: SubgraphRuntime;
  /** Round trips so far: HTTP requests served and SQL statements sent. */
  metrics(): { httpRequests: number; databaseQueries: number };
}

/**
 * Builds a runnable subgraph: opens and migrates its shards, serves Apollo Server on Express with
 * /health and /ready, relays its outbox, and shuts down in reverse order.
 */
export function createSubgraphService<S>(
  definition: SubgraphDefinition<S>,
  config: SubgraphConfig,
  deps: { bus: EventBus; logger: Logger },
): SubgraphService<S> {
  const logger = deps.logger.child(definition.name);
  let state:
    | { url: string; services: S; runtime: SubgraphRuntime; httpRequests: () => number; stop: () => Promise<void> }
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
      return { httpRequests: current.httpRequests(), databaseQueries: current.runtime.db.queryCount };
    },

    async start() {
      const db = await ShardedDatabase.open(shardingConfig(config), definition.shardSchema, logger);
      const relay = new OutboxRelay({
        sources: db.shardIds.map((shardId) => ({ name: `shard-${shardId}`, em: () => db.em(shardId) })),
        bus: deps.bus,
        logger,
        pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
      });
      const runtime: SubgraphRuntime = { db, bus: deps.bus, relay, logger };
      const services = definition.createServices(runtime);
      const unsubscribes = [subscribeTenantRegistry(definition.name, runtime), ...(definition.subscribe?.(services, runtime) ?? [])];
      const { schema } = await definition.buildSchema();

      const http = createHttpService({ name: definition.name, logger, readinessChecks: { databases: () => db.ping() } });
      const apollo = new ApolloServer<SubgraphContext<S>>({
        schema,
        logger: variadicLogger(logger),
        // Shutdown is ours (stopOnSignals in main.ts, in order); Apollo's own handlers would race it.
        stopOnTerminationSignals: false,
        plugins: [ApolloServerPluginDrainHttpServer({ httpServer: http.server }), ApolloServerPluginLandingPageDisabled()],
        formatError: createErrorFormatter(logger),
        includeStacktraceInErrorResponses: false,
      });
      await apollo.start();
      http.app.use(
        '/graphql',
        express.json({ limit: '1mb' }),
        expressMiddleware(apollo, {
          context: async () => ({ ...createRequestContext(PLATFORM_OPERATOR, (tenantIds) => db.directory.partnersOf(tenantIds)), services }),
        }),
      );
      const url = await http.listen(config.PORT, config.HOST);
      relay.start();
      logger.info('listening', { url: `${url}/graphql`, shards: db.shardIds.length });

      state = {
        url,
        services,
        runtime,
        httpRequests: () => http.requestCount,
        stop: async () => {
          for (const unsubscribe of unsubscribes) unsubscribe();
          await apollo.stop();
          await http.close();
          await relay.stop();
          await db.close();
        },
      };
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
