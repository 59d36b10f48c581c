import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';

/**
 * A local OTLP/HTTP receiver for the observability benchmark, on its own thread so receiving spans costs the measured
 * services nothing: it reads each export, counts the spans (a rough count from the JSON) and answers 200.
 */
let spans = 0;
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    spans += text.split('"spanId"').length - 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port }));
parentPort!.on('message', (message: { type: string }) => {
  if (message.type === 'count') parentPort!.postMessage({ type: 'count', spans });
  if (message.type === 'close') server.close(() => process.exit(0));
});
