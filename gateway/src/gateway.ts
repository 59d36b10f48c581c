import { readFile } from 'node:fs/promises';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault, ApolloServerPluginLandingPageProductionDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import { mountDownloadProxy } from './downloads.js';
import { mountPortal } from './portal.js';
import { mountRootPage } from './root-page.js';
import express from 'express';
import { ANONYMOUS, ErrorCode, SaldoError, unsafeInputError, type Identity } from '@saldo/graphql';
import { IdentitySigner, PortalTokenVerifier } from '@saldo/identity';
import { ServiceMetrics, startTracing } from '@saldo/observability';
import { breakerSettings } from '@saldo/resilience';
import { createHttpService, currentLogContext, variadicLogger, type Logger, type Service } from '@saldo/service';
import { passApolloSpansThrough } from './apollo-spans.js';
import { ApiKeyClient } from './auth/api-key-client.js';
import { createAuthenticator, createSessionAuthenticator, type Credentials } from './auth/authenticate.js';
import { HostPartnerResolver } from './auth/custom-domains.js';
import { guardedFetch, outboundGuards } from './auth/outbound-guards.js';
import { IdentityForwardingDataSource } from './auth/identity-data-source.js';
import { SubgraphHttpClient } from './auth/subgraph-http.js';
import { requireAuthenticationPlugin } from './auth/require-authentication.js';
import { splitPemKeys, type GatewayConfig } from './config.js';
import { SubgraphQueryDedup, type SubgraphDedupCounts } from './dedup/index.js';
import { PersistedOperations, loadManifest } from './persisted-operations/index.js';
import {
  NO_COST_DIRECTIVES,
  costDirectivesFromSdl,
  createLimitsPlugin,
  createRateLimitPlugin,
  createRateLimiter,
  rateLimitKey,
  rateLimitedError,
  retryAfterSecondsOf,
  type CostDirectives,
} from './protection/index.js';
import { SubscriptionEngine, type SubscriptionMetrics } from './subscriptions/engine.js';
import { SSE_PATH, serveSubscriptionTransports, type SubscriptionTransports } from './subscriptions/transports.js';
import { gatewayGauges, jwksStalenessGauge, observeRequests, operationMetricsPlugin, subgraphFetchObserver, tagActiveSpan } from './observability.js';

/** Per-request context: the verified caller. */
export interface GatewayContext {
  identity: Identity;
  clientAddress: string;
}

export interface GatewayService extends Service {
  /** Base URL once started; GraphQL (and Apollo Sandbox in a browser) at `${url}/graphql`. */
  readonly url: string;
  /** Subscriptions served now and so far (graphql-ws on `/graphql`, SSE on `/graphql/stream`). */
  subscriptionMetrics(): SubscriptionMetrics & { connections: { webSocket: number; sse: number } };
  /**
   * Subgraph query fetches per subgraph: sent upstream, and shared with an identical one in flight (SUBGRAPH_QUERY_DEDUP;
   * `shared` stays 0 when it is off).
   */
  subgraphFetchMetrics(): Record<string, SubgraphDedupCounts & { inFlight: number }>;
  /** The gateway's Prometheus metrics (served at GET /metrics). */
  readonly metrics: ServiceMetrics;
}

/**
 * The one public endpoint: Apollo Gateway executing query plans over the subgraphs named in the
 * supergraph. It knows nothing about Saldo's types, so any composed supergraph can be served.
 */
