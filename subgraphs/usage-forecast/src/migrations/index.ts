import { Migration } from '@mikro-orm/migrations';

class Migration20261124000000DailyUsage extends Migration {
  override name = 'Migration20261124000000DailyUsage';

  override up(): void {
    // The primary key (tenant_id, day, product) also serves the per-tenant window scans.
    this.addSql(`create table "daily_usage" (
      "tenant_id" uuid not null,
      "day" date not null,
      "product" text not null,
      "quantity" bigint not null,
      constraint "daily_usage_pkey" primary key ("tenant_id", "day", "product")
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "daily_usage";');
  }
}

class Migration20261129000000Intelligence extends Migration {
  override name = 'Migration20261129000000Intelligence';

  override up(): void {
    this.addSql(
      `create table "hourly_usage" ("tenant_id" uuid not null, "hour" timestamptz not null, "quantity" bigint not null, primary key ("tenant_id", "hour"));`,
    );
    this.addSql(`create table "tenant_profile" ("tenant_id" uuid not null, "partner_id" uuid null, "created_at" timestamptz null, "currency" text null,
      "balance_minor" bigint null, "balance_version" int not null default 0, "balance_at" timestamptz null, "overdraft_limit_minor" bigint not null default '0',
      "auto_top_up" jsonb null, "last_top_up_at" timestamptz null, "last_top_up_minor" bigint null, "last_top_up_balance_minor" bigint null, "warned_depletion_date" date null,
      "updated_at" timestamptz not null, primary key ("tenant_id"));`);
    this.addSql(`create table "tenant_price" ("tenant_id" uuid not null, "product" text not null, "unit_price_micros" bigint not null, "rate_id" uuid not null,
      "charged_at" timestamptz not null, primary key ("tenant_id", "product"));`);
    this
      .addSql(`create table "payment_failure" ("attempt_id" uuid not null, "tenant_id" uuid not null, "failed_at" timestamptz not null, "failure_code" text not null,
      "decline_code" text null, primary key ("attempt_id"));`);
    this.addSql(`create index "payment_failure_tenant_id_failed_at_index" on "payment_failure" ("tenant_id", "failed_at");`);
    this.addSql(`create table "usage_anomaly" ("id" uuid not null, "tenant_id" uuid not null, "granularity" text not null, "period_start" timestamptz not null,
      "observed" double precision not null, "expected" double precision not null, "score" double precision not null, "severity" text not null,
      "detected_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "usage_anomaly_tenant_id_id_index" on "usage_anomaly" ("tenant_id", "id");`);
    this.addSql(
      `alter table "usage_anomaly" add constraint "usage_anomaly_tenant_id_granularity_period_start_unique" unique ("tenant_id", "granularity", "period_start");`,
    );
    this
      .addSql(`create table "fraud_case" ("id" uuid not null, "tenant_id" uuid not null, "partner_id" uuid null, "status" text not null, "score" double precision not null,
      "severity" text not null, "signals" jsonb not null, "usage_suspended" boolean not null, "opened_at" timestamptz not null, "updated_at" timestamptz not null,
      "resolved_at" timestamptz null, "resolved_by" text null, "note" text null, primary key ("id"));`);
    this.addSql(`create index "fraud_case_status_id_index" on "fraud_case" ("status", "id");`);
    this.addSql(`create unique index "fraud_case_one_open_per_tenant" on "fraud_case" ("tenant_id") where "status" = 'OPEN';`);
  }

  override down(): void {
    for (const table of ['fraud_case', 'usage_anomaly', 'payment_failure', 'tenant_price', 'tenant_profile', 'hourly_usage'])
      this.addSql(`drop table if exists "${table}";`);
  }
}

export const shardMigrations = [Migration20261124000000DailyUsage, Migration20261129000000Intelligence];

/** The control database: the model registry, drift checks, partners' fraud policies. */
class Migration20261129000100ModelRegistry extends Migration {
  override name = 'Migration20261129000100ModelRegistry';

  override up(): void {
    this
      .addSql(`create table "forecast_model" ("version" serial primary key, "active" boolean not null, "reason" text not null, "trained_at" timestamptz not null,
      "training_from" date not null, "training_to" date not null, "series" int not null, "features" jsonb not null, "spec" jsonb not null, "metrics" jsonb not null,
      "backtest_wape" double precision not null, "reference" jsonb not null, "topology" jsonb not null, "weight_specs" jsonb not null, "weights" bytea not null,
      "training_ms" int not null, "backend" text not null, "drift_flagged_at" timestamptz null, "drift_reason" text null);`);
    this.addSql(`create unique index "forecast_model_one_active" on "forecast_model" ("active") where "active";`);
    this.addSql(`create table "drift_check" ("model_version" int not null, "window_end" timestamptz not null, "rolling_wape" double precision not null,
      "bias" double precision not null, "psi" double precision not null, "tenants" int not null, "flagged" boolean not null, "checked_at" timestamptz not null, primary key ("model_version", "window_end"));`);
    this.addSql(
      `create table "fraud_policy" ("partner_id" uuid not null, "suspend_on_critical" boolean not null, "updated_at" timestamptz not null, primary key ("partner_id"));`,
    );
  }

  override down(): void {
    for (const table of ['fraud_policy', 'drift_check', 'forecast_model']) this.addSql(`drop table if exists "${table}";`);
  }
}

export const globalMigrations = [Migration20261129000100ModelRegistry];
