import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadBackupConfig, removeBackup, restoreBackup, takeBackup } from '@saldo/backup';
import { startStack } from '@saldo/dev-stack';
import { createLogger } from '@saldo/service';
import { dropDatabases } from '@saldo/sharding';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';

const logger = createLogger({ service: 'bench', level: 'warn' });
const TOP_UP = 1_000_000_000n;
const USAGE_COST = 7n;

/**
 * Backup and restore of a deployment holding BENCH_BACKUP_ENTRIES ledger entries (default 1M: BENCH_BACKUP_TENANTS
 * accounts with equal chains over billing's two shards), every subgraph's databases as `pnpm start` creates them.
 * `pnpm backup`'s code (pg_dump directory format, one exported snapshot per database) then `pnpm restore`'s into fresh
 * databases, which the run checks (row counts against the manifest; every balance the sum of its entries).
 */
export async function backup(config: BenchConfig): Promise<void> {
  const tenants = config.BENCH_BACKUP_TENANTS;
  const perTenant = Math.max(1, Math.round(config.BENCH_BACKUP_ENTRIES / tenants));
  const source = `bench_backup_${process.pid}`;
  const target = `bench_restore_${process.pid}`;
  const serverUrl = `${config.BENCH_POSTGRES_URL}/postgres`;
  const settings = (prefix: string) =>
    loadBackupConfig({
      BACKUP_POSTGRES_URL: serverUrl,
      BACKUP_DATABASE_PREFIX: prefix,
      BACKUP_JOBS: String(config.BENCH_BACKUP_JOBS),
      BACKUP_COMPRESSION: config.BENCH_BACKUP_COMPRESSION,
      LOG_LEVEL: 'warn',
    });
  const databases: string[] = [];
  const directory = await mkdtemp(join(tmpdir(), 'saldo-bench-backup-'));
  try {
    // Every subgraph's databases, migrated; the accounts opened (and placed) through billing itself.
    const stack = await startStack({
      postgresUrl: config.BENCH_POSTGRES_URL,
      databasePrefix: source,
      shardsPerSubgraph: 2,
      ports: { gateway: 0, tenants: 0, billing: 0, usageForecast: 0, whiteLabel: 0 },
      logger,
      logLevel: 'warn',
      automaticRebalance: false,
    });
    databases.push(...stack.databaseUrls);
    const tenantIds = Array.from({ length: tenants }, () => crypto.randomUUID());
    for (let index = 0; index < tenantIds.length; index += 50) {
      await Promise.all(tenantIds.slice(index, index + 50).map((tenantId) => stack.billing.services.accounts.open(tenantId, 'EUR')));
    }
    await stack.stop();

    // The entries, written straight into each shard as valid chains: a top-up, then usage debits.
    const loadStarted = performance.now();
    for (const shard of stack.databases['billing']!.shards) {
      await withClient(shard, async (client) => {
        await client.query(
          `insert into ledger_entry (id, tenant_id, account_version, type, amount_minor, currency, balance_after_minor, idempotency_key, product, quantity, created_at)
           select gen_random_uuid(), a.tenant_id, g,
                  case when g = 1 then 'TOP_UP' else 'USAGE' end,
                  case when g = 1 then $1::bigint else -$2::bigint end, 'EUR',
                  $1::bigint - $2::bigint * (g - 1), 'bench:' || g,
                  case when g = 1 then null else 'inbound_minute' end, case when g = 1 then null else 1 end, now()
             from account a cross join generate_series(1, $3::int) g`,
          [TOP_UP.toString(), USAGE_COST.toString(), perTenant],
        );
        await client.query('update account set balance_minor = $1::bigint - $2::bigint * ($3::int - 1), version = $3::int', [
          TOP_UP.toString(),
          USAGE_COST.toString(),
          perTenant,
        ]);
        await client.query('vacuum analyze ledger_entry');
      });
    }
    const entries = await countEntries(stack.databases['billing']!.shards);
    const loadSeconds = (performance.now() - loadStarted) / 1000;

    const backupStarted = performance.now();
    const manifest = await takeBackup(settings(source), join(directory, 'backup'), logger);
    const backupSeconds = (performance.now() - backupStarted) / 1000;
    const bytes = manifest.databases.reduce((total, database) => total + database.bytes, 0);

    const restoreStarted = performance.now();
    const restored = await restoreBackup(settings(target), join(directory, 'backup'), logger);
    const restoreSeconds = (performance.now() - restoreStarted) / 1000;
    databases.push(...restored.databases.map((database) => database.url));

    const restoredShards = restored.databases
      .filter((database) => database.subgraph === 'billing' && database.role !== 'control')
      .map((database) => database.url);
    const restoredEntries = await countEntries(restoredShards);
    let wrong = 0;
    for (const shard of restoredShards) {
      await withClient(shard, async (client) => {
        const { rows } = await client.query<{ wrong: string }>(
          `select count(*) as wrong from account a
             where a.balance_minor <> (select coalesce(sum(amount_minor), 0) from ledger_entry e where e.tenant_id = a.tenant_id)`,
        );
        wrong += Number(rows[0]!.wrong);
      });
    }

    const round = (value: number) => Math.round(value * 10) / 10;
    const rows: ResultRow[] = [
      {
        scenario: `pnpm backup: ${manifest.databases.length} databases, ${entries.toLocaleString('en')} ledger entries`,
        target: 'consistent, measured',
        met: true,
        seconds: round(backupSeconds),
        entries_per_s: Math.round(entries / backupSeconds),
        backup_mib: round(bytes / 1_048_576),
      },
      {
        scenario: 'pnpm restore into fresh databases (checked against the manifest)',
        target: 'every balance = sum of its entries, no row lost',
        met: restoredEntries === entries && wrong === 0,
        seconds: round(restoreSeconds),
        entries_per_s: Math.round(entries / restoreSeconds),
        restored_entries: restoredEntries,
        wrong_balances: wrong,
      },
    ];
    await report('backup', rows, {
      tenants,
      entriesPerTenant: perTenant,
      jobs: config.BENCH_BACKUP_JOBS,
      compression: config.BENCH_BACKUP_COMPRESSION,
      loadSeconds: round(loadSeconds),
      pgDump: manifest.pgDumpVersion,
      server: manifest.serverVersion,
      loadAverage: (await import('node:os')).loadavg().map((value) => round(value)),
    });
  } finally {
    await dropDatabases(databases);
    await removeBackup(directory);
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function countEntries(shards: readonly string[]): Promise<number> {
  let total = 0;
  for (const shard of shards) {
    total += await withClient(shard, async (client) =>
      Number((await client.query<{ count: string }>('select count(*) as count from ledger_entry')).rows[0]!.count),
    );
  }
  return total;
}
