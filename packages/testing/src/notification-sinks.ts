import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';

/** A mail as a real SMTP server received it, parsed (mailparser). */
export interface ReceivedMail {
  parsed: ParsedMail;
  /** Envelope recipients (RCPT TO). */
  to: string[];
  receivedAt: number;
}

export interface SmtpSink {
  /** smtp://127.0.0.1:<port> */
  url: string;
  mails: ReceivedMail[];
  /** Resolves once at least `count` mails arrived (never on a timer: the caller's test timeout bounds it). */
  waitFor(count: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export interface SmtpSinkOptions {
  /** Recipients (RCPT TO) the server refuses with 550, as a real server refuses an unknown mailbox. */
  refuseRecipient?: (address: string) => boolean;
}

/** A real SMTP server (the smtp-server package) on a free loopback port that keeps every mail it accepts. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const waiters: Array<{ count: number; resolve: (mails: ReceivedMail[]) => void }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(recipient, _session, callback) {
      if (!options.refuseRecipient?.(recipient.address)) return callback();
      callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          mails.push({ parsed, to: session.envelope.rcptTo.map((rcpt) => rcpt.address), receivedAt: Date.now() });
          for (const waiter of [...waiters]) {
            if (mails.length >= waiter.count) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve(mails);
            }
          }
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = (server.server as Server).address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    waitFor: (count) => (mails.length >= count ? Promise.resolve(mails) : new Promise((resolve) => waiters.push({ count, resolve }))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** One webhook request as the receiver saw it, with the verdict of an independent Standard Webhooks verifier. */
export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  payload: { id: string; type: string; version: number; timestamp: string; tenantId: string | null; data: Record<string, unknown> };
  headers: IncomingHttpHeaders;
  /** Verified with the `standardwebhooks` package against one of the receiver's secrets (tolerance 5 minutes). */
  verified: boolean;
  /** Answered with 2xx (false while the receiver was down). */
  accepted: boolean;
  receivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  /** Every request, accepted or not, in arrival order. */
  requests: ReceivedWebhook[];
  /** Accepted requests only. */
  readonly accepted: ReceivedWebhook[];
  /** Secrets the receiver verifies with (set after the endpoint is registered; several during a rotation). */
  secrets: string[];
  /** While down, every request gets this status (default 503). null: up. */
  down: number | null;
  /**
   * While true, requests wait unanswered (a slow receiver: a delivery stays in flight); `release()` answers them, as
   * `down` says then. A held request is recorded when it is answered.
   */
  hold: boolean;
  /** Requests waiting unanswered (see `hold`). */
  readonly held: number;
  /** Answers every held request now and stops holding. */
  release(): void;
  waitForAccepted(count: number): Promise<ReceivedWebhook[]>;
  waitForRequests(count: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/** Whether `hook` verifies with `secret`, by the `standardwebhooks` package (an implementation independent of Saldo's). */
export function verifiesWith(secret: string, hook: Pick<ReceivedWebhook, 'id' | 'timestamp' | 'signature' | 'body'>): boolean {
  try {
    new Webhook(secret).verify(hook.body, { 'webhook-id': hook.id, 'webhook-timestamp': hook.timestamp, 'webhook-signature': hook.signature });
    return true;
  } catch {
    return false;
  }
}

/** A local HTTP receiver that checks signatures with the `standardwebhooks` package (independent of Saldo's signer). */
export async function startWebhookReceiver(path = '/hooks'): Promise<WebhookReceiver> {
  const waiters: Array<{ count: number; accepted: boolean; resolve: (list: ReceivedWebhook[]) => void }> = [];
  const receiver: WebhookReceiver = {
    url: '',
    requests: [],
    get accepted() {
      return this.requests.filter((request) => request.accepted);
    },
    secrets: [],
    down: null,
    hold: false,
    get held() {
      return held.length;
    },
    release: () => {
      receiver.hold = false;
      for (const answer of held.splice(0)) answer();
    },
    waitForAccepted: (count) => wait(count, true),
    waitForRequests: (count) => wait(count, false),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const wait = (count: number, accepted: boolean) => {
    const list = () => (accepted ? receiver.accepted : receiver.requests);
    return list().length >= count ? Promise.resolve(list()) : new Promise<ReceivedWebhook[]>((resolve) => waiters.push({ count, accepted, resolve }));
  };
  const held: Array<() => void> = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => (receiver.hold ? held.push(answer) : answer()));
    const answer = () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      const verified = receiver.secrets.some((secret) => {
        try {
          new Webhook(secret).verify(body, headers);
          return true;
        } catch {
          return false;
        }
      });
      const accepted = receiver.down === null && request.url === path;
      receiver.requests.push({
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        signature: headers['webhook-signature'],
        body,
        payload: JSON.parse(body) as ReceivedWebhook['payload'],
        headers: request.headers,
        verified,
        accepted,
        receivedAt: Date.now(),
      });
      response.writeHead(accepted ? 204 : (receiver.down ?? 404)).end();
      for (const waiter of [...waiters]) {
        if ((waiter.accepted ? receiver.accepted : receiver.requests).length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(waiter.accepted ? receiver.accepted : receiver.requests);
        }
      }
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return receiver;
}
