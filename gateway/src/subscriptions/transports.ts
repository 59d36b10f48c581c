import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import type { Express, Request, Response } from 'express';
import {
  GraphQLError,
  Kind,
  getOperationAST,
  parse,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type OperationDefinitionNode,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createHandler } from 'graphql-sse/lib/use/express';
import { WebSocketServer, type WebSocket } from 'ws';
import { ANONYMOUS, ErrorCode, unsafeInputError, type Identity } from '@saldo/graphql';
import { isDependencyUnavailable } from '@saldo/resilience';
import type { Logger } from '@saldo/service';
import type { Credentials, Session } from '../auth/authenticate.js';
import {
  analyzeOperation,
  checkLimits,
  rateLimitKey,
  rateLimitedError,
  retryAfterSecondsOf,
  type CostDirectives,
  type QueryLimits,
  type RateLimiter,
} from '../protection/index.js';
import { SubscriptionErrorCode, type SubscriptionEngine } from './engine.js';

/** Where GraphQL over SSE is served (graphql-sse protocol, distinct connections mode). */
export const SSE_PATH = '/graphql/stream';

/** What a transport knows about its caller. */
interface Caller extends Session {
  clientAddress: string;
  /** What the caller authenticated with: every operation on a long-lived connection checks it again (cached like HTTP). */
  credentials: Credentials;
  /** Aborted (reason: the GraphQLError to end subscriptions with) when the credential stops being valid. */
  revoked: AbortController;
}

/** The execution context of one operation arriving over WebSocket or SSE. */
interface TransportContext {
  caller: Caller;
  query: string;
}

import type { OperationRequest, PersistedOperations } from '../persisted-operations/index.js';

export interface SubscriptionTransportsOptions {
  server: Server;
  app: Express;
  /** The HTTP path of GraphQL; graphql-ws is served on its WebSocket upgrade. */
  path: string;
  engine: SubscriptionEngine;
  authenticate(credentials: Credentials): Promise<Session>;
  /** Queries and mutations sent over WebSocket or SSE run through Apollo Server like HTTP requests (same plugins). */
  apollo: ApolloServer<{ identity: Identity; clientAddress: string }>;
  limits: QueryLimits;
  /** The supergraph's @cost / @listSize (the same estimate as over HTTP), and the size assumed for other lists. */
  cost?: { directives: () => CostDirectives; defaultListSize: number };
  rateLimiter: RateLimiter;
  logger: Logger;
  /** WebSocket ping interval (ms); SSE streams get a comment line every 12 s (graphql-sse). */
  keepAliveMs: number;
  /**
   * Persisted operations (APQ hashes, trusted documents): the query text to run, or the refusal. Operations over
   * WebSocket and SSE obey the same manifest as HTTP.
   */
  persisted?: PersistedOperations;
  /** Bounds of the WebSocket transport (docs/security.md, attack 4). */
  webSocketLimits: WebSocketLimits;
  /** Introspection is off: validation errors lose their "Did you mean ...?" suggestions (as Apollo Server's do). */
  hideSchemaDetails?: boolean;
}

export interface WebSocketLimits {
  /** Largest message accepted; a larger one closes the socket with 1009 (Message Too Big) before it is read. */
  maxMessageBytes: number;
  /**
   * Connections per client address that have not (yet) authenticated as someone: before `connection_init` or
   * anonymous. One more is closed with 1013 (Try Again Later).
   */
  maxConnectionsPerAddress: number;
  /** Connections per credential (the rate-limit key: a partner, or one user of one tenant); one more gets 1013. */
  maxConnectionsPerCredential: number;
  /** Subscriptions running at once on one connection; one more is refused with TOO_MANY_SUBSCRIPTIONS. */
  maxSubscriptionsPerConnection: number;
  /** A connection that sends no `connection_init` within this is closed with 4408 (graphql-ws). */
  connectionInitTimeoutMs: number;
  /** Anonymous connections (which may only introspect) are closed with 4401 after this. */
  anonymousGraceMs: number;
}

/** The close code of a connection refused for a limit: standard "Try Again Later" (graphql-ws clients retry with backoff). */
export const TRY_AGAIN_LATER = 1013;

