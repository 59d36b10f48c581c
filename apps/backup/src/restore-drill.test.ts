import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { startStack, type Stack } from '@saldo/dev-stack';
import { dropDatabases } from '@saldo/sharding';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { TEST_ADMIN, TEST_LOG_LEVEL, TEST_POSTGRES_URL, graphql, testLogger, uniquePrefix, waitUntil } from '@saldo/testing';
import { removeBackup, restoreBackup, takeBackup, type BackupManifest } from './backup.js';
import { loadBackupConfig, type BackupConfig } from './config.js';

const TENANTS = 6;
const WRITERS = 4;

function configFor(prefix: string): BackupConfig {
  return loadBackupConfig({ BACKUP_POSTGRES_URL: `${TEST_POSTGRES_URL}/postgres`, BACKUP_DATABASE_PREFIX: prefix, BACKUP_JOBS: '1', LOG_LEVEL: 'warn' });
}

function start(prefix: string): Promise<Stack> {
  return startStack({
    postgresUrl: TEST_POSTGRES_URL,
    databasePrefix: prefix,
    shardsPerSubgraph: 2,
    ports: { gateway: 0, tenants: 0, billing: 0, usageForecast: 0, whiteLabel: 0 },
    logger: testLogger(),
    logLevel: TEST_LOG_LEVEL,
    poolMax: 4,
    // A scheduled rebalance would add load samples between the backup's counts and the restore's check.
    automaticRebalance: false,
  });
}

