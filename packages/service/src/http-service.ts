import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { httpErrorHandler, notFoundHandler } from './http-errors.js';
import type { Logger } from './logger.js';

/** A named readiness probe; it throws (or rejects) when the dependency is not usable. */
export type ReadinessCheck = () => Promise<void>;

export interface HttpServiceOptions {
  name: string;
  logger: Logger;
  readinessChecks?: Record<string, ReadinessCheck>;
}

/**
 * Answers a request ahead of Express (no routing, no body parsing), or returns false before touching the request to
 * leave it to Express's routes. For a service's hottest path (a subgraph's POST /graphql): see rawRoute.
 */
export type RawHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export interface HttpService {
  readonly app: Express;
  readonly server: http.Server;
  /** Requests received since start (every path); used to count round trips to a service. */
  readonly requestCount: number;
  /**
   * Resolves with the base URL once the port is bound (port 0 picks a free one). Mounts the fallbacks first (every
   * unknown path NOT_FOUND, every error a clean JSON body: http-errors.ts), so routes mounted after listen() are not
   * reached.
   */
  listen(port: number, host?: string): Promise<string>;
  /** Stops accepting connections and waits for open requests to finish. */
  close(): Promise<void>;
  /**
   * Offers every request for exactly `path` (no query string) to `handler` before Express: what it declines (returns
   * false) goes through Express's routes as before. Counted in requestCount like any request.
   */
  rawRoute(path: string, handler: RawHandler): void;
}

/**
 * Express app + HTTP server with the endpoints every Saldo service exposes:
 * GET /health (the process is alive) and GET /ready (its dependencies answer); and, behind every route, GraphQL-shaped
 * JSON errors for unknown paths and failed requests (malformed JSON, bodies over the limit) instead of Express's HTML.
 */
export function createHttpService(options: HttpServiceOptions): HttpService {
  const app = express();
  app.disable('x-powered-by');
  const rawRoutes = new Map<string, RawHandler>();
  const server = http.createServer((req, res) => {
    const raw = rawRoutes.get(req.url ?? '');
    if (raw?.(req, res)) return;
    app(req, res);
  });
  let draining = false;
  let requestCount = 0;
  let fallbacksMounted = false;
  server.on('request', () => {
    requestCount += 1;
  });

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: options.name });
  });

  app.get('/ready', async (_req, res) => {
    if (draining) {
      res.status(503).json({ status: 'draining', service: options.name });
      return;
    }
    const failures: Record<string, string> = {};
    await Promise.all(
      Object.entries(options.readinessChecks ?? {}).map(async ([name, check]) => {
        try {
          await check();
        } catch (error) {
          failures[name] = error instanceof Error ? error.message : String(error);
        }
      }),
    );
    const ready = Object.keys(failures).length === 0;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', service: options.name, failures });
  });

  return {
    app,
    server,
    get requestCount() {
      return requestCount;
    },
    listen: (port, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        if (!fallbacksMounted) {
          fallbacksMounted = true;
          app.use(notFoundHandler());
          app.use(httpErrorHandler(options.logger));
        }
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve(`http://${shownHost}:${address.port}`);
        });
      }),
    rawRoute(path, handler) {
      rawRoutes.set(path, handler);
    },
    close: () =>
      new Promise((resolve, reject) => {
        draining = true;
        if (!server.listening) {
          resolve();
          return;
        }
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets would hold close() open forever; in-flight requests still finish.
        server.closeIdleConnections();
      }),
  };
}
