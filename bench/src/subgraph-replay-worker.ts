import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, IdentitySigner } from '@saldo/identity';

/** One recorded gateway -> subgraph call (its identity header is signed afresh when sent). */
export interface ReplayCall {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface ReplayResult {
  ok: number;
  errors: number;
  sample: string;
  measuredMs: number;
}

/**
 * Closed-loop replay of recorded federated queries (subgraph-cost): `concurrency` loops, each sending one query's calls
 * at once and the next query when all answered. The first `warmup` queries are not counted; the parent samples its CPU
 * when told 'measuring' and when the worker is 'done'. The identity header is signed like the gateway signs it (one
 * token per identity, renewed at half its 30 s lifetime), so subgraphs verify a new token as often as behind the gateway.
 */
interface Options {
  queries: ReplayCall[][];
  identity: Identity;
  identityKeyPem: string;
  count: number;
  warmup: number;
  concurrency: number;
}

const options = workerData as Options;
const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency * 4 });
const signer = await IdentitySigner.fromPem(options.identityKeyPem);

function send(call: ReplayCall, identity: string): Promise<{ ok: boolean; text: string }> {
  return new Promise((resolve) => {
    const req = request(
      call.url,
      {
        agent,
        method: 'POST',
        headers: { ...call.headers, [IDENTITY_HEADER]: identity, 'content-length': Buffer.byteLength(call.body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ ok: res.statusCode === 200 && text.startsWith('{"data":') && !text.includes('"errors"'), text }));
      },
    );
    req.on('error', (error) => resolve({ ok: false, text: String(error) }));
    req.end(call.body);
  });
}

let next = 0;
let ok = 0;
let errors = 0;
let sample = '';
let measuredFrom = 0;

async function loop(): Promise<void> {
  for (;;) {
    const index = next++;
    if (index >= options.warmup + options.count) return;
    if (index === options.warmup) {
      measuredFrom = performance.now();
      parentPort?.postMessage({ type: 'measuring' });
    }
    const identity = await signer.sign(options.identity);
    const results = await Promise.all(options.queries[index % options.queries.length]!.map((call) => send(call, identity)));
    if (index < options.warmup) continue;
    const failed = results.find((result) => !result.ok);
    if (failed) {
      errors += 1;
      if (!sample) sample = failed.text.slice(0, 300);
    } else {
      ok += 1;
    }
  }
}

await Promise.all(Array.from({ length: options.concurrency }, () => loop()));
const measuredMs = performance.now() - measuredFrom;
agent.destroy();
parentPort?.postMessage({ type: 'done', ok, errors, sample, measuredMs } satisfies ReplayResult & { type: 'done' });
