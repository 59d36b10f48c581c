import { fields, z } from '@saldo/config';
import type { ShardingConfig } from '@saldo/sharding';

/**
 * Settings every subgraph shares. Each subgraph's own config module extends this schema with its
 * domain settings and parses process.env once at start.
 */
export const subgraphConfigSchema = z.object({
  NODE_ENV: fields.nodeEnv(),
  HOST: z.string().default('127.0.0.1'),
  PORT: fields.port(0),
  CONTROL_DATABASE_URL: fields.postgresUrl(),
  SHARD_DATABASE_URLS: fields.postgresUrlList(),
  DATABASE_POOL_MAX: fields.positiveInt(5),
  CREATE_DATABASES: fields.boolean(false),
  OUTBOX_POLL_INTERVAL_MS: fields.positiveInt(500),
  /** Where the outbox relay publishes and consumers subscribe: in-process (embedded default) or Kafka. */
  EVENT_BUS: z.enum(['memory', 'kafka']).default('memory'),
  /** Comma-separated `host:port` seed brokers; required when EVENT_BUS=kafka (checked by createEventBus). */
  KAFKA_BROKERS: z
    .string()
    .transform((value) => value.split(',').map((part) => part.trim()).filter((part) => part.length > 0))
    .pipe(z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'every entry must be host:port')))
    .optional(),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  LOG_LEVEL: fields.logLevel(),
  LOG_FORMAT: fields.logFormat(),
  /** The gateway's public key (PEM, or IDENTITY_PUBLIC_KEY_FILE): requests without an identity it signed are refused. */
  IDENTITY_PUBLIC_KEY: fields.pem(),
});

export type SubgraphConfig = z.output<typeof subgraphConfigSchema>;

export function shardingConfig(config: SubgraphConfig): ShardingConfig {
  return {
    controlUrl: config.CONTROL_DATABASE_URL,
    shardUrls: config.SHARD_DATABASE_URLS,
    poolMax: config.DATABASE_POOL_MAX,
    createDatabases: config.CREATE_DATABASES,
  };
}
