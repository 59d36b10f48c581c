import { createLogger, stopOnSignals } from '@saldo/service';
import { loadFullStackConfig } from './config.js';
import { startFullStack } from './launcher.js';

// `pnpm start:full`: docker-compose.yml's services as processes of this machine (see launcher.ts). Ctrl-C stops them.
const config = loadFullStackConfig(process.env);
const logger = createLogger({ service: 'full-stack', level: config.LOG_LEVEL, format: config.LOG_FORMAT });

let stack;
try {
  stack = await startFullStack({
    home: config.FULL_STACK_HOME,
    postgresUrl: config.FULL_STACK_POSTGRES_URL,
    databasePrefix: config.FULL_STACK_DATABASE_PREFIX,
    redisUrl: config.FULL_STACK_REDIS_URL,
    freePorts: config.FULL_STACK_PORTS === 'free',
    interpolation: process.env,
    devIssuer: config.FULL_STACK_DEV_ISSUER,
    path: config.PATH,
    ...(config.FULL_STACK_ONLY ? { only: config.FULL_STACK_ONLY } : {}),
    logger,
    output: (service, line) => process.stdout.write(`${service.padEnd(18)} | ${line}\n`),
  });
} catch (error) {
  logger.error('start failed', { error });
  process.exit(1);
}

const running = stack;
stopOnSignals(async () => {
  const exits = await running.stop();
  const unclean = exits.filter((exit) => exit.code !== 0);
  for (const exit of unclean) logger.error('service did not stop cleanly', { ...exit });
  if (unclean.length > 0) throw new Error(`${unclean.length} service(s) did not exit 0`);
}, logger);

const token = config.FULL_STACK_DEV_ISSUER
  ? await running.issueToken({ role: 'platform-admin', subject: 'full-stack-admin' }).catch(() => undefined)
  : undefined;
process.stdout.write(
  `\n  Saldo's full stack is running, one process per docker-compose.yml service:\n` +
    Object.entries(running.pids)
      .map(
        ([service, pid]) =>
          `    ${service.padEnd(20)} pid ${pid}${running.environments[service]?.PORT ? `  http://127.0.0.1:${running.environments[service]!.PORT}` : ''}`,
      )
      .join('\n') +
    `\n\n  Gateway: ${running.graphqlUrl}\n` +
    (token ? `  Development admin token (12 h; the gateway trusts the launcher's development issuer):\n    ${token}\n` : '') +
    `\n  Press Ctrl-C to stop.\n\n`,
);