async function rows<R extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe('restore drill', () => {
  const stacks: Stack[] = [];
  const databases: string[] = [];
  let directory: string | undefined;

  after(async () => {
    for (const stack of stacks) await stack.stop().catch(() => undefined);
    await dropDatabases(databases);
    if (directory) await removeBackup(directory);
  });

  it('backs up under usage load and restores into fresh databases: every balance is the sum of its entries, nothing committed before the backup is missing, the restored stack serves it', async () => {
    const source = uniquePrefix('drillsrc');
    const stack = await start(source);
    stacks.push(stack);
    databases.push(...stack.databaseUrls);
    const billing = stack.billing.services;
    const admin = { authorization: `Bearer ${await stack.issueToken(TEST_ADMIN)}` };
    await billing.rates.publish({ product: 'inbound_minute', currency: 'EUR', unitPriceMinor: '1.25', validFrom: new Date(Date.now() - 86_400_000) });

    const tenantIds: string[] = [];
    for (let i = 0; i < TENANTS; i++) {
      const created = await graphql<{ createTenant: { id: string } }>(
        stack.graphqlUrl,
        'mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }',
        { input: { name: `Drill ${i} GmbH`, currency: 'EUR', country: 'DE' } },
        admin,
      );
      assert.equal(created.errors, undefined, JSON.stringify(created.errors));
      tenantIds.push(created.data!.createTenant.id);
    }
    await stack.flushEvents();
    for (const tenantId of tenantIds) {
      await billing.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 100_000_000n, idempotencyKey: `drill:${tenantId}` }] });
    }

    // Concurrent usage: every call that returned is recorded with the moment it returned (its commit is before that).
    const acknowledged: Array<{ key: string; at: number }> = [];
    let stopping = false;
    let failures = 0;
    const writer = async (n: number) => {
      for (let call = 0; !stopping; call++) {
        const tenantId = tenantIds[(n + call) % tenantIds.length]!;
        const events = Array.from({ length: 5 }, () => ({ id: randomUUID(), product: 'inbound_minute', quantity: 1 + (call % 7), occurredAt: new Date() }));
        try {
          await billing.usage.recordUsage(tenantId, events);
          const at = Date.now();
          for (const event of events) acknowledged.push({ key: `usage:${event.id}`, at });
        } catch {
          failures += 1;
        }
      }
    };
    const load = Promise.all(Array.from({ length: WRITERS }, (_, n) => writer(n)));
    await waitUntil(() => acknowledged.length >= 200, 'usage load to be under way');

    directory = await mkdtemp(join(tmpdir(), 'saldo-drill-'));
    let manifest: BackupManifest;
    try {
      manifest = await takeBackup(configFor(source), join(directory, 'backup'), testLogger());
    } finally {
      stopping = true;
      await load;
    }
    assert.equal(failures, 0, 'no usage call failed during the backup');
    const startedAt = new Date(manifest.startedAt).getTime();
    assert.ok(
      acknowledged.some((entry) => entry.at > startedAt),
      'usage was recorded while the backup ran',
    );

    // Every control and shard database of every subgraph, with the outbox and job tables.
    assert.equal(manifest.databases.length, 4 * 3);
    const billingControl = manifest.databases.find((database) => database.subgraph === 'billing' && database.role === 'control')!;
    assert.ok('pgboss.job' in billingControl.tables, 'the job queue is in the backup');
    for (const database of manifest.databases.filter((each) => each.role !== 'control' && each.subgraph === 'billing')) {
      assert.ok('public.outbox_event' in database.tables && 'public.ledger_entry' in database.tables);
    }

    // Restore into an empty deployment under other names.
    const target = uniquePrefix('drilldst');
    const restored = await restoreBackup(configFor(target), join(directory, 'backup'), testLogger());
    databases.push(...restored.databases.map((database) => database.url));
    const restoredShards = restored.databases
      .filter((database) => database.subgraph === 'billing' && database.role !== 'control')
      .map((database) => database.url);
    assert.equal(restoredShards.length, 2);

    // Every balance equals the sum of its entries (and the chain holds).
    let accounts = 0;
    for (const shard of restoredShards) {
      const checks = await rows<{
        tenant_id: string;
        balance_minor: string;
        version: number;
        total: string | null;
        entries: string;
        last_version: number | null;
      }>(
        shard,
        `select a.tenant_id, a.balance_minor, a.version, sum(e.amount_minor) as total, count(e.id) as entries, max(e.account_version) as last_version
           from account a left join ledger_entry e on e.tenant_id = a.tenant_id group by a.tenant_id, a.balance_minor, a.version`,
      );
      for (const check of checks) {
        accounts += 1;
        assert.equal(BigInt(check.balance_minor), BigInt(check.total ?? 0), `balance of ${check.tenant_id} is the sum of its entries`);
        assert.equal(Number(check.entries), check.version, `versions of ${check.tenant_id} have no gaps`);
        assert.equal(check.last_version ?? 0, check.version);
      }
    }
    assert.equal(accounts, TENANTS);

    // Nothing acknowledged before the backup began is missing.
    const before = acknowledged.filter((entry) => entry.at < startedAt).map((entry) => entry.key);
    assert.ok(before.length >= 200);
    const found = new Set<string>();
    for (const shard of restoredShards) {
      for (const row of await rows<{ idempotency_key: string }>(shard, 'select idempotency_key from ledger_entry where idempotency_key = any($1)', [before])) {
        found.add(row.idempotency_key);
      }
    }
    assert.deepEqual(
      before.filter((key) => !found.has(key)),
      [],
      'every usage event acknowledged before the backup began is in the restored ledger',
    );

    // The restored deployment runs: a stack on it serves the same balances through the gateway.
    await stack.stop();
    stacks.splice(stacks.indexOf(stack), 1);
    const again = await start(target);
    stacks.push(again);
    const restoredAdmin = { authorization: `Bearer ${await again.issueToken(TEST_ADMIN)}` };
    for (const tenantId of tenantIds) {
      const answer = await graphql<{ tenant: { name: string; balance: { available: { amountMinor: number } } } }>(
        again.graphqlUrl,
        'query($id: ID!) { tenant(id: $id) { name balance { available { amountMinor } } } }',
        { id: tenantId },
        restoredAdmin,
      );
      assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
      let expected: bigint | undefined;
      for (const shard of restoredShards) {
        const [account] = await rows<{ balance_minor: string }>(shard, 'select balance_minor from account where tenant_id = $1', [tenantId]);
        if (account) expected = BigInt(account.balance_minor);
      }
      assert.equal(BigInt(answer.data!.tenant.balance.available.amountMinor), expected);
    }
  });
});
