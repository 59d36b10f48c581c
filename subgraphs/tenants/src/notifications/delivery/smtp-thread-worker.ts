import { parentPort, workerData } from 'node:worker_threads';
import nodemailer from 'nodemailer';
import type { SmtpThreadRequest, SmtpThreadReply, SmtpThreadSettings } from './smtp-thread.js';

/**
 * The SMTP sender's thread (started by SmtpThread): owns nodemailer's pool of SMTP connections, so every round trip
 * of an SMTP exchange (envelope, data, the server's replies) is served by this thread's event loop, which does nothing
 * else, instead of waiting behind the notifier's work on the main loop. It takes ready messages (the raw MIME) and
 * answers each with the server's reply or the error; it keeps no state beyond the pool.
 */
const settings = workerData as SmtpThreadSettings;
const port = parentPort!;

const transporter = nodemailer.createTransport({
  url: settings.url,
  pool: true,
  maxConnections: settings.maxConnections,
  maxMessages: 1000,
  connectionTimeout: settings.timeoutMs,
  greetingTimeout: settings.timeoutMs,
  socketTimeout: settings.timeoutMs,
} as Parameters<typeof nodemailer.createTransport>[0]);

port.on('message', (request: SmtpThreadRequest) => {
  if (request.type === 'close') {
    transporter.close();
    port.close();
    return;
  }
  transporter
    .sendMail({ envelope: { from: request.from, to: request.to }, raw: Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength) })
    .then((info: { response?: string }) => reply({ type: 'sent', id: request.id, response: info.response ?? '' }))
    .catch((error: unknown) => {
      const failure = error as { message?: string; responseCode?: unknown; code?: unknown };
      reply({
        type: 'failed',
        id: request.id,
        message: failure.message ?? String(error),
        responseCode: typeof failure.responseCode === 'number' ? failure.responseCode : null,
        code: typeof failure.code === 'string' ? failure.code : null,
      });
    });
});

function reply(message: SmtpThreadReply): void {
  port.postMessage(message);
}
