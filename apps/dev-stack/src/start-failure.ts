import { ConfigError } from '@saldo/config';
import { EmbeddedPostgresStartError } from './postgres.js';

/**
 * One line saying why `pnpm start` stopped and what to do, for any error of the start: the embedded PostgreSQL's
 * causes (port, data directory, lock), a port of a service taken, invalid configuration; anything else by its message.
 * `ports` maps the configured ports to their variables (GATEWAY_PORT, ...) so the line names the one to change.
 */
export function startFailureLine(error: unknown, ports: Record<string, number> = {}): string {
  if (error instanceof EmbeddedPostgresStartError) return error.message;
  if (error instanceof ConfigError) return `invalid configuration: ${error.problems.join('; ')}`;
  const failure = error as { code?: unknown; port?: unknown; address?: unknown; message?: unknown } | null | undefined;
  if (failure && (failure.code === 'EADDRINUSE' || failure.code === 'EACCES') && typeof failure.port === 'number') {
    const port = failure.port;
    const variable = Object.entries(ports).find(([, value]) => value === port)?.[0];
    const where = `port ${port}${variable ? ` (${variable})` : ''}${typeof failure.address === 'string' ? ` on ${failure.address}` : ''}`;
    const change = variable ? `${variable}=<another port> pnpm start` : 'another port';
    return failure.code === 'EADDRINUSE'
      ? `${where} is taken by another program (another Saldo?): stop it, or choose another port: ${change}`
      : `${where} needs privileges this user does not have: choose a port above 1023: ${change}`;
  }
  const message = error instanceof Error ? error.message : typeof failure?.message === 'string' ? failure.message : String(error);
  return `${(message || 'unknown error').split('\n')[0]} (details: LOG_LEVEL=debug pnpm start)`;
}

/** The configured ports of the embedded default by variable name, from its configuration. */
export function configuredPorts(config: object): Record<string, number> {
  return Object.fromEntries(Object.entries(config).filter((entry): entry is [string, number] => entry[0].endsWith('_PORT') && typeof entry[1] === 'number'));
}
