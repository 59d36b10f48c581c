import { fields, parseConfig, z, type Env } from '@saldo/config';

const benchConfigSchema = z.object({
  /** PostgreSQL server the benchmark creates its own databases on (dropped afterwards). */
  BENCH_POSTGRES_URL: fields.postgresUrl().default('postgres://postgres@127.0.0.1:5432'),
  BENCH_RPS: fields.positiveInt(300),
  BENCH_DURATION_S: fields.positiveInt(20),
  BENCH_WARMUP_S: fields.positiveInt(3),
  BENCH_AUTH_ITERATIONS: fields.positiveInt(20_000),
  /** Comma-separated benchmark names to run; all when unset. */
  BENCH_ONLY: z.string().optional(),
});

export type BenchConfig = z.output<typeof benchConfigSchema>;

export function loadBenchConfig(env: Env): BenchConfig {
  return parseConfig('bench', benchConfigSchema, env);
}