export interface SubscriptionTransports {
  /** WebSocket connections and SSE streams open now. */
  connections(): { webSocket: number; sse: number };
  /**
   * Graceful close: WebSocket clients get 1001 (Going away) and SSE streams end; graphql-ws and graphql-sse clients
   * treat both as a dropped connection and reconnect (to another instance, or to this one after its restart).
   */
  close(): Promise<void>;
}

/**
 * The client-facing subscription transports, on the gateway's HTTP server:
 *
 * - graphql-ws (`graphql-transport-ws`) on the WebSocket upgrade of `/graphql`. Credentials in the `connection_init`
 *   payload (`{ "authorization": "Bearer ..." }` or `{ "x-api-key": "saldo_pk_..." }`), or as headers of the upgrade
 *   request. Bad credentials close with 4401; when a bearer token expires its subscriptions end with
 *   UNAUTHENTICATED (reason TOKEN_EXPIRED) and the connection closes with 4403 (graphql-ws clients reconnect and may
 *   send a fresh token). Queries and mutations work on the socket too. Every operation re-checks the credential as an
 *   HTTP request would; an API key in use is watched, and when it is revoked (or its rotation grace ends) its
 *   subscriptions end with UNAUTHENTICATED (reason CREDENTIAL_REVOKED) and the connection closes with 4403.
 * - GraphQL over SSE (graphql-sse protocol, distinct connections mode: one stream per operation) at
 *   `/graphql/stream`, credentials in the request headers; a revoked API key ends its streams the same way.
 *
 * Every operation passes the same checks as over HTTP: anonymous callers may only introspect, depth/alias/cost
 * limits, and the rate limit (a subscription spends one token when it starts).
 */
