// A ledger-like tenant schema for the shard-move tests (an account with a cached balance and version, append-only
// entries, rows updated in place, a table keyed by the tenant id, the outbox) and one write of the tenant touching all
// of it: shared by the in-process tests and the worker process they kill.
import { randomUUID } from 'node:crypto';
import { Migration } from '@mikro-orm/migrations';
import { Migration20261123000100Outbox, Migration20261129120000OutboxTraceparent, Migration20261129160000OutboxTenantKey } from '@saldo/events';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardedDatabase, ShardedSchema } from '@saldo/sharding';

/** An account with a cached balance and version, its append-only entries, and rows that are updated in place. */
export class LedgerLikeTables extends Migration {
  override name = 'Migration20260101000000LedgerLike';
  override up(): void {
    this.addSql('create table "account" ("tenant_id" uuid primary key, "balance" bigint not null, "version" integer not null);');
    this.addSql(`create table "entry" ("id" uuid primary key, "tenant_id" uuid not null, "amount" bigint not null, "account_version" integer not null,
      unique ("tenant_id", "account_version"));`);
    this.addSql(`create or replace function "entry_append_only_fn"() returns trigger language plpgsql as $$ begin
      if current_setting('saldo.ledger_maintenance', true) = 'on' then return coalesce(old, new); end if;
      raise exception 'entry is append-only: % refused', tg_op using errcode = 'restrict_violation'; end; $$;`);
    this.addSql('create trigger "entry_append_only" before update or delete on "entry" for each row execute function "entry_append_only_fn"();');
    this.addSql('create table "item" ("tenant_id" uuid not null, "n" integer not null, "payload" text not null, primary key ("tenant_id", "n"));');
    this.addSql('create table "profile" ("id" uuid primary key, "name" text not null);');
  }
}

export const ledgerLikeSchema: ShardedSchema = {
  shard: {
    entities: [],
    migrations: [Migration20261123000100Outbox, Migration20261129120000OutboxTraceparent, Migration20261129160000OutboxTenantKey, LedgerLikeTables],
  },
  moves: {
    // `profile` is keyed by the tenant id itself, like the tenants subgraph's `tenant` table.
    tenantColumns: { profile: 'id' },
    checks: [
      {
        name: 'ledger',
        run: async (em, tenantId) => {
          const [row] = await em.execute<{ balance: string; version: number; sum: string; entries: string }[]>(
            `select a.balance::text as balance, a.version, (select coalesce(sum(amount), 0)::text from entry where tenant_id = a.tenant_id) as sum,
                    (select count(*)::text from entry where tenant_id = a.tenant_id) as entries
               from account a where a.tenant_id = ?`,
            [tenantId],
          );
          return row ?? null;
        },
        consistent: (result) => {
          const row = result as { balance: string; version: number; sum: string; entries: string } | null;
          return row === null || (row.balance === row.sum && String(row.version) === row.entries);
        },
      },
    ],
  },
};

/** One write of the tenant: an entry, the account's cached balance and version, an item updated in place, an event. */
export async function write(db: ShardedDatabase, tenantId: string, amount: number, label: string): Promise<number> {
  return db.forTenant(tenantId, (em) => writeOn(em, tenantId, amount, label));
}

/** `write`'s unit of work on a shard already chosen (a test can hold it between the lookup and the write). */
export async function writeOn(em: EntityManager, tenantId: string, amount: number, label: string): Promise<number> {
  return em.transactional(async (tx) => {
    const [account] = await tx.execute<{ version: number }[]>(
      'update account set balance = balance + ?, version = version + 1 where tenant_id = ? returning version',
      [amount, tenantId],
    );
    // As the ledger's ACCOUNT_NOT_FOUND: a write on a shard that does not hold the tenant's account.
    if (!account) throw new Error(`no account of tenant ${tenantId} here`);
    const version = account.version;
    await tx.execute('insert into entry (id, tenant_id, amount, account_version) values (?, ?, ?, ?)', [randomUUID(), tenantId, amount, version]);
    await tx.execute(`insert into item (tenant_id, n, payload) values (?, ?, ?) on conflict (tenant_id, n) do update set payload = excluded.payload`, [
      tenantId,
      version % 7,
      `${label}@${version}`,
    ]);
    await tx.execute(
      `insert into outbox_event (id, topic, key, type, version, payload, occurred_at) values (?, 'balance-events', ?, 'test.written', 1, ?, now())`,
      [randomUUID(), tenantId, JSON.stringify({ version })],
    );
    return version;
  });
}

export async function seedTenant(db: ShardedDatabase, entries: number): Promise<string> {
  const tenantId = randomUUID();
  const shardId = await db.directory.place(tenantId);
  await db.em(shardId).execute('insert into account (tenant_id, balance, version) values (?, 0, 0)', [tenantId]);
  await db.em(shardId).execute('insert into profile (id, name) values (?, ?)', [tenantId, 'Tenant']);
  for (let index = 0; index < entries; index += 1) await write(db, tenantId, 100, 'seed');
  return tenantId;
}

export async function tenantRows(db: ShardedDatabase, shardId: number, tenantId: string): Promise<Record<string, number>> {
  const em = db.em(shardId);
  const counts: Record<string, number> = {};
  for (const [table, column] of [
    ['account', 'tenant_id'],
    ['entry', 'tenant_id'],
    ['item', 'tenant_id'],
    ['profile', 'id'],
    ['outbox_event', 'key'],
  ] as const) {
    const [row] = await em.execute<{ count: string }[]>(`select count(*) as count from ${table} where ${column}::text = ?`, [tenantId]);
    counts[table] = Number(row!.count);
  }
  return counts;
}
