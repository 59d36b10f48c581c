import { Migration } from '@mikro-orm/migrations';

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

/** The rate card: versioned prices per product and currency, platform-wide (control database). */
class Migration20261125002200Rate extends Migration {
  override name = 'Migration20261125002200Rate';

  override up(): void {
    this.addSql(`create table "rate" (
      "id" uuid not null primary key,
      "product" text not null,
      "currency" character(3) not null,
      "unit_price_micros" bigint not null,
      "valid_from" timestamptz not null,
      "valid_to" timestamptz null,
      "created_at" timestamptz not null,
      constraint "rate_product_currency_valid_from_unique" unique ("product", "currency", "valid_from"),
      constraint "rate_product_check" check (product ~ '^[a-z][a-z0-9_]{0,63}$'),
      constraint "rate_unit_price_micros_check" check (unit_price_micros >= 0),
      constraint "rate_valid_window_check" check (valid_to is null or valid_to > valid_from)
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "rate";');
  }
}

/** Stripe top-ups and auto-top-up (tenant shards): requests by idempotency key, rules, attempts. */
class Migration20261126002300TopUps extends Migration {
  override name = 'Migration20261126002300TopUps';

  override up(): void {
    this.addSql(`create table "top_up" (
      "id" uuid not null primary key,
      "tenant_id" uuid not null,
      "idempotency_key" text not null,
      "status" text not null check ("status" in ('PENDING', 'OPEN', 'COMPLETED', 'EXPIRED')),
      "amount_minor" bigint not null,
      "currency" character(3) not null,
      "credit_amount_minor" bigint not null,
      "credit_currency" character(3) not null,
      "fx" jsonb null,
      "checkout_session_id" text null,
      "checkout_url" text null,
      "payment_intent_id" text null,
      "ledger_entry_id" uuid null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      "expires_at" timestamptz null,
      "completed_at" timestamptz null,
      constraint "top_up_tenant_id_idempotency_key_unique" unique ("tenant_id", "idempotency_key"),
      constraint "top_up_checkout_session_id_unique" unique ("checkout_session_id"),
      constraint "top_up_amount_minor_check" check (amount_minor > 0),
      constraint "top_up_credit_amount_minor_check" check (credit_amount_minor > 0)
    );`);
    this.addSql(`create table "auto_top_up_rule" (
      "tenant_id" uuid not null primary key,
      "enabled" boolean not null,
      "threshold_minor" bigint not null,
      "mode" text not null check ("mode" in ('FIXED_AMOUNT', 'TOP_UP_TO')),
      "amount_minor" bigint not null,
      "currency" character(3) not null,
      "daily_cap_minor" bigint not null,
      "stripe_customer_id" text not null,
      "stripe_payment_method_id" text not null,
      "consecutive_failures" integer not null default 0,
      "backoff_until" timestamptz null,
      "retry_pending" boolean not null default false,
      "last_failure_code" text null,
      "last_failure_message" text null,
      "last_failure_at" timestamptz null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      constraint "auto_top_up_rule_threshold_minor_check" check (threshold_minor >= 0),
      constraint "auto_top_up_rule_amount_minor_check" check (amount_minor > 0),
      constraint "auto_top_up_rule_daily_cap_minor_check" check (daily_cap_minor > 0),
      constraint "auto_top_up_rule_consecutive_failures_check" check (consecutive_failures >= 0)
    );`);
    this.addSql(`create table "auto_top_up_attempt" (
      "id" uuid not null primary key,
      "tenant_id" uuid not null,
      "trigger_version" integer not null,
      "status" text not null check ("status" in ('PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED')),
      "amount_minor" bigint not null,
      "currency" character(3) not null,
      "stripe_customer_id" text not null,
      "stripe_payment_method_id" text not null,
      "balance_minor" bigint not null,
      "tries" integer not null default 0,
      "next_try_at" timestamptz not null,
      "payment_intent_id" text null,
      "failure_code" text null,
      "failure_message" text null,
      "ledger_entry_id" uuid null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      "completed_at" timestamptz null,
      constraint "auto_top_up_attempt_tenant_id_trigger_version_unique" unique ("tenant_id", "trigger_version"),
      constraint "auto_top_up_attempt_amount_minor_check" check (amount_minor > 0)
    );`);
    this.addSql(`create index "auto_top_up_attempt_tenant_id_created_at_index" on "auto_top_up_attempt" ("tenant_id", "created_at");`);
    this.addSql(`create index "auto_top_up_attempt_due_index" on "auto_top_up_attempt" ("next_try_at") where "status" in ('PENDING', 'PROCESSING');`);
  }

  override down(): void {
    this.addSql('drop table if exists "auto_top_up_attempt";');
    this.addSql('drop table if exists "auto_top_up_rule";');
    this.addSql('drop table if exists "top_up";');
  }
}

/** Verified Stripe webhook events (control database): audit trail and redelivery fast path. */
class Migration20261126002400StripeEvent extends Migration {
  override name = 'Migration20261126002400StripeEvent';

  override up(): void {
    this.addSql(`create table "stripe_event" (
      "id" text not null primary key,
      "type" text not null,
      "livemode" boolean not null,
      "status" text not null check ("status" in ('RECEIVED', 'PROCESSED', 'IGNORED', 'TENANT_UNKNOWN')),
      "tenant_id" uuid null,
      "object_id" text null,
      "result" jsonb null,
      "error" text null,
      "deliveries" integer not null default 1,
      "stripe_created_at" timestamptz not null,
      "received_at" timestamptz not null,
      "processed_at" timestamptz null
    );`);
    this.addSql(`create index "stripe_event_tenant_id_index" on "stripe_event" ("tenant_id");`);
  }

  override down(): void {
    this.addSql('drop table if exists "stripe_event";');
  }
}

export const shardMigrations = [
  Migration20261123002000Account,
  Migration20261125002100Ledger,
  Migration20261126002300TopUps,
];
export const globalMigrations = [Migration20261125002200Rate, Migration20261126002400StripeEvent];
