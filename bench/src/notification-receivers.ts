import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * The notifications benchmark's receivers, in a process of their own (forked by notifications.ts): a real SMTP server
 * (smtp-server) and a webhook receiver (HTTP). Receivers are other systems in production; in the benchmark's process
 * they would share the notifier's event loop (an SMTP exchange is four round trips, each served by that loop). They
 * record when each notification arrived (by its id), and nothing else, then hand the record to the parent on request.
 *
 * Parent -> child: { type: 'report' } | { type: 'close' }. Child -> parent: { type: 'ready', smtpPort, hookPort },
 * { type: 'report', mails, hooks, duplicateMails, duplicateHooks, cpuMs }.
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
  duplicateHooks: number;
  /** CPU the receivers used since they started (user + system). */
  cpuMs: number;
}

const mails = new Map<string, number>();
const hooks = new Map<string, [number, number]>();
let duplicateMails = 0;
let duplicateHooks = 0;

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
      if (id) {
        if (mails.has(id)) duplicateMails += 1;
        else mails.set(id, Date.now());
      }
      callback();
    });
  },
});

const receiver: HttpServer = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const now = Date.now();
    const payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; timestamp: string };
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

process.on('message', (message: { type: string }) => {
  if (message.type === 'report') {
    const cpu = process.cpuUsage();
    const report: ReceiversReport = {
      type: 'report',
      mails: [...mails],
      hooks: [...hooks].map(([id, [at, timestamp]]) => [id, at, timestamp]),
      duplicateMails,
      duplicateHooks,
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
