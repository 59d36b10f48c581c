import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * Closed-loop load (max throughput): `connections` loops, each sending its next request when the previous one answered,
 * over keep-alive sockets, for warmupMs (not counted) then durationMs. A response counts as ok when it is HTTP 200
 * without `"errors"` and without a null result (`:null}` at the root field).
 */
interface Options {
  url: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  requests: Array<{ body: string; headers: Record<string, string> }>;
}
const options = workerData as Options;
const target = new URL(options.url);
const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
let ok = 0;
let errors = 0;
let sample = '';
const latencies: number[] = [];

function send(index: number): Promise<{ ok: boolean; text: string }> {
  const item = options.requests[index % options.requests.length]!;
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(item.body), ...item.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            ok: res.statusCode === 200 && !text.includes('"errors"') && text.startsWith('{"data":{') && !/^\{"data":\{"[A-Za-z]+":null/.test(text),
            text,
          }),
        );
      },
    );
    req.on('error', (error) => resolve({ ok: false, text: String(error) }));
    req.end(item.body);
  });
}

const start = performance.now();
const measureFrom = start + options.warmupMs;
const end = measureFrom + options.durationMs;
let counter = 0;
let windowStart = 0;
let windowEnd = 0;
async function loop(): Promise<void> {
  for (;;) {
    const sentAt = performance.now();
    if (sentAt >= end) return;
    const result = await send(counter++);
    const doneAt = performance.now();
    if (sentAt >= measureFrom && doneAt <= end) {
      if (result.ok) {
        ok += 1;
        latencies.push(doneAt - sentAt);
      } else {
        errors += 1;
        if (!sample) sample = result.text.slice(0, 300);
      }
    }
  }
}
// The parent samples CPU at these moments: tell it when the measured window starts and ends.
setTimeout(() => {
  windowStart = performance.now();
  parentPort?.postMessage({ type: 'measuring' });
}, options.warmupMs);
await Promise.all(Array.from({ length: options.connections }, () => loop()));
windowEnd = performance.now();
agent.destroy();
parentPort?.postMessage({ type: 'done', ok, errors, sample, latencies, measuredMs: Math.min(windowEnd, end) - windowStart });
