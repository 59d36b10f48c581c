import { fields, z } from '@saldo/config';
import type { JobSettings } from '@saldo/jobs';
import type { OutboxRetentionSettings } from './outbox-retention.js';
import { observabilityConfigFields } from '@saldo/observability';
import { breakerConfigFields } from '@saldo/resilience';
import { DEFAULT_COPY_PACE, DEFAULT_SHARD_CAPACITY, type ShardingConfig } from '@saldo/sharding';

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
  /** Positions in SHARD_DATABASE_URLS (0-based, comma-separated) that take no new tenants; their tenants stay until moved. */
  SHARD_DRAINING: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0)
        .map(Number),
    )
    .pipe(z.array(z.number().int().min(0)))
    .default([]),
  /** One shard's capacity (every shard alike); a shard's load is the highest of its four ratios to these. */
  SHARD_CAPACITY_TENANTS: fields.positiveInt(DEFAULT_SHARD_CAPACITY.tenants),
  SHARD_CAPACITY_ROWS: fields.positiveInt(DEFAULT_SHARD_CAPACITY.rows),
  SHARD_CAPACITY_BYTES: fields.positiveInt(DEFAULT_SHARD_CAPACITY.bytes),
  SHARD_CAPACITY_WRITES_PER_SECOND: fields.positiveInt(DEFAULT_SHARD_CAPACITY.writesPerSecond),
  /** Seconds a moved tenant's rows stay on the old shard after the switch (every instance's cache learns of it meanwhile). */
  SHARD_MOVE_GRACE_SECONDS: z.coerce.number().min(0).max(86_400).default(30),
  /**
   * A move's copy goes at most this fast (rows/s), and slows down to the floor while the shards' live transactions wait
   * (see docs/decisions/0013-shard-moves.md, "Pacing the copy"). The floor bounds a move's length on a busy shard.
   */
  SHARD_MOVE_COPY_MAX_ROWS_PER_S: fields.positiveInt(DEFAULT_COPY_PACE.maxRowsPerS),
  SHARD_MOVE_COPY_MIN_ROWS_PER_S: fields.positiveInt(DEFAULT_COPY_PACE.minRowsPerS),
  /** Rebalancing: a shard whose load passes this share of its capacity sheds tenants (the product strategy's 80 %). */
  SHARD_REBALANCE_THRESHOLD: z.coerce.number().gt(0).max(1).default(0.8),
  /** At most this many unfinished moves at once, whoever planned them (the automatic planner, an operator's rebalance). */
  SHARD_REBALANCE_MAX_CONCURRENT_MOVES: fields.positiveInt(2),
  /** Plan and start moves for shards past the threshold on this schedule (a durable job, once across instances). */
  SHARD_REBALANCE_AUTO: fields.boolean(true),
  SHARD_REBALANCE_CRON: z.string().min(9).default('*/5 * * * *'),
  OUTBOX_POLL_INTERVAL_MS: fields.positiveInt(500),
  /**
   * Published outbox events are deleted this many hours after their publication (0: never), by an hourly durable job
   * over the control database and every shard; unpublished events are never deleted. Keep it longer than a restore's
   * replay window (the backup tool's BACKUP_REPLAY_MINUTES, at most 7 days): a replay resends only what is still there.
   */
  OUTBOX_RETENTION_HOURS: z.coerce.number().int().min(0).max(87_600).default(168),
  /** When the retention pass runs (UTC; once across instances). Off the hour, away from the jobs scheduled on it. */
  OUTBOX_RETENTION_CRON: z.string().min(9).default('23 * * * *'),
  /** Rows one retention statement deletes (each its own short transaction). */
  OUTBOX_RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(5_000),
  /** Where the outbox relay publishes and consumers subscribe: in-process (embedded default) or Kafka. */
  EVENT_BUS: z.enum(['memory', 'kafka']).default('memory'),
  /** Comma-separated `host:port` seed brokers; required when EVENT_BUS=kafka (checked by createEventBus). */
  KAFKA_BROKERS: fields
    .commaList()
    .pipe(z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'every entry must be host:port')))
    .optional(),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  /**
   * Idempotent producer (default). Off only against librdkafka's mock cluster (`pnpm start:full`, tests): it names a
   * controller that is none of its brokers, so kafkajs cannot get a producer id. Per-key order does not depend on it.
   */
  KAFKA_IDEMPOTENT: fields.boolean(true),
  /** Longest one outbox publish to Kafka may take (kafkajs' retries included) before it is abandoned and retried later. */
  KAFKA_PUBLISH_TIMEOUT_MS: fields.positiveInt(15_000),
  /**
   * The Kafka producer's circuit breaker: this many failed publishes in a row open it; publishes then fail at once (the
   * outbox keeps the events) until a trial publish KAFKA_BREAKER_HALF_OPEN_MS later succeeds.
   */
  ...breakerConfigFields('KAFKA', { failureThreshold: 5, halfOpenAfterMs: 5_000 }),
  LOG_LEVEL: fields.logLevel(),
  LOG_FORMAT: fields.logFormat(),
  /** OpenTelemetry: OTLP trace export when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set, off otherwise. */
  ...observabilityConfigFields,
  /** The gateway's public key (PEM, or IDENTITY_PUBLIC_KEY_FILE): requests without an identity it signed are refused. */
  IDENTITY_PUBLIC_KEY: fields.pem(),
  /**
   * The longest lifetime (exp - iat) of a forwarded identity this subgraph accepts: the gateway's IDENTITY_TTL_SECONDS
   * (set both alike). A token minted with a longer lifetime is refused, so a leaked one is useless within that bound.
   */
  IDENTITY_TTL_SECONDS: z.coerce.number().int().min(5).max(300).default(30),
  /** PostgreSQL schema of the durable job queue (pg-boss) in the control database. */
  JOBS_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .default('pgboss'),
  /** Connections of the job queue's own pool (polls, sends outside a transaction, maintenance). */
  JOBS_POOL_MAX: fields.positiveInt(2),
  /** Run job workers on this instance; false for replicas that only serve the API (they still enqueue). */
  JOBS_WORKERS: fields.boolean(true),
  /** Seconds between an idle worker's polls for new jobs. */
  JOBS_POLLING_INTERVAL_SECONDS: z.coerce.number().min(0.5).max(3600).default(2),
  /** Seconds between checks for expired attempts and lapsed heartbeats: how soon a crashed instance's jobs are retried. */
  JOBS_SUPERVISE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** Seconds between refreshes of the per-queue depth counts (metrics). */
  JOBS_MONITOR_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** On stop, seconds to wait for running jobs before handing them back to the queue (they are retried). */
  JOBS_STOP_TIMEOUT_SECONDS: z.coerce.number().min(1).max(3600).default(20),
  /** Hold one LISTEN connection so queues declared with `notify` wake their workers at once. */
  JOBS_LISTEN_NOTIFY: fields.boolean(false),
});

