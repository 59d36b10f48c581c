import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * The notifications benchmark's receivers, in a process of their own (forked by notifications.ts): a real SMTP server
 * (smtp-server) and a webhook receiver (HTTP). Receivers are other systems in production; in the benchmark's process
 * they would share the notifier's event loop (an SMTP exchange is four round trips, each served by that loop). They
 * record when each notification arrived (by its id), then hand the record to the parent on request. The SMTP server
 * reads every message to its end; the webhook receiver verifies each request's Standard Webhooks signature with the
 * endpoint's secret (as a receiver must) and refuses a request that does not verify (401: the notifier retries it).
 *
 * Parent -> child: { type: 'secret', secret } | { type: 'report' } | { type: 'close' }. Child -> parent:
 * { type: 'ready', smtpPort, hookPort }, { type: 'report', mails, hooks, duplicateMails, unmatchedMails, duplicateHooks, badSignatures, cpuMs }.
 */
export interface ReceiversReady {
  type: 'ready';
  smtpPort: number;
  hookPort: number;
}

export interface ReceiversReport {
  type: 'report';
  /** Notification id -> arrival (epoch ms) of its first mail. */
  mails: Array<[string, number]>;
  /** Event id -> [arrival (epoch ms), the payload's timestamp (epoch ms)] of its first webhook. */
  hooks: Array<[string, number, number]>;
  duplicateMails: number;
  /** Messages the SMTP server accepted whose Message-ID names no notification (none should). */
  unmatchedMails: number;
  duplicateHooks: number;
  /** Webhook requests refused because no signature verified. */
  badSignatures: number;
  /** CPU the receivers used since they started (user + system). */
  cpuMs: number;
}

const mails = new Map<string, number>();
const hooks = new Map<string, [number, number]>();
let duplicateMails = 0;
let unmatchedMails = 0;
let duplicateHooks = 0;
let badSignatures = 0;
/** The endpoint's signing key (the secret without `whsec_`, base64-decoded), sent by the parent once it exists. */
let signingKey: Buffer | null = null;

/** Standard Webhooks: some `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` of the header matches. */
function verified(headers: NodeJS.Dict<string | string[]>, body: Buffer): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!signingKey || typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  const expected = createHmac('sha256', signingKey).update(`${id}.${timestamp}.`).update(body).digest();
  return signatures.split(' ').some((signature) => {
    if (!signature.startsWith('v1,')) return false;
    const given = Buffer.from(signature.slice(3), 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  // Notification mail goes out over a pool of connections; accept as many as the notifier opens.
  maxClients: 1000,
  onData(stream, _session, callback) {
    let head = '';
    stream.on('data', (chunk: Buffer) => {
      if (head.length < 4096) head += chunk.toString('utf8');
    });
    stream.on('end', () => {
      const id = /^Message-ID: <([0-9a-f-]{36})\./im.exec(head)?.[1];
      if (!id) unmatchedMails += 1;
      else if (mails.has(id)) duplicateMails += 1;
      else mails.set(id, Date.now());
      callback();
    });
  },
});

const receiver: HttpServer = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const now = Date.now();
    const body = Buffer.concat(chunks);
    if (!verified(request.headers, body)) {
      badSignatures += 1;
      response.writeHead(401).end();
      return;
    }
    const payload = JSON.parse(body.toString('utf8')) as { id: string; timestamp: string };
    if (hooks.has(payload.id)) duplicateHooks += 1;
    else hooks.set(payload.id, [now, Date.parse(payload.timestamp)]);
    response.writeHead(204).end();
  });
});
receiver.keepAliveTimeout = 60_000;

await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const ready: ReceiversReady = {
  type: 'ready',
  smtpPort: ((smtp.server as Server).address() as AddressInfo).port,
  hookPort: (receiver.address() as AddressInfo).port,
};
process.send!(ready);

process.on('message', (message: { type: string; secret?: string }) => {
  if (message.type === 'secret' && message.secret) signingKey = Buffer.from(message.secret.replace(/^whsec_/, ''), 'base64');
  if (message.type === 'report') {
    const cpu = process.cpuUsage();
    const report: ReceiversReport = {
      type: 'report',
      mails: [...mails],
      hooks: [...hooks].map(([id, [at, timestamp]]) => [id, at, timestamp]),
      duplicateMails,
      unmatchedMails,
      duplicateHooks,
      badSignatures,
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    };
    process.send!(report);
  }
  if (message.type === 'close') {
    receiver.closeAllConnections();
    receiver.close();
    smtp.close(() => process.exit(0));
  }
});
