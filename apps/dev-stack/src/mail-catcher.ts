import { MailDev } from 'maildev';

export interface MailCatcher {
  /** smtp://host:port for the tenants subgraph's SMTP_URL. */
  smtpUrl: string;
  /** The web inbox. */
  inboxUrl: string;
  stop(): Promise<void>;
}

/**
 * The embedded default's mail server: MailDev, a development mail catcher with a web inbox. Every notification mail
 * lands there (nothing leaves the machine); mails are kept under `mailDirectory` between runs, the newest 1,000.
 */
export async function startMailCatcher(options: { host: string; smtpPort: number; webPort: number; mailDirectory: string }): Promise<MailCatcher> {
  const maildev = new MailDev({
    smtp: options.smtpPort,
    ip: options.host,
    web: options.webPort,
    webIp: options.host,
    mailDirectory: options.mailDirectory,
    maxEmails: 1000,
    silent: true,
  });
  await maildev.start();
  const shown = options.host === '127.0.0.1' ? 'localhost' : options.host;
  return {
    smtpUrl: `smtp://${options.host}:${options.smtpPort}`,
    inboxUrl: `http://${shown}:${options.webPort}`,
    stop: () => maildev.stop(),
  };
}
