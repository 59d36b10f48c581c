import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * Open-loop load generator, on its own thread so the client's event loop does not share time with the
 * servers': requests are sent on a fixed schedule whether or not earlier ones answered (no coordinated
 * omission), and each latency is measured from its scheduled send time. It shares the machine's cores with the servers, so
 * it uses node:http on kept-alive sockets rather than fetch (undici), which cost about as much CPU per request as a
 * subgraph did (measured in the services topology): the body is still read whole and parsed to count GraphQL errors.
 */
interface LoadOptions {
  url: string;
  rps: number;
  durationMs: number;
  warmupMs: number;
  bodies: string[];
  headers: Record<string, string>;
  /** Extra headers per body (same index), e.g. each tenant's own credentials. */
  headersPerBody?: Array<Record<string, string>>;
}

const options = workerData as LoadOptions;
const latencies: number[] = [];
let errors = 0;
let inFlight = 0;

const target = new URL(options.url);
// No socket limit: an open loop must not queue requests behind a pool (that would hide the servers' latency).
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

/** One POST; resolves to the status and the parsed JSON body. */
function post(body: string, headers: Record<string, string>): Promise<{ status: number; json: { errors?: unknown[] } }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            resolve({ status: response.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { errors?: unknown[] } });
          } catch (error) {
            reject(error as Error);
          }
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

async function send(body: string, scheduledAt: number, record: boolean, extraHeaders: Record<string, string> = {}): Promise<void> {
  inFlight += 1;
  try {
    const { status, json } = await post(body, { 'content-type': 'application/json', ...options.headers, ...extraHeaders });
    if (status < 200 || status >= 300 || json.errors) {
      if (record) errors += 1;
    } else if (record) {
      latencies.push(performance.now() - scheduledAt);
    }
  } catch {
    if (record) errors += 1;
  } finally {
    inFlight -= 1;
  }
}

async function run(): Promise<void> {
  const intervalMs = 1000 / options.rps;
  const total = Math.round(((options.warmupMs + options.durationMs) / 1000) * options.rps);
  const warmupCount = Math.round((options.warmupMs / 1000) * options.rps);
  const start = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let index = 0; index < total; index += 1) {
    const scheduledAt = start + index * intervalMs;
    const wait = scheduledAt - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      send(options.bodies[index % options.bodies.length]!, scheduledAt, index >= warmupCount, options.headersPerBody?.[index % options.bodies.length]),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  parentPort?.postMessage({ latencies, errors, maxInFlight: inFlight });
}

await run();