export type SubgraphConfig = z.output<typeof subgraphConfigSchema>;

export function shardingConfig(config: SubgraphConfig): ShardingConfig {
  return {
    controlUrl: config.CONTROL_DATABASE_URL,
    shardUrls: config.SHARD_DATABASE_URLS,
    poolMax: config.DATABASE_POOL_MAX,
    createDatabases: config.CREATE_DATABASES,
    drainingShards: config.SHARD_DRAINING,
    capacity: {
      tenants: config.SHARD_CAPACITY_TENANTS,
      rows: config.SHARD_CAPACITY_ROWS,
      bytes: config.SHARD_CAPACITY_BYTES,
      writesPerSecond: config.SHARD_CAPACITY_WRITES_PER_SECOND,
    },
  };
}

export function jobSettings(config: SubgraphConfig): JobSettings {
  return {
    schema: config.JOBS_SCHEMA,
    poolMax: config.JOBS_POOL_MAX,
    runWorkers: config.JOBS_WORKERS,
    pollingIntervalSeconds: config.JOBS_POLLING_INTERVAL_SECONDS,
    superviseIntervalSeconds: config.JOBS_SUPERVISE_INTERVAL_SECONDS,
    monitorIntervalSeconds: config.JOBS_MONITOR_INTERVAL_SECONDS,
    stopTimeoutSeconds: config.JOBS_STOP_TIMEOUT_SECONDS,
    listenNotify: config.JOBS_LISTEN_NOTIFY,
  };
}

export function outboxRetentionSettings(config: SubgraphConfig): OutboxRetentionSettings {
  return { hours: config.OUTBOX_RETENTION_HOURS, batchSize: config.OUTBOX_RETENTION_BATCH_SIZE };
}