export function serveSubscriptionTransports(options: SubscriptionTransportsOptions): SubscriptionTransports {
  const { engine, logger } = options;
  const sseResponses = new Set<ServerResponse>();

  /** Parses, validates and checks an operation; errors are returned, not thrown. */
  const prepare = async (
    payload: { query?: unknown; operationName?: unknown; variables?: unknown },
    caller: Caller,
  ): Promise<{ args: ExecutionArgs; operation: OperationDefinitionNode } | { errors: GraphQLError[] }> => {
    const invalid = await stillValid(caller);
    if (invalid) return { errors: [invalid] };
    if (options.persisted) {
      const resolution = await options.persisted.resolve(payload as OperationRequest);
      if ('error' in resolution) return { errors: [new GraphQLError(resolution.error.message, { extensions: { code: resolution.error.code } })] };
      if (resolution.query !== undefined) payload = { ...payload, query: resolution.query };
    }
    const schema = engine.schema;
    if (!schema) return { errors: [new GraphQLError('The gateway has not loaded its supergraph yet.', { extensions: { code: ErrorCode.Internal } })] };
    if (typeof payload.query !== 'string') return { errors: [new GraphQLError('A query is required.', { extensions: { code: ErrorCode.BadUserInput } })] };
    let document: DocumentNode;
    try {
      document = parse(payload.query);
    } catch (error) {
      return { errors: [error instanceof GraphQLError ? error : new GraphQLError(String(error))] };
    }
    const errors = validate(schema, document);
    if (errors.length > 0) return { errors: options.hideSchemaDetails ? errors.map(withoutSuggestions) : [...errors] };
    const operationName = typeof payload.operationName === 'string' ? payload.operationName : null;
    const variables = payload.variables && typeof payload.variables === 'object' ? (payload.variables as Record<string, unknown>) : {};
    const operation = getOperationAST(document, operationName);
    if (!operation) return { errors: [new GraphQLError('Unable to identify the operation.', { extensions: { code: ErrorCode.BadUserInput } })] };
    const unprintable = unsafeInputError(document, operation, variables);
    if (unprintable) return { errors: [unprintable] };
    const args: ExecutionArgs = {
      schema,
      document,
      operationName,
      variableValues: variables,
      contextValue: { caller, query: payload.query } satisfies TransportContext,
    };
    if (operation.operation !== 'subscription') return { args, operation }; // Apollo Server's plugins check the rest.

    if (caller.identity.role === 'anonymous') {
      return {
        errors: [new GraphQLError('Authentication is required: send Authorization: Bearer <token>.', { extensions: { code: ErrorCode.Unauthenticated } })],
      };
    }
    const cost = options.cost ? { directives: options.cost.directives(), defaultListSize: options.cost.defaultListSize } : {};
    const limited = checkLimits(analyzeOperation(schema, document, { operation, variables, ...cost }), options.limits);
    if (limited) return { errors: [limited] };
    try {
      const decision = await options.rateLimiter.consume(rateLimitKey(caller.identity, caller.clientAddress));
      if (!decision.allowed) return { errors: [rateLimitedError(retryAfterSecondsOf(decision.retryAfterMs))] };
    } catch (error) {
      logger.warn('rate limiter failed, subscription allowed', { error });
    }
    return { args, operation };
  };

  /** Queries and mutations: through Apollo Server, exactly like an HTTP request. */
  const execute = async (args: ExecutionArgs): Promise<ExecutionResult> => {
    const context = args.contextValue as TransportContext;
    const response = await options.apollo.executeOperation(
      {
        query: context.query,
        variables: (args.variableValues ?? {}) as Record<string, unknown>,
        ...(args.operationName ? { operationName: args.operationName } : {}),
      },
      { contextValue: { identity: context.caller.identity, clientAddress: context.caller.clientAddress } },
    );
    if (response.body.kind !== 'single') return { errors: [new GraphQLError('Incremental delivery is not supported here.')] };
    const { data, errors, extensions } = response.body.singleResult;
    return {
      ...(data !== undefined ? { data: data as ExecutionResult['data'] } : {}),
      ...(errors ? { errors: errors.map((error) => new GraphQLError(error.message, { path: error.path, extensions: error.extensions })) } : {}),
      ...(extensions ? { extensions } : {}),
    };
  };

  const subscribe = (args: ExecutionArgs) => {
    const { caller } = args.contextValue as TransportContext;
    return engine.subscribe({
      document: args.document,
      operationName: args.operationName,
      variables: args.variableValues as Record<string, unknown> | null | undefined,
      identity: caller.identity,
      expiresAt: caller.expiresAt,
      signal: caller.revoked.signal,
    });
  };

  /**
   * Null while the caller's credential is still valid: its token has not expired, its API key was not found revoked by
   * the watch, and the key still verifies (through the gateway's cache, exactly as an HTTP request would).
   */
  const stillValid = async (caller: Caller): Promise<GraphQLError | null> => {
    if (caller.revoked.signal.aborted) return caller.revoked.signal.reason as GraphQLError;
    if (caller.expiresAt !== undefined && caller.expiresAt <= Date.now()) return tokenExpired(caller.expiresAt);
    if (!caller.watch) return null;
    try {
      await options.authenticate(caller.credentials);
      return null;
    } catch {
      const error = credentialRevoked();
      caller.revoked.abort(error);
      return error;
    }
  };

  /** Watches an API key caller's key: when it stops being valid, `revoked` aborts (ending its subscriptions) and `then` runs. */
  const watchCredential = (caller: Caller, then: () => void): (() => void) => {
    const abort = () => {
      if (!caller.revoked.signal.aborted) caller.revoked.abort(credentialRevoked());
    };
    if (caller.revoked.signal.aborted) then();
    else caller.revoked.signal.addEventListener('abort', then, { once: true });
    const unwatch = caller.watch ? caller.watch(abort) : () => undefined;
    return () => {
      caller.revoked.signal.removeEventListener('abort', then);
      unwatch();
    };
  };

  const authenticateCaller = async (credentials: Credentials, clientAddress: string): Promise<Caller> => {
    try {
      return { ...(await options.authenticate(credentials)), clientAddress, credentials, revoked: new AbortController() };
    } catch (error) {
      // Failed logins spend the client address's budget, as over HTTP.
      await options.rateLimiter.consume(rateLimitKey(ANONYMOUS, clientAddress)).catch(() => undefined);
      throw error;
    }
  };

  // ---- graphql-ws on the upgrade of /graphql -----------------------------------------------------------------
  const limits = options.webSocketLimits;
  // Upgrades are routed here by hand rather than with ws's `server` option: that option also re-emits the HTTP
  // server's own errors (a taken port at listen) on the WebSocket server, where graphql-ws prints them as an
  // "internal error" with a stack trace; the listen failure is the caller's to report.
  const wsServer = new WebSocketServer({ noServer: true, path: options.path, maxPayload: limits.maxMessageBytes });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    wsServer.handleUpgrade(request, socket, head, (client) => wsServer.emit('connection', client, request));
  };
  options.server.on('upgrade', onUpgrade);
  const connectionTimers = new Set<NodeJS.Timeout>();
  // Who each socket counts against: its client address until it authenticates as someone, then its credential.
  const perAddress = new Map<string, number>();
  const perCredential = new Map<string, number>();
  const countedAs = new WeakMap<WebSocket, { map: Map<string, number>; key: string }>();
  const subscriptionsOf = new WeakMap<object, Set<string>>();
  const uncount = (socket: WebSocket): void => {
    const counted = countedAs.get(socket);
    if (!counted) return;
    countedAs.delete(socket);
    const left = (counted.map.get(counted.key) ?? 1) - 1;
    if (left > 0) counted.map.set(counted.key, left);
    else counted.map.delete(counted.key);
  };
  /** Counts the socket against `key`; false (and the socket closed with 1013) when that is over `max`. */
  const count = (socket: WebSocket, map: Map<string, number>, key: string, max: number, what: string): boolean => {
    uncount(socket);
    const now = (map.get(key) ?? 0) + 1;
    map.set(key, now);
    countedAs.set(socket, { map, key });
    if (now <= max) return true;
    socket.close(TRY_AGAIN_LATER, `Too many connections ${what}`);
    return false;
  };
  const clientAddressOf = (request: IncomingMessage): string => forwardedClientAddress(request, options.app.get('trust proxy fn') as TrustProxy | undefined);
  wsServer.on('connection', (socket, request) => {
    socket.once('close', () => uncount(socket));
    count(socket, perAddress, clientAddressOf(request), limits.maxConnectionsPerAddress, 'from this address');
  });
  const ws = useServer<Record<string, unknown>, { caller: Caller }>(
    {
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const headers = ctx.extra.request.headers;
        const credentials: Credentials = {
          authorization: stringParam(params['authorization'] ?? params['Authorization']) ?? header(headers['authorization']),
          apiKey: stringParam(params['x-api-key'] ?? params['apiKey']) ?? header(headers['x-api-key']),
          host: header(headers['host']),
        };
        let caller: Caller;
        try {
          caller = await authenticateCaller(credentials, clientAddressOf(ctx.extra.request));
        } catch (error) {
          const message = error instanceof Error ? error.message : 'bad credentials';
          // The identity provider's keys or the API key owner unreachable: the credentials may well be good, so not the
          // final 4401 but 1013 Try Again Later, which graphql-ws clients retry.
          if (isDependencyUnavailable(error)) ctx.extra.socket.close(TRY_AGAIN_LATER, limitReason(`Try again later: ${message}`));
          // 4401 is final for graphql-ws clients: the same credentials would fail again.
          else ctx.extra.socket.close(CloseCode.Unauthorized, limitReason(`Unauthorized: ${message}`));
          return false;
        }
        (ctx.extra as { caller?: Caller }).caller = caller;
        if (caller.identity.role === 'anonymous') {
          // Anonymous connections may introspect for a moment, and keep counting against their address.
          const grace = setTimeout(
            () => ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized: anonymous connections are closed after a short grace'),
            limits.anonymousGraceMs,
          );
          grace.unref();
          ctx.extra.socket.once('close', () => clearTimeout(grace));
        } else if (
          !count(
            ctx.extra.socket,
            perCredential,
            rateLimitKey(caller.identity, caller.clientAddress),
            limits.maxConnectionsPerCredential,
            'for this credential',
          )
        ) {
          return false;
        }
        // A revoked API key (or a rotated one whose grace ended) ends the subscriptions (CREDENTIAL_REVOKED), then the
        // connection (4403); the client's reconnect with the same key is refused with 4401.
        let closing: NodeJS.Timeout | undefined;
        const unwatch = watchCredential(caller, () => {
          closing ??= setTimeout(() => ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden: credential revoked'), 250);
        });
        ctx.extra.socket.once('close', () => {
          unwatch();
          if (closing) clearTimeout(closing);
        });
        if (caller.expiresAt !== undefined) {
          // The subscriptions end themselves at expiry (TOKEN_EXPIRED); then the connection goes, so a client that
          // refreshes its token in connectionParams reconnects with the new one.
          const timer = setTimeout(
            () => {
              connectionTimers.delete(timer);
              ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden: token expired');
            },
            Math.max(0, Math.min(caller.expiresAt - Date.now() + 250, 2 ** 31 - 1)),
          );
          timer.unref();
          connectionTimers.add(timer);
          ctx.extra.socket.once('close', () => {
            clearTimeout(timer);
            connectionTimers.delete(timer);
          });
        }
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const caller = (ctx.extra as { caller?: Caller }).caller;
        if (!caller) return [new GraphQLError('Not connected.', { extensions: { code: ErrorCode.Unauthenticated } })];
        const prepared = await prepare(payload, caller);
        if ('errors' in prepared) return prepared.errors;
        if (prepared.operation.operation === 'subscription') {
          let running = subscriptionsOf.get(ctx);
          if (!running) subscriptionsOf.set(ctx, (running = new Set()));
          if (running.size >= limits.maxSubscriptionsPerConnection) {
            return [
              new GraphQLError(`At most ${limits.maxSubscriptionsPerConnection} subscriptions may run on one connection; end one or open another connection.`, {
                extensions: { code: SubscriptionErrorCode.TooManySubscriptions },
              }),
            ];
          }
          running.add(id);
        }
        return prepared.args;
      },
      onComplete: (ctx, id) => {
        subscriptionsOf.get(ctx)?.delete(id);
      },
      execute,
      subscribe: (args) => subscribe(args),
      connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
    },
    wsServer,
    options.keepAliveMs,
  );

  // ---- GraphQL over SSE at /graphql/stream --------------------------------------------------------------------
  const sse = createHandler({
    onSubscribe: async (req, params) => {
      const raw = req.raw as Request;
      let caller: Caller;
      try {
        caller = await authenticateCaller(
          { authorization: raw.header('authorization'), apiKey: raw.header('x-api-key'), host: raw.header('host') },
          raw.ip ?? 'unknown',
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : 'bad credentials';
        if (isDependencyUnavailable(error)) {
          // As over HTTP: 503 with the dependency's code and details, never 401 (the credentials may well be good).
          const { http: _http, ...extensions } = error.extensions;
          const retryAfterMs = extensions['retryAfterMs'];
          const init = jsonResponseInit(503, 'Service Unavailable');
          if (typeof retryAfterMs === 'number') Object.assign(init.headers, { 'retry-after': String(retryAfterSecondsOf(retryAfterMs)) });
          return [JSON.stringify({ errors: [{ message, extensions }] }), init];
        }
        return [JSON.stringify({ errors: [{ message, extensions: { code: ErrorCode.Unauthenticated } }] }), jsonResponseInit(401, 'Unauthorized')];
      }
      const prepared = await prepare(params, caller);
      // An SSE stream carries one operation: a revoked API key ends it (CREDENTIAL_REVOKED) through `revoked`.
      const unwatch = watchCredential(caller, () => undefined);
      raw.res?.once('close', unwatch);
      // graphql-sse recognises a single result by its `data` key.
      if ('errors' in prepared) return { data: null, errors: prepared.errors };
      if (prepared.operation.operation === 'subscription') {
        const result = subscribe(prepared.args);
        return Symbol.asyncIterator in result ? result : { data: null, ...result };
      }
      if (prepared.operation.operation === 'mutation' && req.method === 'GET') {
        return [JSON.stringify({ errors: [{ message: 'Cannot perform mutations over GET' }] }), jsonResponseInit(405, 'Method Not Allowed')];
      }
      return { data: null, ...(await execute(prepared.args)) };
    },
    // The stream is read at the client's pace: while the response cannot take more, the next result waits (in the
    // subscriber's bounded buffer, where older ones are dropped) instead of piling up in memory here.
    onNext: async (_ctx, req) => {
      const res = (req.context as { res: ServerResponse }).res;
      if (res.writableNeedDrain && !res.destroyed) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    },
  });
  options.app.all(SSE_PATH, async (req: Request, res: Response) => {
    if (req.method === 'PUT' || req.method === 'DELETE' || req.header('x-graphql-event-stream-token')) {
      res.status(405).json({
        errors: [
          { message: 'Only the distinct connections mode of graphql-sse is served (the graphql-sse client default).', extensions: { code: 'BAD_REQUEST' } },
        ],
      });
      return;
    }
    if (req.header('accept') !== 'text/event-stream') {
      res.status(406).json({ errors: [{ message: 'GraphQL over SSE needs Accept: text/event-stream.', extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    sseResponses.add(res);
    res.once('close', () => sseResponses.delete(res));
    try {
      await sse(req, res);
    } catch (error) {
      logger.warn('SSE stream failed', { error });
      if (!res.headersSent) res.status(500).json({ errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.Internal } }] });
      else res.end();
    }
  });

  return {
    connections: () => ({ webSocket: wsServer.clients.size, sse: sseResponses.size }),
    close: async () => {
      for (const timer of connectionTimers) clearTimeout(timer);
      connectionTimers.clear();
      const ended = [...sseResponses].map((res) => (res.writableFinished ? Promise.resolve() : once(res, 'close').then(() => undefined)));
      for (const res of sseResponses) res.end();
      await Promise.all([ws.dispose(), ...ended]);
      options.server.off('upgrade', onUpgrade);
    },
  };
}

/** Refuses subscriptions sent as plain HTTP requests, with directions (Apollo's gateway cannot execute them). */
export function isSubscriptionOperation(document: DocumentNode, operationName: string | null | undefined): boolean {
  const operation = getOperationAST(document, operationName ?? undefined);
  return (
    operation?.operation === 'subscription' ||
    (!operation && document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'subscription'))
  );
}

/** A validation error without its "Did you mean ...?" suffix, which would reveal type and field names. */
function withoutSuggestions(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message.replace(/ Did you mean(.+?)\?$/, ''), { nodes: error.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
}

function tokenExpired(expiresAt: number): GraphQLError {
  return new GraphQLError(`The token expired at ${new Date(expiresAt).toISOString()}; authenticate again.`, {
    extensions: { code: ErrorCode.Unauthenticated, reason: SubscriptionErrorCode.TokenExpired },
  });
}

function credentialRevoked(): GraphQLError {
  return new GraphQLError('The API key was revoked or has expired; authenticate again.', {
    extensions: { code: ErrorCode.Unauthenticated, reason: SubscriptionErrorCode.CredentialRevoked },
  });
}

function jsonResponseInit(status: number, statusText: string) {
  return { status, statusText, headers: { 'content-type': 'application/json; charset=utf-8' } as Record<string, string> };
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

type TrustProxy = (address: string, hop: number) => boolean;

/**
 * The client address of an upgrade request as Express computes `req.ip` (proxy-addr's rule): walk from the socket's
 * peer through X-Forwarded-For, right to left, while the hop is a trusted proxy (TRUST_PROXY).
 */
function forwardedClientAddress(request: IncomingMessage, trust: TrustProxy | undefined): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  if (!trust) return peer;
  const forwarded = String(request.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .reverse();
  const chain = [peer, ...forwarded];
  for (let hop = 0; hop < chain.length - 1; hop += 1) if (!trust(chain[hop]!, hop)) return chain[hop]!;
  return chain[chain.length - 1]!;
}

/** WebSocket close reasons are at most 123 bytes. */
function limitReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${reason.slice(0, 110)}...`;
}
