import { fields, parseConfig, z, type Env } from '@saldo/config';
import { DEFAULT_COPY_PACE } from '@saldo/sharding';

const benchConfigSchema = z.object({
  /** PostgreSQL server the benchmark creates its own databases on (dropped afterwards). */
  BENCH_POSTGRES_URL: fields.postgresUrl().default('postgres://postgres@127.0.0.1:5432'),
  /** The machine's Redis (BENCH_TOPOLOGY=services: the compose file's `redis`). */
  BENCH_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  /**
   * `embedded`: every service in the benchmark's process (startStack). `services`: one process per docker-compose.yml
   * service (`pnpm start:full`'s launcher), for the benchmarks that support it (gateway-latency, gateway-compare).
   */
  BENCH_TOPOLOGY: z.enum(['embedded', 'services']).default('embedded'),
  /** DATABASE_POOL_MAX of each service process in the services topology (compose says 10; PostgreSQL here allows 100 in all). */
  BENCH_SERVICES_POOL_MAX: fields.positiveInt(5),
  /** gateway-latency in the services topology: seconds of measuring every process's CPU with no load, before the load. */
  BENCH_SERVICES_IDLE_S: fields.positiveInt(10),
  BENCH_RPS: fields.positiveInt(300),
  /**
   * Observability: the fixed arrival rate of its latency rows; 0 (default) takes a third of the closed-loop throughput measured
   * without tracing or scraping during the warm-up, so the rate stays below what the machine serves and p95 measures
   * service, not queueing.
   */
  BENCH_OBS_RPS: z.coerce.number().int().min(0).default(0),
  /**
   * Observability: rounds of alternating modes (each round measures every mode once, paired with that round's baseline),
   * and the measured seconds of each slot's closed loop and of its fixed-rate run (after 1 s of warm-up each).
   */
  BENCH_OBS_ROUNDS: fields.positiveInt(4),
  /**
   * Observability: processes per mode (each the embedded stack over its own databases). Single processes of one mode
   * differ by several per cent; each mode's figure is the mean of its processes, and two baseline processes compared with
   * each other give the run's noise floor.
   */
  BENCH_OBS_PROCESSES: fields.positiveInt(2),
  BENCH_OBS_SLOT_S: fields.positiveInt(5),
  /** Observability: the sample ratio of the "production setting" mode (parentbased_traceidratio). */
  BENCH_OBS_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(0.1),
  BENCH_DURATION_S: fields.positiveInt(20),
  /** Load before measuring: JIT warm-up and the seed's event backlog (relays, aggregation) settle first. */
  BENCH_WARMUP_S: fields.positiveInt(10),
  BENCH_AUTH_ITERATIONS: fields.positiveInt(20_000),
  /** Subscriptions (a): subscribed tenants, and usage events (postings) per second spread over them. */
  BENCH_SUB_TENANTS: fields.positiveInt(1_000),
  BENCH_SUB_RATE: fields.positiveInt(500),
  /** Subscriptions (a): the informational lower rates measured before the design rate (comma-separated; empty for none). */
  BENCH_SUB_LOWER_RATES: z
    .string()
    .regex(/^(\d+(,\d+)*)?$/, 'comma-separated positive integers')
    .optional(),
  /** Subscriptions (b): WebSocket subscriptions on the one gateway, over this many tenants (each posted once a second). */
  BENCH_SUB_CONNECTIONS: fields.positiveInt(10_000),
  BENCH_SUB_FANOUT_TENANTS: fields.positiveInt(20),
  /** Which subscription scenarios run: a (latency), b (many connections), or both. */
  BENCH_SUB_SCENARIOS: z
    .string()
    .regex(/^[ab](,[ab])?$/, 'a, b or a,b')
    .default('a,b'),
  /** Measured seconds of each subscription scenario (after a 2 s warm-up). */
  BENCH_SUB_DURATION_S: fields.positiveInt(20),
  /** Jobs: the burst drained by one instance's workers, and how many run at once. */
  BENCH_JOBS_BURST: fields.positiveInt(5_000),
  BENCH_JOBS_CONCURRENCY: fields.positiveInt(8),
  /** Jobs: batch size of the batched drain (with a quarter of the pollers). */
  BENCH_JOBS_BATCH: fields.positiveInt(20),
  /** Forecast: training size (tenants x days of synthetic history), the backtest's tenants, Tenant.forecast's rate. */
  BENCH_FORECAST_SERIES: fields.positiveInt(10_000),
  BENCH_FORECAST_DAYS: fields.positiveInt(180),
  BENCH_FORECAST_BACKTEST_SERIES: fields.positiveInt(2_000),
  BENCH_FORECAST_RPS: fields.positiveInt(100),
  /** Forecast: which parts run (comma-separated): training, backtest, fraud, gateway (Tenant.forecast through the gateway). */
  BENCH_FORECAST_PARTS: z
    .string()
    .regex(/^(training|backtest|fraud|gateway)(,(training|backtest|fraud|gateway))*$/, 'comma-separated: training, backtest, fraud, gateway')
    .default('training,backtest,fraud,gateway'),
  /** Forecast: measured seconds of each one-request-after-the-other run (after 3 s of warm-up). */
  BENCH_FORECAST_SEQUENTIAL_S: fields.positiveInt(15),
  BENCH_FRAUD_TENANTS: fields.positiveInt(20_000),
  /** Domains: verifyCustomDomain -> first HTTPS 200 measured this many times; and the web server with this many domains. */
  BENCH_DOMAINS_SAMPLES: fields.positiveInt(10),
  BENCH_DOMAINS_COUNT: fields.positiveInt(1_000),
  /** Notifications: tenants that cross their low-balance threshold in one burst (one mail and one webhook each). */
  BENCH_NOTIFY_EVENTS: fields.positiveInt(5_000),
  /** Backup: ledger entries in the deployment backed up and restored, over this many accounts; pg_dump jobs and --compress. */
  BENCH_BACKUP_ENTRIES: fields.positiveInt(1_000_000),
  BENCH_BACKUP_TENANTS: fields.positiveInt(1_000),
  BENCH_BACKUP_JOBS: fields.positiveInt(2),
  BENCH_BACKUP_COMPRESSION: z.string().default('1'),
  /** Notifications: pooled SMTP connections of the notifier. Unset: the tenants subgraph's default (SMTP_MAX_CONNECTIONS). */
  BENCH_NOTIFY_SMTP_CONNECTIONS: z.coerce.number().int().positive().optional(),
  /** gateway-compare: closed-loop connections (max throughput), the fixed rate for latency, tenants, and timing. */
  BENCH_COMPARE_CONNECTIONS: fields.positiveInt(20),
  BENCH_COMPARE_RPS: fields.positiveInt(150),
  BENCH_COMPARE_TENANTS: fields.positiveInt(100),
  BENCH_COMPARE_DURATION_S: fields.positiveInt(10),
  BENCH_COMPARE_WARMUP_S: fields.positiveInt(3),
  /** Rounds of alternation (each round measures every gateway on every workload once). */
  BENCH_COMPARE_ROUNDS: fields.positiveInt(2),
  /** Documents: renders per timed scenario, usage lines of the big statement, and the monthly run's size. */
  BENCH_DOCUMENTS_RENDERS: fields.positiveInt(500),
  BENCH_DOCUMENTS_STATEMENT_LINES: fields.positiveInt(10_000),
  BENCH_DOCUMENTS_TENANTS: fields.positiveInt(10_000),
  /** Documents: usage postings per tenant in the month of the run (plus one top-up). */
  BENCH_DOCUMENTS_USAGE_PER_TENANT: fields.positiveInt(30),
  /** Rebalancing: ledger entries of the tenant moved once, and the rate of recordUsage calls on it during the move. */
  BENCH_REBALANCE_ENTRIES: fields.positiveInt(1_000_000),
  BENCH_REBALANCE_WRITE_RATE: fields.positiveInt(200),
  /** Rebalancing: moves back and forth of a smaller tenant (its entries) for the fence's p50/p99. */
  BENCH_REBALANCE_MOVES: fields.positiveInt(20),
  BENCH_REBALANCE_SMALL_ENTRIES: fields.positiveInt(10_000),
  /** Rebalancing: the copy's pace (rows/s ceiling and floor), the movers' defaults when unset. */
  BENCH_REBALANCE_COPY_MAX_ROWS_PER_S: fields.positiveInt(DEFAULT_COPY_PACE.maxRowsPerS),
  BENCH_REBALANCE_COPY_MIN_ROWS_PER_S: fields.positiveInt(DEFAULT_COPY_PACE.minRowsPerS),
  /** subgraph-cost: federated queries replayed per scenario (after a third as many for warm-up), and how many at once. */
  BENCH_SUBGRAPH_COST_QUERIES: fields.positiveInt(3_000),
  BENCH_SUBGRAPH_COST_CONCURRENCY: fields.positiveInt(8),
  /** Comma-separated benchmark names to run; all when unset. */
  /** Portal: reloads of a signed-in dashboard, and usage events whose balance is timed until painted. */
  BENCH_PORTAL_LOADS: fields.positiveInt(20),
  BENCH_PORTAL_UPDATES: fields.positiveInt(200),
  BENCH_ONLY: z.string().optional(),
});

export type BenchConfig = z.output<typeof benchConfigSchema>;

export function loadBenchConfig(env: Env): BenchConfig {
  return parseConfig('bench', benchConfigSchema, env);
}
