import WebSocket from 'ws';

/**
 * Subscription clients for the subscription benchmark, in a child process of their own so that the gateway process
 * measures only its own memory and the clients do not share its event loop. Speaks graphql-transport-ws directly
 * (one connection per subscription, as browsers would), and records for every update the time from its posting
 * (the balance's updatedAt, stamped inside the ledger transaction) to its receipt here.
 *
 * Protocol with the parent (IPC): receives { url, query, subscribers: [{ token, tenantId }] }, answers
 * { type: 'ready', connected, failed } once every subscriber got its first result; on 'measure' it starts recording,
 * on 'report' it answers { type: 'report', latencies, received, expected, gaps, errors } and exits.
 */
interface Start {
  url: string;
  query: string;
  subscribers: Array<{ token: string; tenantId: string }>;
  /** Connections opened at once. */
  concurrency?: number;
}

interface Subscriber {
  socket: WebSocket;
  lastVersion: number;
  /** The version this subscriber had when measuring started. */
  startVersion: number;
  first: boolean;
}

const subscribers: Subscriber[] = [];

let measuring = false;
const latencies: number[] = [];
let received = 0;
/** Versions skipped by a subscriber (an update it never saw). */
let gaps = 0;
let errors = 0;

process.on('message', (message: { type: string } & Partial<Start>) => {
  if (message.type === 'start') void start(message as Start);
  else if (message.type === 'measure') {
    for (const subscriber of subscribers) subscriber.startVersion = subscriber.lastVersion;
    measuring = true;
  } else if (message.type === 'report') {
    measuring = false;
    // Versions each subscriber should have seen while measuring (from its version then to its latest).
    const expected = subscribers.reduce((sum, subscriber) => sum + Math.max(0, subscriber.lastVersion - subscriber.startVersion), 0);
    process.send!({ type: 'report', latencies, received, expected, gaps, errors }, () => process.exit(0));
  }
});

async function start(options: Start): Promise<void> {
  const wsUrl = options.url.replace(/^http/, 'ws');
  let connected = 0;
  let failed = 0;
  let index = 0;
  const open = (entry: { token: string; tenantId: string }) =>
    new Promise<void>((resolve) => {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
      const subscriber: Subscriber = { socket, lastVersion: -1, startVersion: -1, first: true };
      subscribers.push(subscriber);
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        if (ok) connected += 1;
        else failed += 1;
        resolve();
      };
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${entry.token}` } })));
      socket.on('message', (raw: Buffer) => {
        const message = JSON.parse(raw.toString('utf8')) as {
          type: string;
          payload?: { data?: { balanceChanged?: { balance: { version: number; updatedAt: string } } }; errors?: unknown[] };
        };
        if (message.type === 'connection_ack') {
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: options.query, variables: { tenantId: entry.tenantId } } }));
        } else if (message.type === 'next') {
          const update = message.payload?.data?.balanceChanged;
          if (!update) {
            errors += 1;
            settle(false);
            return;
          }
          const version = update.balance.version;
          if (subscriber.first) {
            subscriber.first = false;
            subscriber.lastVersion = version;
            settle(true);
            return;
          }
          if (measuring) {
            received += 1;
            latencies.push(Date.now() - Date.parse(update.balance.updatedAt));
            if (subscriber.lastVersion >= 0 && version > subscriber.lastVersion + 1) gaps += version - subscriber.lastVersion - 1;
          }
          subscriber.lastVersion = Math.max(subscriber.lastVersion, version);
        } else if (message.type === 'ping') {
          socket.send(JSON.stringify({ type: 'pong' }));
        } else if (message.type === 'error') {
          errors += 1;
          settle(false);
        }
      });
      socket.on('error', () => settle(false));
      socket.on('close', () => settle(false));
    });
  const concurrency = options.concurrency ?? 200;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (index < options.subscribers.length) await open(options.subscribers[index++]!);
    }),
  );
  process.send!({ type: 'ready', connected, failed });
}
