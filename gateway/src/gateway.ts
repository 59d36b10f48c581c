import { readFile } from 'node:fs/promises';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginLandingPageLocalDefault,
  ApolloServerPluginLandingPageProductionDefault,
} from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express from 'express';
import { createHttpService, variadicLogger, type Logger, type Service } from '@saldo/service';
import type { GatewayConfig } from './config.js';

type SubgraphFetcher = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];

export interface GatewayService extends Service {
  /** Base URL once started; GraphQL (and Apollo Sandbox in a browser) at `${url}/graphql`. */
  readonly url: string;
}

/**
 * The one public endpoint: Apollo Gateway executing query plans over the subgraphs named in the
 * supergraph. It knows nothing about Saldo's types, so any composed supergraph can be served.
 */
export function createGatewayService(config: GatewayConfig, deps: { logger: Logger }): GatewayService {
  const logger = deps.logger.child('gateway');
  const production = config.NODE_ENV === 'production';
  const managed = Boolean(config.APOLLO_KEY && config.APOLLO_GRAPH_REF);
  let running: { url: string; stop: () => Promise<void> } | undefined;

  return {
    name: 'gateway',
    get url() {
      if (!running) throw new Error('gateway is not started');
      return running.url;
    },

    async start() {
      const supergraphSdl = managed ? undefined : await readFile(config.SUPERGRAPH_PATH as string, 'utf8');
      const gateway = new ApolloGateway({
        ...(supergraphSdl ? { supergraphSdl } : {}),
        buildService: ({ name, url }) => {
          const target = config.subgraphUrls[name] ?? url;
          logger.debug('subgraph route', { subgraph: name, url: target });
          // Node's own fetch (undici, keep-alive pool) instead of the default make-fetch-happen, whose
          // HTTP-cache machinery costs more per subgraph call than the call itself.
          return new RemoteGraphQLDataSource({ url: target, fetcher: fetch as unknown as SubgraphFetcher });
        },
        logger: variadicLogger(logger),
      });

      const http = createHttpService({ name: 'gateway', logger });
      const apollo = new ApolloServer({
        gateway,
        logger: variadicLogger(logger),
        // Shutdown is ours (stopOnSignals in main.ts, in order); Apollo's own handlers would race it.
        stopOnTerminationSignals: false,
        introspection: config.INTROSPECTION ?? !production,
        csrfPrevention: true,
        includeStacktraceInErrorResponses: false,
        ...(managed ? { apollo: { key: config.APOLLO_KEY, graphRef: config.APOLLO_GRAPH_REF } } : {}),
        plugins: [
          ApolloServerPluginDrainHttpServer({ httpServer: http.server }),
          production
            ? ApolloServerPluginLandingPageProductionDefault({ ...(managed ? { graphRef: config.APOLLO_GRAPH_REF } : {}), footer: false })
            : ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false }),
        ],
      });
      await apollo.start();
      http.app.use(
        '/graphql',
        cors({ origin: config.CORS_ORIGINS === '*' ? true : config.CORS_ORIGINS.split(',').map((origin) => origin.trim()) }),
        express.json({ limit: config.BODY_LIMIT }),
        expressMiddleware(apollo),
      );
      const url = await http.listen(config.PORT, config.HOST);
      logger.info('listening', { url: `${url}/graphql`, supergraph: managed ? `uplink:${config.APOLLO_GRAPH_REF}` : config.SUPERGRAPH_PATH });
      running = {
        url,
        stop: async () => {
          await apollo.stop();
          await http.close();
        },
      };
    },

    async stop() {
      if (!running) return;
      const { stop } = running;
      running = undefined;
      await stop();
      logger.info('stopped');
    },
  };
}
