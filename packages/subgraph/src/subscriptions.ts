import type { Server } from 'node:http';
import {
  GraphQLError,
  getOperationAST,
  parse,
  validate,
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { ErrorCode, type Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, type IdentityVerifier } from '@saldo/identity';
import type { Logger } from '@saldo/service';
import { createErrorFormatter } from './format-error.js';

/** What this server keeps per connection, next to graphql-ws' socket and upgrade request. */
type ConnectionState = { identity: Identity; expiresAt: number };

export interface SubscriptionServerOptions {
  server: Server;
  /** Same path as HTTP GraphQL: the WebSocket upgrade of `/graphql`. */
  path: string;
  schema: GraphQLSchema;
  identity: IdentityVerifier;
  /** The request context of one subscription (identity + loaders + services), like an HTTP request's. */
  context: (identity: Identity) => object;
  logger: Logger;
  /** Protocol-level pings to every connection (ms); a connection that does not answer within that time is dropped. */
  keepAliveMs?: number;
}

export interface SubscriptionServer {
  /** Subscriptions being served now, and ever opened (tests count upstream subscriptions with it). */
  metrics(): { active: number; opened: number; connections: number };
  /** Closes every connection with 1001 (Going away): the gateway reconnects and subscribes again elsewhere. */
  close(): Promise<void>;
}

/**
 * GraphQL subscriptions of a subgraph over graphql-ws (the `graphql-transport-ws` protocol) on the subgraph's own HTTP
 * server, at the WebSocket upgrade of `/graphql`. Like HTTP requests, nothing runs without an identity the gateway
 * signed:
 *
 * - the connection: `connection_init` payload `{ "x-saldo-identity": <token> }` (or that header on the upgrade
 *   request); a missing, forged or expired token closes it with 4401. The gateway signs its connection as
 *   `anonymous`: the connection proves it came from the gateway, and identifies nobody;
 * - each operation: `extensions["x-saldo-identity"]` of the subscribe message carries the caller's identity, signed
 *   for this subscription (so one connection multiplexes many callers); without one, the connection's identity
 *   applies. A bad token refuses that operation only (an `error` message with UNAUTHENTICATED).
 *
 * Resolvers get the same request context as queries (`ctx.scope`), so scope rules are the same. Errors are masked
 * like HTTP responses (codes pass, anything else becomes INTERNAL_SERVER_ERROR).
 */
export function serveSubscriptions(options: SubscriptionServerOptions): SubscriptionServer {
  const { logger } = options;
  const formatError = createErrorFormatter(logger);
  const wsServer = new WebSocketServer({ server: options.server, path: options.path });
  let opened = 0;
  // Operations that are streams (subscriptions), by connection and operation id.
  const streams = new Set<string>();
  const connectionIds = new WeakMap<object, number>();
  let nextConnectionId = 0;
  const streamKey = (ctx: object, id: string): string => {
    let connection = connectionIds.get(ctx);
    if (connection === undefined) {
      connection = nextConnectionId++;
      connectionIds.set(ctx, connection);
    }
    return `${connection}:${id}`;
  };

  const verify = async (token: unknown): Promise<{ identity: Identity; expiresAt: number } | undefined> => {
    if (typeof token !== 'string' || token.length === 0) return undefined;
    try {
      return await options.identity.verifySession(token);
    } catch {
      return undefined;
    }
  };

  const mask = (result: ExecutionResult): FormattedExecutionResult | undefined => {
    if (!result.errors?.length) return undefined;
    return { ...result, errors: result.errors.map((error) => formatError(error.toJSON(), error)) };
  };

  const disposable = useServer<Record<string, unknown>, ConnectionState>(
    {
      schema: options.schema,
      onConnect: async (ctx) => {
        const header = ctx.extra.request.headers[IDENTITY_HEADER];
        const token = ctx.connectionParams?.[IDENTITY_HEADER] ?? (Array.isArray(header) ? header[0] : header);
        const verified = await verify(token);
        if (!verified) {
          // 4401 is final for graphql-ws clients (4403 would be retried with the same credentials).
          ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized: connections must come through the gateway with a valid identity');
          return false;
        }
        Object.assign(ctx.extra as Partial<ConnectionState>, verified);
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const operationToken = payload.extensions?.[IDENTITY_HEADER];
        let identity: Identity | undefined;
        if (operationToken !== undefined) identity = (await verify(operationToken))?.identity;
        // Without a token of its own an operation runs as the connection's identity, and only while that is valid:
        // an expired connection identity authorizes nothing new.
        else if ((ctx.extra.expiresAt ?? 0) > Date.now()) identity = ctx.extra.identity;
        if (!identity) {
          return [new GraphQLError('Subscriptions must carry a valid identity signed by the gateway.', { extensions: { code: ErrorCode.Unauthenticated } })];
        }
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
        const errors = validate(options.schema, document);
        if (errors.length > 0) return [...errors];
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [new GraphQLError('Unable to identify the operation.', { extensions: { code: ErrorCode.BadUserInput } })];
        const args: ExecutionArgs = {
          schema: options.schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue: options.context(identity),
        };
        return args;
      },
      onOperation: (ctx, id, _payload, _args, result) => {
        if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
          streams.add(streamKey(ctx, id));
          opened += 1;
        }
        return undefined;
      },
      onNext: (_ctx, _id, _payload, _args, result) => mask(result),
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => formatError(error.toJSON(), error)),
      // Runs for every finished operation: completed by either side, or ended with its connection.
      onComplete: (ctx, id) => {
        streams.delete(streamKey(ctx, id));
      },
    },
    wsServer,
    options.keepAliveMs ?? 12_000,
  );

  return {
    metrics: () => ({ active: streams.size, opened, connections: wsServer.clients.size }),
    close: async () => {
      await disposable.dispose();
    },
  };
}
