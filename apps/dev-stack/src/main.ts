import { createLogger, stopOnSignals } from '@saldo/service';
import { loadEmbeddedConfig, type EmbeddedConfig } from './config.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './postgres.js';
import { startMailCatcher, type MailCatcher } from './mail-catcher.js';
import { embeddedEncryptionKey, embeddedKeys } from './keys.js';
import { seedDemoData } from './seed.js';
import { startStack } from './stack.js';
import { startDevCustomDomains } from './custom-domains.js';
import { configuredPorts, startFailureLine } from './start-failure.js';

// `pnpm start`: the embedded default. Real PostgreSQL in the process tree, every service, demo data.
// Every start failure ends the process with exit code 1 and one line on stderr saying what happened and what to do.
function startFailed(error: unknown, config?: EmbeddedConfig): never {
  process.stderr.write(`\n  Saldo did not start: ${startFailureLine(error, config ? configuredPorts(config) : {})}\n\n`);
  process.exit(1);
}

let config: EmbeddedConfig;
try {
  config = loadEmbeddedConfig(process.env);
} catch (error) {
  startFailed(error);
}
const logger = createLogger({ service: 'saldo', level: config.LOG_LEVEL, format: config.LOG_FORMAT });

let postgres: EmbeddedPostgresHandle;
try {
  postgres = await startEmbeddedPostgres({
    dataDir: config.SALDO_HOME,
    port: config.EMBEDDED_POSTGRES_PORT,
    password: config.EMBEDDED_POSTGRES_PASSWORD,
    logger: logger.child('postgres'),
  });
} catch (error) {
  logger.debug('embedded PostgreSQL start failed', { error });
  startFailed(error, config);
}

let stack;
let customDomains: Awaited<ReturnType<typeof startDevCustomDomains>> = null;
let mailCatcher: MailCatcher | undefined;
try {
  customDomains = await startDevCustomDomains(config, logger.child('custom-domains'));
  // Notification mail goes to the local mail catcher unless a real SMTP server is configured.
  mailCatcher = config.SMTP_URL
    ? undefined
    : await startMailCatcher({
        host: config.HOST,
        smtpPort: config.MAILDEV_SMTP_PORT,
        webPort: config.MAILDEV_WEB_PORT,
        mailDirectory: `${config.SALDO_HOME}/mail`,
      });
  stack = await startStack({
    postgresUrl: postgres.url,
    databasePrefix: 'saldo',
    shardsPerSubgraph: config.SHARDS_PER_SUBGRAPH,
    host: config.HOST,
    ports: {
      gateway: config.GATEWAY_PORT,
      tenants: config.TENANTS_PORT,
      billing: config.BILLING_PORT,
      usageForecast: config.USAGE_FORECAST_PORT,
      whiteLabel: config.WHITE_LABEL_PORT,
    },
    logger,
    logLevel: config.LOG_LEVEL,
    keys: await embeddedKeys(config.SALDO_HOME),
    stripeStandInPort: config.STRIPE_STAND_IN_PORT,
    devSignInPort: config.DEV_SIGN_IN_PORT,
    ...(customDomains ? { whiteLabelEnv: customDomains.whiteLabelEnv } : {}),
    tenantsEnv: { SMTP_URL: config.SMTP_URL ?? mailCatcher!.smtpUrl, WEBHOOK_SECRETS_KEY: await embeddedEncryptionKey(config.SALDO_HOME, 'webhooks') },
    ...(config.STRIPE_SECRET_KEY && config.STRIPE_WEBHOOK_SECRET
      ? { stripe: { secretKey: config.STRIPE_SECRET_KEY, webhookSecret: config.STRIPE_WEBHOOK_SECRET } }
      : {}),
  });
  if (config.SEED_DEMO_DATA) await seedDemoData(stack, logger);
} catch (error) {
  logger.debug('start failed', { error });
  // What did start stops again, so nothing is left holding ports or the data directory.
  await stack?.stop().catch(() => undefined);
  await customDomains?.stop().catch(() => undefined);
  await mailCatcher?.stop().catch(() => undefined);
  await postgres.stop().catch(() => undefined);
  startFailed(error, config);
}

const running = stack;
const runningDomains = customDomains;
stopOnSignals(async () => {
  await running.stop();
  await runningDomains?.stop();
  await mailCatcher?.stop();
  await postgres.stop();
}, logger);

const url = running.graphqlUrl.replace('127.0.0.1', 'localhost');
process.stdout.write(
  `\n  Saldo is running.\n\n  Gateway (GraphQL + Apollo Sandbox): ${url}\n` +
    (running.portalUrl
      ? `  Portal:       ${running.portalUrl.replace('127.0.0.1', 'localhost')}   (development sign-in: pick a demo user by role)\n`
      : `  Portal:       not built (run pnpm build)\n`) +
    `  Get a token:  pnpm -s token --role admin   (then in Sandbox: Headers -> Authorization: Bearer <token>)\n` +
    (running.stripeStandIn
      ? `  Stripe:       development stand-in at ${running.stripeStandIn.url} (NOT Stripe; set STRIPE_SECRET_KEY to use a test account)\n`
      : `  Stripe:       test account; forward its webhooks to ${running.billing.url}/webhooks/stripe (e.g. stripe listen --forward-to)\n`) +
    (runningDomains ? runningDomains.banner : '  Custom domains: no web server (WEB_SERVER=none): verified domains are not served\n') +
    (mailCatcher
      ? `  Mail inbox:   ${mailCatcher.inboxUrl}   (development mail catcher: every notification mail lands here)\n`
      : `  Mail:         sent through ${config.SMTP_URL}\n`) +
    `\n  Press Ctrl-C to stop.\n\n`,
);
