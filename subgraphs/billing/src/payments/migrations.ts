import { Migration } from '@mikro-orm/migrations';

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

/** VAT charged on top of a top-up's credit (documents quote it); the credit stays the net. */
class Migration20261129002500TopUpTax extends Migration {
  override name = 'Migration20261129002500TopUpTax';

  override up(): void {
    this.addSql(`alter table "top_up" add column "tax_minor" bigint not null default '0', add column "tax" jsonb null;`);
    this.addSql(`alter table "auto_top_up_attempt" add column "tax_minor" bigint not null default '0', add column "tax" jsonb null;`);
  }

  override down(): void {
    this.addSql('alter table "auto_top_up_attempt" drop column "tax", drop column "tax_minor";');
    this.addSql('alter table "top_up" drop column "tax", drop column "tax_minor";');
  }
}

/**
 * Enabled auto-top-up rules become the ledger's `auto-top-up` balance watch (which postings read with the account row
 * instead of the ledger joining this module's table). From now on AutoTopUpService keeps the watch in step with the
 * rule through LedgerService.setBalanceWatch; this carries over rules written before the watch existed.
 */
class Migration20261129003010AutoTopUpWatch extends Migration {
  override name = 'Migration20261129003010AutoTopUpWatch';

  override up(): void {
    this.addSql(`update "account" a set "balance_watches" = a."balance_watches" || jsonb_build_object('auto-top-up', r."threshold_minor"::text)
      from "auto_top_up_rule" r where r."tenant_id" = a."tenant_id" and r."enabled";`);
  }

  override down(): void {
    this.addSql(`update "account" set "balance_watches" = "balance_watches" - 'auto-top-up';`);
  }
}

export const paymentsShardMigrations = [Migration20261126002300TopUps, Migration20261129002500TopUpTax, Migration20261129003010AutoTopUpWatch];
export const paymentsGlobalMigrations = [Migration20261126002400StripeEvent];
