import http from 'node:http';
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
