import { DependencyGuard, isDependencyUnavailable, type BreakerSettings } from '@saldo/resilience';
import { buildMime, type MailAttachment } from './mime.js';
import { SmtpThread } from './smtp-thread.js';

export interface MailMessage {
  to: readonly string[];
  fromName: string;
  replyTo: string | null;
  subject: string;
  text: string;
  html: string;
  attachments: readonly MailAttachment[];
  /** Message-ID seed: the same notification keeps the same id across attempts (receivers can spot a repeat). */
  messageId: string;
}

export interface MailResult {
  ok: boolean;
  /** The SMTP reply code (250 on success), or null when none arrived. */
  responseCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface MailerOptions {
  /** smtp:// or smtps:// URL, with credentials if the server needs them. */
  url: string;
  fromAddress: string;
  maxConnections: number;
  timeoutMs: number;
  /** The SMTP server's circuit breaker (SMTP_BREAKER_*). */
  breaker?: BreakerSettings;
}

/**
 * Failures that say the SMTP server is down rather than that this message was refused: no SMTP reply at all
 * (refused, reset, timed out) or 421 (service not available). A 5xx for a recipient is the message's problem.
 */
function smtpServerFailing(error: unknown): boolean {
  const code = (error as { responseCode?: unknown })?.responseCode;
  return typeof code !== 'number' || code === 421;
}

/**
 * Sends notification mail over pooled SMTP connections (nodemailer), from a thread of their own (SmtpThread): the
 * message is built here, the SMTP exchange runs off the main event loop.
 */
export class Mailer {
  private readonly smtp: SmtpThread;
  /**
   * While the server is failing, sends fail at once (the delivery is retried later, as after any failure) instead of
   * each waiting for SMTP_TIMEOUT_MS; a trial send after SMTP_BREAKER_HALF_OPEN_MS closes the circuit again.
   */
  readonly guard: DependencyGuard;

  constructor(private readonly options: MailerOptions) {
    this.guard = new DependencyGuard({
      dependency: 'smtp',
      ...(options.breaker ?? { failureThreshold: 5, halfOpenAfterMs: 10_000 }),
      isFailure: smtpServerFailing,
    });
    this.smtp = new SmtpThread({ url: options.url, maxConnections: options.maxConnections, timeoutMs: options.timeoutMs });
  }

  async send(message: MailMessage): Promise<MailResult> {
    const started = performance.now();
    const domain = this.options.fromAddress.split('@')[1] ?? 'saldo.local';
    try {
      // The message is built here in one pass (see mime.ts): nodemailer's composer cost about 1.1 ms of CPU per
      // notification mail, the raw message about 0.05 ms; the transport only dot-stuffs it on the wire.
      const raw = buildMime({
        from: { name: message.fromName, address: this.options.fromAddress },
        to: message.to,
        replyTo: message.replyTo,
        subject: message.subject,
        text: message.text,
        html: message.html,
        attachments: message.attachments,
        messageId: `${message.messageId}@${domain}`,
        date: new Date(),
      });
      const response = await this.guard.execute(() => this.smtp.send({ from: this.options.fromAddress, to: message.to }, raw));
      return { ok: true, responseCode: smtpCode(response) ?? 250, error: null, durationMs: Math.round(performance.now() - started) };
    } catch (error) {
      const failure = error as { responseCode?: number; message?: string };
      return {
        ok: false,
        responseCode: failure.responseCode ?? null,
        error: isDependencyUnavailable(error) ? `DEPENDENCY_UNAVAILABLE: ${error.message}` : (failure.message ?? String(error)),
        durationMs: Math.round(performance.now() - started),
      };
    }
  }

  async close(): Promise<void> {
    await this.smtp.close();
    this.guard.dispose();
  }
}

function smtpCode(response: string | undefined): number | null {
  const match = /^(\d{3})/.exec(response ?? '');
  return match ? Number(match[1]) : null;
}
