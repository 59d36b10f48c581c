/**
 * One line per service event. "pretty" is for people at a terminal, "json" for log shippers.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(service: string): Logger;
}

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  format?: 'pretty' | 'json';
  write?: (line: string) => void;
}

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? 'pretty';
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));

  const log = (at: LogLevel, message: string, fields: LogFields = {}): void => {
    if (SEVERITY[at] < SEVERITY[level]) return;
    const time = new Date();
    if (format === 'json') {
      write(JSON.stringify({ time: time.toISOString(), level: at, service: options.service, msg: message, ...serializable(fields) }));
      return;
    }
    const clock = time.toISOString().slice(11, 23);
    const extras = Object.entries(fields)
      .map(([key, value]) => `${key}=${formatValue(value)}`)
      .join(' ');
    const oneLine = message.replace(/\s*\n\s*/g, ' ');
    write(`${clock} ${at.toUpperCase().padEnd(5)} [${options.service}] ${oneLine}${extras ? ` ${extras}` : ''}`);
  };

  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
    child: (service) => createLogger({ ...options, service }),
  };
}

function serializable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) out[key] = value instanceof Error ? { message: value.message, stack: value.stack } : value;
  return out;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value);
}

/** The `{ debug, info, warn, error }(...args)` shape Apollo Server and Apollo Gateway log through. */
export interface VariadicLogger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Routes a library's logging through ours, so every line has the same format. */
export function variadicLogger(logger: Logger): VariadicLogger {
  const join = (args: unknown[]) => args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ');
  return {
    debug: (...args) => logger.debug(join(args)),
    info: (...args) => logger.info(join(args)),
    warn: (...args) => logger.warn(join(args)),
    error: (...args) => logger.error(join(args)),
  };
}
