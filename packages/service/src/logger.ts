import pino, { type DestinationStream } from 'pino';
import { currentLogContext, logContextFields } from './log-context.js';
import { dropWritesToGoneOutput, isOutputGone } from './output.js';
import { redactFields, scrub } from './redact.js';

/**
 * One line per service event, written by pino (docs/decisions/0026-observability.md): JSON for log shippers, or the
 * same record laid out for people at a terminal ("pretty"). By default ("auto") a terminal gets pretty lines and
 * anything else (a file, a pipe, a container's log driver) JSON. Lines written while a request is served carry its
 * trace id and tenant id (log-context.ts); secrets, tokens and card data are removed from every line (redact.ts).
 * Once stdout's reader is gone (its terminal closed: EIO; its pipe's reader exited: EPIPE) lines are dropped: logging
 * never throws into the code that logs, so a service whose terminal closed still stops cleanly (output.ts).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export type LogFormat = 'pretty' | 'json' | 'auto';

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
  format?: LogFormat;
  /** Where lines go (one call per line, without the newline); stdout by default. */
  write?: (line: string) => void;
}

const NO_FIELDS = Object.freeze({});

export function createLogger(options: LoggerOptions): Logger {
  const format = options.format === 'json' || options.format === 'pretty' ? options.format : process.stdout.isTTY ? 'pretty' : 'json';
  if (!options.write) dropWritesToGoneOutput();
  return build(options.service, options.level ?? 'info', destination(format, options.write));
}

function build(service: string, level: LogLevel, stream: DestinationStream): Logger {
  const log = pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // The request's trace and tenant, read when a line is written (nothing is done per request for lines never written).
      // (pino merges the line's fields into the object returned, so it must be a fresh one)
      mixin: () => {
        const context = currentLogContext();
        return context ? logContextFields(context) : {};
      },
    },
    stream,
  );
  const write = (at: LogLevel, message: string, fields: LogFields | undefined): void => {
    if (!log.isLevelEnabled(at)) return;
    log[at](fields ? redactFields(fields) : NO_FIELDS, scrub(message));
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    // A fresh pino on the same stream rather than pino's child: a child's bindings would repeat the `service` key.
    child: (child) => build(child, level, stream),
  };
}

function destination(format: 'pretty' | 'json', write: ((line: string) => void) | undefined): DestinationStream {
  if (format === 'json') {
    if (!write) return jsonToStdout();
    return { write: (line: string) => write(line.endsWith('\n') ? line.slice(0, -1) : line) };
  }
  const out = write ?? ((line: string) => process.stdout.write(`${line}\n`));
  return { write: (line: string) => out(pretty(line)) };
}

/**
 * pino's synchronous stdout writer, which stops at the first write whose reader is gone: its write error would be
 * thrown into whatever logged (pino itself swallows EPIPE only, not a closed terminal's EIO).
 */
function jsonToStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: true });
  let gone = false;
  stream.on('error', (error: unknown) => {
    if (!isOutputGone(error)) throw error;
    gone = true;
  });
  return { write: (line: string) => (gone ? undefined : stream.write(line)) };
}

/** `12:00:00.000 INFO  [service] message key=value ...` from pino's JSON record (terminal use only: it parses the line). */
function pretty(line: string): string {
  const { time, level, service, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const extras = Object.entries(fields)
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ');
  const oneLine = String(msg ?? '').replace(/\s*\n\s*/g, ' ');
  return `${clock} ${String(level).toUpperCase().padEnd(5)} [${String(service)}] ${oneLine}${extras ? ` ${extras}` : ''}`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (value && typeof value === 'object' && 'message' in value && 'stack' in value) return JSON.stringify((value as { message: unknown }).message);
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
