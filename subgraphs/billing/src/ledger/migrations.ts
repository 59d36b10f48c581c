import { Migration } from '@mikro-orm/migrations';

/** The ledger's tables (tenant shards): accounts and their append-only entries. */
class Migration20261123002000Account extends Migration {
  override name = 'Migration20261123002000Account';

  override up(): void {
    this.addSql(`create table "account" (
      "tenant_id" uuid not null primary key,
      "currency" character(3) not null,
      "balance_minor" bigint not null default 0,
      "version" integer not null default 0,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "account";');
  }
}

/** The prepaid ledger: overdraft policy on the account, append-only entries. */
class Migration20261125002100Ledger extends Migration {
  override name = 'Migration20261125002100Ledger';

  override up(): void {
    this.addSql(`alter table "account"
      add column "overdraft_mode" text not null default 'BLOCK',
      add column "overdraft_limit_minor" bigint not null default 0,
      add constraint "account_overdraft_mode_check" check ("overdraft_mode" in ('BLOCK', 'ALLOW_OVERDRAFT')),
      add constraint "account_overdraft_limit_minor_check" check (overdraft_limit_minor >= 0);`);
    this.addSql(`create table "ledger_entry" (
      "id" uuid not null primary key,
      "tenant_id" uuid not null,
      "account_version" integer not null,
      "type" text not null check ("type" in ('TOP_UP', 'USAGE', 'REFUND', 'ADJUSTMENT', 'BONUS', 'CREDIT_NOTE')),
      "amount_minor" bigint not null,
      "currency" character(3) not null,
      "balance_after_minor" bigint not null,
      "idempotency_key" text not null,
      "product" text null,
      "quantity" bigint null,
      "rate_id" uuid null,
      "unit_price_micros" bigint null,
      "occurred_at" timestamptz null,
      "external_ref" text null,
      "description" text null,
      "metadata" jsonb null,
      "created_at" timestamptz not null,
      constraint "ledger_entry_tenant_id_idempotency_key_unique" unique ("tenant_id", "idempotency_key"),
      constraint "ledger_entry_tenant_id_account_version_unique" unique ("tenant_id", "account_version"),
      constraint "ledger_entry_amount_sign_check" check ((type in ('TOP_UP', 'BONUS', 'CREDIT_NOTE') and amount_minor > 0) or (type = 'USAGE' and amount_minor <= 0) or (type = 'REFUND' and amount_minor < 0) or (type = 'ADJUSTMENT' and amount_minor <> 0)),
      constraint "ledger_entry_account_version_check" check (account_version > 0),
      constraint "ledger_entry_idempotency_key_check" check ((char_length(idempotency_key) >= 1) and (char_length(idempotency_key) <= 200))
    );`);
    // Append-only, enforced by the database: entries are never updated or deleted. Moving a tenant between shards
    // (rebalancing) is the one exception; it opts in per transaction with SET LOCAL saldo.ledger_maintenance = 'on'.
    this.addSql(`create or replace function "ledger_entry_append_only_fn"() returns trigger language plpgsql as $$ begin
      if current_setting('saldo.ledger_maintenance', true) = 'on' then return coalesce(old, new); end if;
      raise exception 'ledger_entry is append-only: % refused', tg_op using errcode = 'restrict_violation'; end; $$;`);
    this.addSql(`create trigger "ledger_entry_append_only" before update or delete on "ledger_entry"
      for each row execute function "ledger_entry_append_only_fn"();`);
    this.addSql(`create trigger "ledger_entry_no_truncate" before truncate on "ledger_entry"
      for each statement execute function "ledger_entry_append_only_fn"();`);
  }

  override down(): void {
    this.addSql('drop table if exists "ledger_entry";');
    this.addSql('drop function if exists "ledger_entry_append_only_fn"();');
    this.addSql(`alter table "account" drop column "overdraft_mode", drop column "overdraft_limit_minor";`);
  }
}

/** Balance watches on the account row (LedgerService.setBalanceWatch): name -> threshold, read with the posting's row lock. */
class Migration20261129003000BalanceWatches extends Migration {
  override name = 'Migration20261129003000BalanceWatches';

  override up(): void {
    this.addSql(`alter table "account" add column "balance_watches" jsonb not null default '{}';`);
  }

  override down(): void {
    this.addSql('alter table "account" drop column "balance_watches";');
  }
}

/** Low-balance thresholds as the tenants subgraph configured them (balance_alerts.configured): read with the account. */
class Migration20261129002500BalanceAlertRule extends Migration {
  override name = 'Migration20261129002500BalanceAlertRule';

  override up(): void {
    this.addSql(`create table "balance_alert_rule" (
      "tenant_id" uuid not null primary key,
      "currency" character(3) not null,
      "thresholds_minor" jsonb not null,
      "revision" integer not null,
      "updated_at" timestamptz not null
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "balance_alert_rule";');
  }
}

/**
 * Each tenant's lifecycle status as the tenants subgraph announced it (tenant.created / tenant.updated): postings that
 * charge usage read it with the account row lock and refuse unless ACTIVE (TENANT_SUSPENDED).
 */
class Migration20261129004000TenantStatus extends Migration {
  override name = 'Migration20261129004000TenantStatus';

  override up(): void {
    this.addSql(`create table "tenant_status" (
      "tenant_id" uuid not null primary key,
      "status" text not null,
      "changed_at" timestamptz not null
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "tenant_status";');
  }
}

/** On every tenant shard, in order (the timestamp in each name; billing composes all modules' migrations by it). */
export const ledgerShardMigrations = [
  Migration20261123002000Account,
  Migration20261125002100Ledger,
  Migration20261129002500BalanceAlertRule,
  Migration20261129003000BalanceWatches,
  Migration20261129004000TenantStatus,
];
