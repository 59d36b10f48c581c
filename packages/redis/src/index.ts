import { Redis } from 'ioredis';
import { SpanKind, sampledParent, withLeafSpan, type Logger } from '@saldo/service';

export { Redis };

export interface RedisConnection {
  redis: Redis;
  /** Resolves true once connected, false if not within `timeoutMs` (callers fall back and say so). */
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A Redis connection for guards that must never stall a request (rate limits, locks): no offline queue, no
 * retries per command, a short command timeout, so an unavailable Redis costs at most `commandTimeoutMs` before
 * the caller's fallback decides; ioredis reconnects by itself. Connection errors are logged at debug level only:
 * callers report outages themselves, throttled, instead of one line per reconnect attempt.
 */
export function connectRedis(url: string, options: { name: string; logger: Logger; commandTimeoutMs: number }): RedisConnection {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectionName: options.name,
    // close() on a connection that never came up would otherwise hold the process for 2 s
    disconnectTimeout: 200,
  });
  redis.on('error', (error: Error) => options.logger.debug('redis connection error', { error: error.message }));
  traceCommands(redis, options.name);
  return {
    redis,
    ready: (timeoutMs = 2_000) =>
      new Promise<boolean>((resolve) => {
        if (redis.status === 'ready') return resolve(true);
        const done = (connected: boolean): void => {
          clearTimeout(timer);
          redis.off('ready', onReady);
          resolve(connected);
        };
        const onReady = (): void => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        redis.once('ready', onReady);
      }),
    close: async () => {
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}

/**
 * A CLIENT span per command sent inside a traced operation (rate-limit scripts, APQ reads and writes); with tracing off
 * one boolean test per command. Only the command's name is recorded, never its keys or values.
 */
function traceCommands(redis: Redis, connection: string): void {
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], stream?: Parameters<Redis['sendCommand']>[1]) => {
    if (!sampledParent()) return send(command, stream);
    return withLeafSpan(
      SpanKind.CLIENT,
      () => {
        const name = command.name.toUpperCase();
        return { name: `redis ${name}`, attributes: { 'db.system.name': 'redis', 'db.operation.name': name, 'saldo.redis.connection': connection } };
      },
      () => Promise.resolve(send(command, stream)),
    );
  }) as Redis['sendCommand'];
}
