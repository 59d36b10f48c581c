import { parentPort, workerData } from 'node:worker_threads';

/**
 * Open-loop load generator, on its own thread so the client's event loop does not share time with the
 * servers': requests are sent on a fixed schedule whether or not earlier ones answered (no coordinated
 * omission), and each latency is measured from its scheduled send time.
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

async function send(body: string, scheduledAt: number, record: boolean, extraHeaders: Record<string, string> = {}): Promise<void> {
  inFlight += 1;
  try {
    const response = await fetch(options.url, { method: 'POST', headers: { 'content-type': 'application/json', ...options.headers, ...extraHeaders }, body });
    const json = (await response.json()) as { errors?: unknown[] };
    if (!response.ok || json.errors) {
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
  parentPort?.postMessage({ latencies, errors, maxInFlight: inFlight });
}

await run();
