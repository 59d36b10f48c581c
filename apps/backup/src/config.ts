import { fields, parseConfig, z, type Env } from '@saldo/config';

/** Every subgraph whose databases a backup holds, in the order they are listed (the names of their databases). */
export const SUBGRAPHS = ['tenants', 'billing', 'usage-forecast', 'white-label'] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];

/** `usage-forecast` -> `USAGE_FORECAST` (the prefix of its per-subgraph variables). */
export const envName = (subgraph: SubgraphName) => subgraph.toUpperCase().replaceAll('-', '_');

const urlList = fields.commaList().pipe(z.array(z.string().regex(/^postgres(ql)?:\/\//, 'every entry must be a postgres:// URL')));

const perSubgraph = Object.fromEntries(
  SUBGRAPHS.flatMap((subgraph) => [
    [`${envName(subgraph)}_CONTROL_DATABASE_URL`, fields.postgresUrl().optional()],
    [`${envName(subgraph)}_SHARD_DATABASE_URLS`, urlList.optional()],
  ]),
) as Record<string, z.ZodOptional<z.ZodType<string>> | z.ZodOptional<z.ZodType<string[]>>>;

/**
 * `pnpm backup` / `pnpm restore` settings. Which deployment: by default the embedded one of `pnpm start` (its PostgreSQL
 * on 127.0.0.1:54329, databases `saldo_<subgraph>_control` and `saldo_<subgraph>_shard_<i>`); the full stack's
 * databases are `<subgraph>_control` / `<subgraph>_shard_<i>` (BACKUP_DATABASE_PREFIX=""). A subgraph whose databases
 * live elsewhere is named by its own variables, as that subgraph's service gets them: `<SUBGRAPH>_CONTROL_DATABASE_URL`
 * and `<SUBGRAPH>_SHARD_DATABASE_URLS` (e.g. BILLING_CONTROL_DATABASE_URL). A backup finds the shards in each control
 * database's shard directory unless they are listed; a restore creates them by the same names.
 */
export const backupConfigSchema = z.object({
  BACKUP_POSTGRES_URL: fields.postgresUrl().default('postgres://postgres:saldo-embedded@127.0.0.1:54329/postgres'),
  BACKUP_DATABASE_PREFIX: z
    .string()
    .regex(/^([a-z_][a-z0-9_]{0,30})?$/, 'must be empty or a lower-case SQL identifier')
    .default('saldo'),
  /** pg_dump / pg_restore worker connections per database (directory format). */
  BACKUP_JOBS: fields.positiveInt(2),
  /** pg_dump's --compress: a gzip level 0-9 (pg_dump 16+ also takes gzip:N, lz4, zstd:N). */
  BACKUP_COMPRESSION: z
    .string()
    .regex(/^(none|\d|gzip(:\d)?|lz4(:\d+)?|zstd(:\d+)?)$/, 'must be a pg_dump --compress value')
    .default('1'),
  /** Databases dumped (or restored) at the same time. */
  BACKUP_PARALLEL_DATABASES: fields.positiveInt(4),
  /**
   * On restore: outbox events published up to this many minutes before the backup began are marked unpublished, so the
   * relay sends them again and every consumer whose database was copied a moment before it handled them catches up
   * (consumers are idempotent by event id). 0 turns it off.
   */
  BACKUP_REPLAY_MINUTES: z.coerce.number().int().min(0).max(10_080).default(15),
  /** Directory holding pg_dump and pg_restore; default: the PATH. Use the client version of the server (or newer). */
  PG_BIN_DIR: z.string().min(1).optional(),
  LOG_LEVEL: fields.logLevel(),
  ...perSubgraph,
});

export interface BackupConfig {
  postgresUrl: string;
  databasePrefix: string;
  jobs: number;
  compression: string;
  parallelDatabases: number;
  replayMinutes: number;
  pgBinDir: string | undefined;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Explicit databases of a subgraph (from its variables); otherwise named by prefix on BACKUP_POSTGRES_URL. */
  subgraphs: Partial<Record<SubgraphName, { control: string; shards: string[] | undefined }>>;
}

export function loadBackupConfig(env: Env): BackupConfig {
  const parsed = parseConfig('backup', backupConfigSchema, env) as Record<string, unknown> & z.output<typeof backupConfigSchema>;
  const subgraphs: BackupConfig['subgraphs'] = {};
  for (const subgraph of SUBGRAPHS) {
    const control = parsed[`${envName(subgraph)}_CONTROL_DATABASE_URL`] as string | undefined;
    const shards = parsed[`${envName(subgraph)}_SHARD_DATABASE_URLS`] as string[] | undefined;
    if (control) subgraphs[subgraph] = { control, shards };
  }
  return {
    postgresUrl: parsed.BACKUP_POSTGRES_URL,
    databasePrefix: parsed.BACKUP_DATABASE_PREFIX,
    jobs: parsed.BACKUP_JOBS,
    compression: parsed.BACKUP_COMPRESSION,
    parallelDatabases: parsed.BACKUP_PARALLEL_DATABASES,
    replayMinutes: parsed.BACKUP_REPLAY_MINUTES,
    pgBinDir: parsed.PG_BIN_DIR,
    logLevel: parsed.LOG_LEVEL,
    subgraphs,
  };
}

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `saldo` + `usage-forecast` + `control` -> `saldo_usage_forecast_control` (no prefix: `usage_forecast_control`). */
export function conventionalName(prefix: string, subgraph: SubgraphName, role: string): string {
  const stem = `${subgraph.replaceAll('-', '_')}_${role}`;
  return prefix ? `${prefix}_${stem}` : stem;
}
