import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from '@saldo/service';
import { databaseName, ensureDatabases, redactUrl } from '@saldo/sharding';
import { SUBGRAPHS, conventionalName, databaseUrl, type BackupConfig, type SubgraphName } from './config.js';

export const MANIFEST = 'manifest.json';
const FORMAT = 'saldo-backup/1';

/** One database of a deployment: which subgraph, its role there, and where it is. */
export interface DeploymentDatabase {
  subgraph: SubgraphName;
  /** `control`, or the shard's position in SHARD_DATABASE_URLS. */
  role: 'control' | number;
  url: string;
}

export interface ManifestDatabase {
  subgraph: SubgraphName;
  role: 'control' | number;
  /** The database's name when it was backed up. */
  database: string;
  /** Its pg_dump directory inside the backup. */
  directory: string;
  /** The exported snapshot pg_dump read (every row count below is from the same snapshot). */
  snapshot: string;
  /** Rows per table (`schema.table`) as the snapshot saw them: what a restore must hold. */
  tables: Record<string, number>;
  bytes: number;
}

export interface BackupManifest {
  format: typeof FORMAT;
  /** Before the first snapshot was taken: everything committed before it is in the backup. */
  startedAt: string;
  /** When the last snapshot was taken: nothing committed after it is. */
  snapshotsTakenAt: string;
  finishedAt: string;
  serverVersion: string;
  pgDumpVersion: string;
  databases: ManifestDatabase[];
}

/** The deployment's databases: each subgraph's control database and its shards (listed, or from its shard directory). */
export async function deploymentDatabases(config: BackupConfig): Promise<DeploymentDatabase[]> {
  const found: DeploymentDatabase[] = [];
  const missing: string[] = [];
  for (const subgraph of SUBGRAPHS) {
    const explicit = config.subgraphs[subgraph];
    const control = explicit?.control ?? databaseUrl(config.postgresUrl, conventionalName(config.databasePrefix, subgraph, 'control'));
    let shards = explicit?.shards;
    if (!shards) {
      try {
        shards = (await query<{ id: number; database_name: string }>(control, 'select id, database_name from shard order by id')).map((row) =>
          databaseUrl(control, row.database_name),
        );
      } catch (error) {
        missing.push(`${subgraph}: ${redactUrl(control)} (${(error as Error).message})`);
        continue;
      }
    }
    found.push({ subgraph, role: 'control', url: control }, ...shards.map((url, index) => ({ subgraph, role: index, url })));
  }
  if (missing.length > 0) throw new Error(`Cannot read every subgraph's control database:\n  ${missing.join('\n  ')}`);
  return found;
}

/**
 * Backs up every database of the deployment into `directory` (created; must be empty): one pg_dump per database in
 * directory format, each reading a snapshot exported at the start, so each database is consistent in itself, every
 * snapshot is taken after `startedAt` (everything committed before it is in) and the snapshots lie within
 * milliseconds of each other. Across databases the outbox closes the gap (see docs/operations/backup-and-restore.md).
 */
