import { Worker } from 'node:worker_threads';

/** How the thread's SMTP pool connects (nodemailer's pooled transport). */
export interface SmtpThreadSettings {
  url: string;
  maxConnections: number;
  timeoutMs: number;
}

/** Main thread -> SMTP thread: send one ready message, or close the pool. */
export type SmtpThreadRequest = { type: 'send'; id: number; from: string; to: string[]; raw: Uint8Array } | { type: 'close' };

/** SMTP thread -> main thread: the server's reply to one message, or why it was not accepted. */
export type SmtpThreadReply =
  { type: 'sent'; id: number; response: string } | { type: 'failed'; id: number; message: string; responseCode: number | null; code: string | null };

/** A send the SMTP server refused or that got no reply; `responseCode` is the server's code when one arrived. */
export class SmtpSendError extends Error {
  constructor(
    message: string,
    readonly responseCode: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SmtpSendError';
  }
}

interface Pending {
  resolve: (response: string) => void;
  reject: (error: Error) => void;
}

/**
 * SMTP sending on a thread of its own (smtp-thread-worker.ts owns nodemailer's connection pool). On the main thread
 * each SMTP round trip waited for the event loop that also consumes events, claims and records deliveries: under a
 * burst a pooled connection carried one message per two turns of that busy loop. Here the main thread posts the ready
 * message and gets one reply back; the exchange with the server runs on a loop that does nothing else.
 *
 * The thread is started on the first send and again after it died (its sends in flight fail with no SMTP reply and are
 * retried by the dispatcher like any failed attempt). It keeps the process alive only while a send is in flight.
 */
export class SmtpThread {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly settings: SmtpThreadSettings) {}

  /** Sends one raw message; resolves with the server's reply line, rejects with SmtpSendError. */
  send(envelope: { from: string; to: readonly string[] }, raw: Buffer): Promise<string> {
    if (this.closed) return Promise.reject(new SmtpSendError('the SMTP sender is closed', undefined, 'ECLOSED'));
    const worker = this.worker ?? this.start();
    const id = ++this.nextId;
    // A copy of its own (a small Buffer may be a view of a shared pool), moved to the thread without a second copy.
    const bytes = new Uint8Array(raw);
    return new Promise<string>((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject });
      const request: SmtpThreadRequest = { type: 'send', id, from: envelope.from, to: [...envelope.to], raw: bytes };
      worker.postMessage(request, [bytes.buffer]);
    });
  }

  /** Closes the pool (QUIT on idle connections) and waits for the thread to end. Call once nothing is in flight. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const request: SmtpThreadRequest = { type: 'close' };
    worker.postMessage(request);
    // A server that does not answer QUIT must not hold the shutdown: the thread is ended after the SMTP timeout.
    const forced = setTimeout(() => void worker.terminate(), this.settings.timeoutMs);
    forced.unref();
    await exited;
    clearTimeout(forced);
  }

  private start(): Worker {
    const worker = new Worker(new URL('./smtp-thread-worker.js', import.meta.url), { workerData: this.settings });
    worker.unref();
    worker.on('message', (reply: SmtpThreadReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.type === 'sent') waiting.resolve(reply.response);
      else waiting.reject(new SmtpSendError(reply.message, reply.responseCode ?? undefined, reply.code ?? undefined));
    });
    const failAll = (message: string) => {
      if (this.worker === worker) this.worker = null;
      for (const [id, waiting] of this.pending) {
        this.pending.delete(id);
        waiting.reject(new SmtpSendError(message, undefined, 'ETHREAD'));
      }
    };
    worker.on('error', (error) => failAll(`the SMTP thread failed: ${error.message}`));
    worker.on('exit', (code) => failAll(`the SMTP thread exited (${code})`));
    this.worker = worker;
    return worker;
  }
}
