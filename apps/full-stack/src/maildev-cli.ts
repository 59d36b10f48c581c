import { parseArgs } from 'node:util';
import { MailDev } from 'maildev';
import { createLogger, stopOnSignals } from '@saldo/service';

// The compose file's `maildev` service as a process: `node maildev-cli.js --ip 127.0.0.1 --smtp 1025 --web 1080 --dir DIR`.
// MailDev's own CLI dies of SIGTERM; this one stops the SMTP and web servers and exits 0 like every Saldo service.
const { values } = parseArgs({ options: { ip: { type: 'string' }, smtp: { type: 'string' }, web: { type: 'string' }, dir: { type: 'string' } } });
const logger = createLogger({ service: 'maildev', level: 'info', format: 'json' });
const maildev = new MailDev({
  ip: values.ip ?? '127.0.0.1',
  webIp: values.ip ?? '127.0.0.1',
  smtp: Number(values.smtp ?? 1025),
  web: Number(values.web ?? 1080),
  ...(values.dir ? { mailDirectory: values.dir } : {}),
  maxEmails: 1000,
  silent: true,
});
await maildev.start();
logger.info('maildev listening', { smtp: Number(values.smtp ?? 1025), web: Number(values.web ?? 1080) });
stopOnSignals(() => maildev.stop(), logger);