export async function takeBackup(config: BackupConfig, directory: string, logger: Logger): Promise<BackupManifest> {
  await prepareDirectory(directory);
  const databases = await deploymentDatabases(config);
  const pgDumpVersion = await toolVersion(config, 'pg_dump');
  const exporters = await Promise.all(databases.map(async (database) => ({ database, client: await connect(database.url) })));
  try {
    // Every exporting transaction is open and waiting; the snapshots are taken back to back from here.
    const startedAt = new Date();
    const snapshots = await Promise.all(
      exporters.map(async ({ client }) => {
        await client.query('begin transaction isolation level repeatable read read only');
        return (await client.query<{ snapshot: string }>('select pg_export_snapshot() as snapshot')).rows[0]!.snapshot;
      }),
    );
    const snapshotsTakenAt = new Date();
    const serverVersion = (await exporters[0]!.client.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
    logger.info('snapshots taken', { databases: databases.length, withinMs: snapshotsTakenAt.getTime() - startedAt.getTime() });

    const manifestDatabases: ManifestDatabase[] = [];
    await eachLimited(exporters, config.parallelDatabases, async ({ database, client }, index) => {
      const snapshot = snapshots[index]!;
      const tables = await rowCounts(client);
      const name = databaseName(database.url);
      const dumpDirectory = `${database.subgraph}-${database.role === 'control' ? 'control' : `shard-${database.role}`}`;
      const started = Date.now();
      await run(config, 'pg_dump', [
        '--format=directory',
        `--jobs=${config.jobs}`,
        `--compress=${config.compression}`,
        `--snapshot=${snapshot}`,
        '--no-owner',
        '--no-privileges',
        `--file=${join(directory, dumpDirectory)}`,
        `--dbname=${database.url}`,
      ]);
      const bytes = await directorySize(join(directory, dumpDirectory));
      manifestDatabases[index] = { subgraph: database.subgraph, role: database.role, database: name, directory: dumpDirectory, snapshot, tables, bytes };
      logger.info('database backed up', { database: name, rows: sum(Object.values(tables)), bytes, ms: Date.now() - started });
    });
    const manifest: BackupManifest = {
      format: FORMAT,
      startedAt: startedAt.toISOString(),
      snapshotsTakenAt: snapshotsTakenAt.toISOString(),
      finishedAt: new Date().toISOString(),
      serverVersion,
      pgDumpVersion,
      databases: manifestDatabases,
    };
    await writeFile(join(directory, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    await Promise.all(exporters.map(({ client }) => client.end().catch(() => undefined)));
  }
}

export interface RestoreResult {
  manifest: BackupManifest;
  /** Where each database of the backup went. */
  databases: Array<{ subgraph: SubgraphName; role: 'control' | number; url: string }>;
  /** Outbox events marked unpublished again (BACKUP_REPLAY_MINUTES). */
  replayedEvents: number;
}

/**
 * Restores a backup into an empty deployment: every database of the manifest is created if missing and must hold no
 * tables; pg_restore loads it; each control database's shard directory is pointed at the restored shards' names; the
 * outbox events published shortly before the backup began are marked unpublished (replayed by the relay); every
 * table's row count is checked against the manifest.
 */
export async function restoreBackup(config: BackupConfig, directory: string, logger: Logger): Promise<RestoreResult> {
  const manifest = JSON.parse(await readFile(join(directory, MANIFEST), 'utf8')) as BackupManifest;
  if (manifest.format !== FORMAT) throw new Error(`${join(directory, MANIFEST)} is not a Saldo backup (${String(manifest.format)})`);
  const targets = manifest.databases.map((database) => ({ ...database, url: targetUrl(config, database) }));
  await ensureDatabases(targets.map((target) => target.url));
  const occupied: string[] = [];
  for (const target of targets) {
    const [{ tables }] = (await query<{ tables: string }>(
      target.url,
      "select count(*) as tables from pg_tables where schemaname not in ('pg_catalog', 'information_schema')",
    )) as [{ tables: string }];
    if (Number(tables) > 0) occupied.push(`${redactUrl(target.url)} holds ${tables} tables`);
  }
  if (occupied.length > 0) throw new Error(`A restore needs an empty deployment:\n  ${occupied.join('\n  ')}`);

  await eachLimited(targets, config.parallelDatabases, async (target) => {
    const started = Date.now();
    await run(config, 'pg_restore', [
      `--jobs=${config.jobs}`,
      '--no-owner',
      '--no-privileges',
      '--exit-on-error',
      `--dbname=${target.url}`,
      join(directory, target.directory),
    ]);
    logger.info('database restored', { database: databaseName(target.url), from: target.database, ms: Date.now() - started });
  });

  // The shard directories name their shards' databases: point them at the restored ones (two steps: names are unique).
  for (const control of targets.filter((target) => target.role === 'control')) {
    const shards = targets.filter((target) => target.subgraph === control.subgraph && target.role !== 'control');
    const client = await connect(control.url);
    try {
      await client.query('begin');
      for (const shard of shards) await client.query('update shard set database_name = $1 where id = $2', [`restoring_${String(shard.role)}`, shard.role]);
      for (const shard of shards) await client.query('update shard set database_name = $1 where id = $2', [databaseName(shard.url), shard.role]);
      await client.query('commit');
    } finally {
      await client.end();
    }
  }

  let replayedEvents = 0;
  const replayFrom = new Date(new Date(manifest.startedAt).getTime() - config.replayMinutes * 60_000);
  const mismatches: string[] = [];
  for (const target of targets) {
    const client = await connect(target.url);
    try {
      const hasOutbox = await client.query("select 1 from pg_tables where schemaname = 'public' and tablename = 'outbox_event'");
      if (config.replayMinutes > 0 && hasOutbox.rowCount) {
        const replayed = await client.query('update outbox_event set published_at = null where published_at >= $1', [replayFrom]);
        replayedEvents += replayed.rowCount ?? 0;
      }
      const counts = await rowCounts(client);
      for (const [table, rows] of Object.entries(target.tables)) {
        if (counts[table] !== rows) mismatches.push(`${databaseName(target.url)}.${table}: ${counts[table] ?? 'missing'} rows, the backup holds ${rows}`);
      }
    } finally {
      await client.end();
    }
  }
  if (mismatches.length > 0) throw new Error(`The restored databases differ from the backup:\n  ${mismatches.join('\n  ')}`);
  logger.info('restore checked', { databases: targets.length, replayedEvents });
  return { manifest, databases: targets.map(({ subgraph, role, url }) => ({ subgraph, role, url })), replayedEvents };
}

/** Where a backed-up database goes: the subgraph's configured databases, or the conventional name on the server. */
function targetUrl(config: BackupConfig, database: ManifestDatabase): string {
  const explicit = config.subgraphs[database.subgraph];
  if (database.role === 'control')
    return explicit?.control ?? databaseUrl(config.postgresUrl, conventionalName(config.databasePrefix, database.subgraph, 'control'));
  const listed = explicit?.shards?.[database.role];
  if (listed) return listed;
  if (explicit?.shards) throw new Error(`${database.subgraph} shard ${database.role} is in the backup but not in its SHARD_DATABASE_URLS`);
  return databaseUrl(explicit?.control ?? config.postgresUrl, conventionalName(config.databasePrefix, database.subgraph, `shard_${database.role}`));
}

/** Exact rows per user table, in the client's current transaction (the exported snapshot during a backup). */
async function rowCounts(client: pg.Client): Promise<Record<string, number>> {
  const tables = await client.query<{ schemaname: string; tablename: string }>(
    "select schemaname, tablename from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by schemaname, tablename",
  );
  const counts: Record<string, number> = {};
  for (const { schemaname, tablename } of tables.rows) {
    const ident = `"${schemaname.replaceAll('"', '""')}"."${tablename.replaceAll('"', '""')}"`;
    const { rows } = await client.query<{ count: string }>(`select count(*) as count from ${ident}`);
    counts[`${schemaname}.${tablename}`] = Number(rows[0]!.count);
  }
  return counts;
}

async function prepareDirectory(directory: string): Promise<void> {
  try {
    const entries = await readdir(directory);
    if (entries.length > 0) throw new Error(`${directory} is not empty: back up into a new or empty directory`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(directory, { recursive: true });
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'saldo-backup' });
  await client.connect();
  return client;
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = await connect(url);
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

function binary(config: BackupConfig, tool: string): string {
  return config.pgBinDir ? join(config.pgBinDir, tool) : tool;
}

async function toolVersion(config: BackupConfig, tool: string): Promise<string> {
  return (await run(config, tool, ['--version'])).trim();
}

/** Runs a PostgreSQL client tool; rejects with its stderr when it exits non-zero. */
function run(config: BackupConfig, tool: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary(config, tool), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => reject(new Error(`${tool} could not be started (${error.message}): install the PostgreSQL client or set PG_BIN_DIR`)));
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${tool} exited with ${code}: ${redactPasswords(stderr.trim())}`));
    });
  });
}

function redactPasswords(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/g, '$1***@');
}

async function directorySize(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    total += entry.isDirectory() ? await directorySize(full) : (await stat(full)).size;
  }
  return total;
}

async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length && errors.length === 0) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** Removes a backup directory (tests, benchmarks). */
export async function removeBackup(directory: string): Promise<void> {
  await rm(directory, { recursive: true, force: true });
}