export function createGatewayService(config: GatewayConfig, deps: { logger: Logger }): GatewayService {
  const logger = deps.logger.child('gateway');
  const metrics = new ServiceMetrics('gateway');
  const production = config.NODE_ENV === 'production';
  const managed = Boolean(config.APOLLO_KEY && config.APOLLO_GRAPH_REF);
  let running: { url: string; engine: SubscriptionEngine; transports: SubscriptionTransports; stop: () => Promise<void> } | undefined;
  // One deduplicator per subgraph name, kept across supergraph reloads (it holds only requests in flight and counters).
  const dedups = new Map<string, SubgraphQueryDedup>();
  const dedupFor = (name: string): SubgraphQueryDedup => {
    let dedup = dedups.get(name);
    if (!dedup) dedups.set(name, (dedup = new SubgraphQueryDedup(name, config.SUBGRAPH_QUERY_DEDUP)));
    return dedup;
  };

  return {
    name: 'gateway',
    metrics,
    get url() {
      if (!running) throw new Error('gateway is not started');
      return running.url;
    },

    subscriptionMetrics() {
      if (!running) throw new Error('gateway is not started');
      return { ...running.engine.metrics(), connections: running.transports.connections() };
    },

    subgraphFetchMetrics() {
      return Object.fromEntries([...dedups].map(([name, dedup]) => [name, dedup.metrics()]));
    },

    async start() {
      const stopTracing = startTracing(config, 'saldo-gateway', logger);
      const supergraphSdl = managed ? undefined : await readFile(config.SUPERGRAPH_PATH as string, 'utf8');
      const signer = await IdentitySigner.fromPem(config.IDENTITY_PRIVATE_KEY, config.IDENTITY_TTL_SECONDS);
      const outbound = outboundGuards(config);
      const credentialVerifiers = {
        portalTokens: config.JWT_ISSUER
          ? await PortalTokenVerifier.create({
              issuer: config.JWT_ISSUER,
              audience: config.JWT_AUDIENCE,
              ...(config.JWT_JWKS_URL
                ? {
                    jwksUrl: config.JWT_JWKS_URL,
                    jwksTimeoutMs: config.JWT_JWKS_TIMEOUT_MS,
                    jwksFetch: guardedFetch(outbound.jwks),
                    jwksCacheMaxAgeMs: config.JWT_JWKS_CACHE_MAX_AGE_MS,
                    jwksMaxStaleSeconds: config.JWT_JWKS_MAX_STALE_SECONDS,
                    log: logger.child('jwks'),
                  }
                : { publicKeysPem: splitPemKeys(config.JWT_PUBLIC_KEYS) }),
            })
          : undefined,
        apiKeys: config.API_KEY_VERIFY_URL
          ? new ApiKeyClient(config.API_KEY_VERIFY_URL, signer, config.API_KEY_CACHE_TTL_MS, logger.child('api-keys'), outbound.apiKeys)
          : undefined,
      };
      // Requests on a partner's custom domain (Host header) are narrowed to that partner in the forwarded identity.
      const hostPartners = config.CUSTOM_DOMAINS_URL
        ? new HostPartnerResolver(
            config.CUSTOM_DOMAINS_URL,
            signer,
            logger,
            { refreshMs: config.CUSTOM_DOMAINS_REFRESH_MS, missRefreshMs: 1000 },
            outbound.customDomains,
          )
        : undefined;
      const authenticateCredentials = createAuthenticator(credentialVerifiers);
      const authenticate = async (credentials: Credentials) => {
        const identity = await authenticateCredentials(credentials);
        return hostPartners ? hostPartners.scope(identity, credentials.host) : identity;
      };
      const authenticateSession = createSessionAuthenticator(credentialVerifiers);
      // One keep-alive client for every subgraph call: queries' fetches and subscriptions' entity fetches.
      const subgraphHttp = new SubgraphHttpClient(config.SUBGRAPH_TIMEOUT_MS, breakerSettings(config, 'SUBGRAPH'), subgraphFetchObserver(metrics));
      // Each subgraph's routing URL as last loaded (the download proxy forwards to one of them).
      const routes = new Map<string, string>();
      const subgraphUrl = (name: string, url: string | undefined): string => {
        const target = config.subgraphUrls[name] ?? url;
        if (!target) throw new Error(`No URL for subgraph ${name}: set SUBGRAPH_URL_${name.toUpperCase().replaceAll('-', '_')}`);
        routes.set(name, target);
        subgraphHttp.nameTarget(target, name);
        return target;
      };
      // Federated subscriptions (Apollo's gateway plans them but cannot execute them): planned over the same
      // supergraph, whenever the gateway (re)loads it.
      const engine = new SubscriptionEngine({
        signer,
        subgraphHttp,
        logger: logger.child('subscriptions'),
        subgraphUrl,
        bufferSize: config.SUBSCRIPTION_BUFFER,
        upstream: {
          keepAliveMs: config.SUBSCRIPTION_KEEPALIVE_MS,
          retry: { initialMs: 100, maxMs: 5_000, giveUpAfterMs: config.SUBSCRIPTION_UPSTREAM_RETRY_MS },
        },
      });
      passApolloSpansThrough();
      const gateway = new ApolloGateway({
        ...(supergraphSdl ? { supergraphSdl } : {}),
        buildService: ({ name, url }) => {
          const target = subgraphUrl(name, url);
          logger.debug('subgraph route', { subgraph: name, url: target });
          return new IdentityForwardingDataSource(target, signer, subgraphHttp, dedupFor(name));
        },
        logger: variadicLogger(logger),
      });
      // @cost / @listSize of the supergraph being served: Apollo's API schema (what plugins see) drops them.
      let costDirectives: CostDirectives = NO_COST_DIRECTIVES;
      gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
        try {
          costDirectives = costDirectivesFromSdl(coreSupergraphSdl);
        } catch (error) {
          logger.error('demand control: could not read @cost/@listSize from the supergraph; keeping the previous ones', { error });
        }
        try {
          engine.update(coreSupergraphSdl);
        } catch (error) {
          logger.error('subscriptions: could not load the supergraph; keeping the previous one', { error });
        }
      });

      const rateLimit = createRateLimiter(
        { ratePerMinute: config.RATE_LIMIT_PER_MINUTE, burst: config.RATE_LIMIT_BURST, redisUrl: config.REDIS_URL },
        { logger },
      );
      if (!(await rateLimit.ready())) logger.warn('rate limiter: Redis not reachable at start; limiting per process until it is');

      const persisted = new PersistedOperations({
        mode: config.PERSISTED_QUERIES,
        ...(config.PERSISTED_QUERIES === 'trusted' ? { manifest: await loadManifest(config.TRUSTED_DOCUMENTS_PATH!) } : {}),
        apqMaxEntries: config.APQ_CACHE_ENTRIES,
        apqTtlSeconds: config.APQ_TTL_SECONDS,
        redisUrl: config.REDIS_URL,
        logger: logger.child('persisted-operations'),
      });
      if (persisted.mode === 'trusted') logger.info('trusted documents only', { operations: persisted.trustedCount, manifest: config.TRUSTED_DOCUMENTS_PATH });

      const limits = {
        maxDepth: config.MAX_QUERY_DEPTH,
        maxAliases: config.MAX_ALIASES,
        maxCost: config.MAX_QUERY_COST,
        maxMutations: config.MAX_MUTATION_FIELDS,
      };
      const http = createHttpService({ name: 'gateway', logger });
      if (config.TRUST_PROXY) http.app.set('trust proxy', /^\d+$/.test(config.TRUST_PROXY) ? Number(config.TRUST_PROXY) : config.TRUST_PROXY);
      const apollo = new ApolloServer<GatewayContext>({
        gateway,
        logger: variadicLogger(logger),
        // Shutdown is ours (stopOnSignals in main.ts, in order); Apollo's own handlers would race it.
        stopOnTerminationSignals: false,
        introspection: config.INTROSPECTION ?? !production,
        // Where introspection is off, "Did you mean ...?" suggestions must not reveal the schema either.
        hideSchemaDetailsFromClientErrors: !(config.INTROSPECTION ?? !production),
        csrfPrevention: true,
        includeStacktraceInErrorResponses: false,
        // Persisted operations are resolved before Apollo (persisted-operations/): one implementation for HTTP,
        // WebSocket and SSE, and the trusted-documents mode.
        persistedQueries: false,
        ...(managed ? { apollo: { key: config.APOLLO_KEY, graphRef: config.APOLLO_GRAPH_REF } } : {}),
        plugins: [
          ApolloServerPluginDrainHttpServer({ httpServer: http.server }),
          createRateLimitPlugin<GatewayContext>({ limiter: rateLimit.limiter, keyOf: (ctx) => rateLimitKey(ctx.identity, ctx.clientAddress) }),
          requireAuthenticationPlugin<GatewayContext>(config.PUBLIC_ROOT_FIELDS),
          {
            // Apollo's gateway cannot execute subscriptions; point HTTP clients at the transports that can.
            async requestDidStart() {
              return {
                async didResolveOperation({ operation }) {
                  if (operation?.operation !== 'subscription') return;
                  throw new SaldoError(
                    ErrorCode.BadUserInput,
                    `Subscriptions run over graphql-ws (WebSocket upgrade of /graphql) or GraphQL over SSE (${SSE_PATH}), not plain HTTP.`,
                    { http: { status: 400 } },
                  );
                },
              };
            },
          },
          {
            // Control characters in variables or string literals: refused before any subgraph is asked (docs/security.md, 6).
            async requestDidStart() {
              return {
                async didResolveOperation({ document, operation, request }) {
                  const refused = unsafeInputError(document, operation, request.variables);
                  if (refused) throw refused;
                },
              };
            },
          },
          operationMetricsPlugin<GatewayContext>(metrics),
          createLimitsPlugin<GatewayContext>(limits, { directives: () => costDirectives, defaultListSize: config.DEFAULT_LIST_SIZE }),
          production
            ? ApolloServerPluginLandingPageProductionDefault({ ...(managed ? { graphRef: config.APOLLO_GRAPH_REF } : {}), footer: false })
            : ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false }),
        ],
      });
      await apollo.start();
      const corsMiddleware = cors({ origin: config.CORS_ORIGINS === '*' ? true : config.CORS_ORIGINS.split(',').map((origin) => origin.trim()) });
      // Before /graphql's middleware: its prefix would take /graphql/stream too.
      http.app.use(SSE_PATH, corsMiddleware, express.json({ limit: config.BODY_LIMIT }));
      const transports = serveSubscriptionTransports({
        server: http.server,
        app: http.app,
        path: '/graphql',
        engine,
        authenticate: async (credentials: Credentials) => {
          const session = await authenticateSession(credentials);
          return hostPartners ? { ...session, identity: await hostPartners.scope(session.identity, credentials.host) } : session;
        },
        apollo,
        limits,
        cost: { directives: () => costDirectives, defaultListSize: config.DEFAULT_LIST_SIZE },
        rateLimiter: rateLimit.limiter,
        logger: logger.child('subscriptions'),
        keepAliveMs: config.SUBSCRIPTION_KEEPALIVE_MS,
        persisted,
        hideSchemaDetails: !(config.INTROSPECTION ?? !production),
        webSocketLimits: {
          maxMessageBytes: config.WS_MAX_MESSAGE_BYTES,
          maxConnectionsPerAddress: config.WS_MAX_CONNECTIONS_PER_ADDRESS,
          maxConnectionsPerCredential: config.WS_MAX_CONNECTIONS_PER_CREDENTIAL,
          maxSubscriptionsPerConnection: config.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
          connectionInitTimeoutMs: config.WS_CONNECTION_INIT_TIMEOUT_MS,
          anonymousGraceMs: config.WS_ANONYMOUS_GRACE_MS,
        },
      });
      // Signed document downloads (billing): public links on this origin.
      // GET / leads to the graph, health and docs instead of a 404.
      mountRootPage(http.app, { production, portal: Boolean(config.PORTAL_DIR) });
      if (config.PORTAL_DIR) {
        await mountPortal(
          http.app,
          config.PORTAL_DIR,
          {
            graphqlPath: '/graphql',
            oidc: {
              issuer: config.JWT_ISSUER ?? null,
              clientId: config.PORTAL_OIDC_CLIENT_ID,
              scope: config.PORTAL_OIDC_SCOPE,
              authorizationEndpoint: config.PORTAL_OIDC_AUTHORIZATION_URL ?? null,
              tokenEndpoint: config.PORTAL_OIDC_TOKEN_URL ?? null,
              endSessionEndpoint: config.PORTAL_OIDC_END_SESSION_URL ?? null,
            },
            development: config.PORTAL_DEVELOPMENT_SIGN_IN,
          },
          logger.child('portal'),
        );
      }
      mountDownloadProxy(
        http.app,
        '/documents',
        () => routes.get(config.DOWNLOADS_SUBGRAPH) ?? config.subgraphUrls[config.DOWNLOADS_SUBGRAPH],
        logger.child('downloads'),
      );
      http.app.use(
        '/graphql',
        observeRequests(),
        corsMiddleware,
        express.json({ limit: config.BODY_LIMIT }),
        persisted.middleware(),
        expressMiddleware(apollo, {
          context: async ({ req }) => {
            const clientAddress = req.ip ?? 'unknown';
            try {
              const identity = await authenticate({ authorization: req.header('authorization'), apiKey: req.header('x-api-key'), host: req.header('host') });
              // The request's log lines (and its trace) name the tenant the caller acts for.
              if ('tenantId' in identity && identity.tenantId) {
                const observed = currentLogContext();
                if (observed) observed.tenantId = identity.tenantId;
                tagActiveSpan('saldo.tenant_id', identity.tenantId);
              }
              return { identity, clientAddress };
            } catch (error) {
              // Failed logins spend the client address's budget too, so guessing keys is rate limited.
              const decision = await rateLimit.limiter.consume(rateLimitKey(ANONYMOUS, clientAddress));
              if (!decision.allowed) throw rateLimitedError(retryAfterSecondsOf(decision.retryAfterMs));
              throw error;
            }
          },
        }),
      );
      metrics.serve(http);
      gatewayGauges(metrics, () => running && { engine: running.engine, transports: running.transports });
      jwksStalenessGauge(metrics, credentialVerifiers.portalTokens);
      const url = await http.listen(config.PORT, config.HOST);
      logger.info('listening', { url: `${url}/graphql`, supergraph: managed ? `uplink:${config.APOLLO_GRAPH_REF}` : config.SUPERGRAPH_PATH });
      running = {
        url,
        engine,
        transports,
        stop: async () => {
          // Subscribers first: WebSocket clients get 1001 and SSE streams end, so they reconnect elsewhere; then the
          // upstream subscriptions close and Apollo drains the HTTP requests still in flight.
          await transports.close();
          await engine.close();
          await apollo.stop();
          await http.close();
          subgraphHttp.close();
          credentialVerifiers.apiKeys?.close();
          hostPartners?.close();
          outbound.dispose();
          await rateLimit.close();
          await persisted.close();
          await stopTracing();
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
