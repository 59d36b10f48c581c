import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SubgraphHttpClient } from './subgraph-http.js';

/**
 * A subgraph whose every connection answers its first request with keep-alive and then resets when a second
 * request arrives on it: the race a gateway loses when a subgraph closes an idle kept-alive socket just as the
 * gateway reuses it.
 */
function startResettingServer(): Promise<{ url: URL; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let served = false;
    let buffer = '';
    socket.on('data', (chunk) => {
      if (served) {
        socket.resetAndDestroy();
        return;
      }
      buffer += chunk.toString('utf8');
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(buffer)?.[1] ?? 0);
      if (buffer.length < headerEnd + 4 + length) return;
      served = true;
      requests.push(buffer.slice(headerEnd + 4, headerEnd + 4 + length));
      const answer = JSON.stringify({ data: { served: requests.length } });
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: keep-alive\r\ncontent-length: ${answer.length}\r\n\r\n${answer}`);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        url: new URL(`http://127.0.0.1:${port}/graphql`),
        requests,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

describe('the gateway’s subgraph HTTP client on a kept-alive socket the subgraph has closed', () => {
  let server: Awaited<ReturnType<typeof startResettingServer>>;
  let client: SubgraphHttpClient;
  const headers = { 'content-type': 'application/json' };

  before(async () => {
    server = await startResettingServer();
    client = new SubgraphHttpClient(5_000);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it('sends a query again on a new connection and answers it', async () => {
    const first = await client.post(server.url, headers, JSON.stringify({ query: 'query A { a }' }));
    assert.equal(first.status, 200);
    const second = await client.post(server.url, headers, JSON.stringify({ query: '{ b }' }));
    assert.equal(second.status, 200);
    assert.deepEqual(JSON.parse(second.body), { data: { served: 2 } });
  });

  it('never sends a mutation twice: the caller sees the reset', async () => {
    const served = server.requests.length;
    await assert.rejects(client.post(server.url, headers, JSON.stringify({ query: 'mutation M { m }' })), { code: 'ECONNRESET' });
    assert.equal(server.requests.length, served);
  });
});

describe('the gateway’s subgraph HTTP client and the subgraph’s keep-alive timeout', () => {
  it('retires an idle kept-alive socket before the subgraph closes it, so a mutation never meets a closed socket', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ data: { ok: true } })));
    });
    // The subgraph advertises `Keep-Alive: timeout=2` and closes an idle socket after 2 s plus Node's buffer.
    server.keepAliveTimeout = 2_000;
    const serverClosedFirst = new Promise<boolean>((resolve) => {
      server.on('connection', (socket) => {
        let clientEnded = false;
        socket.on('end', () => (clientEnded = true));
        socket.on('close', () => resolve(!clientEnded));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const client = new SubgraphHttpClient(5_000);
    try {
      const answer = await client.post(new URL(`http://127.0.0.1:${port}/graphql`), { 'content-type': 'application/json' }, '{"query":"mutation { m }"}');
      assert.equal(answer.status, 200);
      assert.equal(await serverClosedFirst, false, 'the idle socket was closed by the subgraph, not retired by the gateway');
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
