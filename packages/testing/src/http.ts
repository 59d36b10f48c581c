import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLResponse } from './harness.js';

/**
 * POSTs over one HTTP/1.1 connection of `agent` (give each simulated client its own agent with maxSockets 1) and
 * records the client port, so a test can prove it really used that many connections.
 */
export function postOn(agent: http.Agent, url: string, body: string, headers: Record<string, string>, ports: Set<number>): Promise<GraphQLResponse<any>> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } },
      (response) => {
        let data = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (data += chunk));
        response.on('end', () => {
          try {
            resolve(JSON.parse(data) as GraphQLResponse<any>);
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    request.on('socket', (socket) => {
      const record = () => ports.add(socket.localPort!);
      if (socket.localPort) record();
      else socket.once('connect', record);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** A stand-in HTTP dependency a test can take down (connections refused) and bring back, at the same address. */
export interface RestartableServer {
  /** http://127.0.0.1:port, fixed once the first start() has listened. */
  readonly url: string;
  /** Requests the handler was given, over every start. */
  readonly requests: number;
  /**
   * Listens: on an ephemeral port the first time (tests run in parallel, so never a fixed one), on that same port after
   * stop(), so whatever was configured with `url` reaches it again. Returns `url`. Listening already: a no-op.
   */
  start(): Promise<string>;
  /** Stops listening and cuts open connections: new connections are refused, as when the dependency is down. */
  stop(): Promise<void>;
}

/** A RestartableServer around `handler` (loopback only); started by the caller. */
export function restartableServer(handler: http.RequestListener): RestartableServer {
  let requests = 0;
  let port = 0;
  const server = http.createServer((request, response) => {
    requests += 1;
    handler(request, response);
  });
  const url = () => {
    if (!port) throw new Error('restartableServer: start() it first, its port is chosen then');
    return `http://127.0.0.1:${port}`;
  };
  return {
    get url() {
      return url();
    },
    get requests() {
      return requests;
    },
    start: () =>
      new Promise<string>((resolve, reject) => {
        if (server.listening) return resolve(url());
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          port = (server.address() as AddressInfo).port;
          resolve(url());
        });
      }),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve();
        server.close((error) => (error ? reject(error) : resolve()));
        // After close(): the listener is gone, and the keep-alive connections that would hold close() open are cut.
        server.closeAllConnections();
      }),
  };
}
