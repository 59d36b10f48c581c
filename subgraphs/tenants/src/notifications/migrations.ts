import { Migration } from '@mikro-orm/migrations';

/**
 * Tables the notifier writes on every database that holds notifications: each shard (a tenant's notifications,
 * deliveries and own webhook endpoints) and the control database (partners' endpoints and what partners are told).
 * Written by set-based SQL only (one statement per batch), so they have no MikroORM entities (and no foreign keys, which
 * the schema check would take for drift: a notification and its deliveries are written in one transaction, and
 * nothing deletes them); see docs/decisions/0014-notifications.md.
 */
const DELIVERY_TABLES = [
  `create table "webhook_endpoint" (
    "id" uuid not null primary key,
    "owner_type" text not null check ("owner_type" in ('TENANT', 'PARTNER')),
    "owner_id" uuid not null,
    "url" text not null,
    "description" text null,
    "event_types" jsonb not null,
    "enabled" boolean not null default true,
    "disabled_reason" text null,
    "disabled_at" timestamptz null,
    "secrets" jsonb not null,
    "created_at" timestamptz not null,
    "updated_at" timestamptz not null
  );`,
  'create index "webhook_endpoint_owner_index" on "webhook_endpoint" ("owner_id");',
  `create table "notification" (
    "id" uuid not null primary key,
    "tenant_id" uuid null,
    "partner_id" uuid null,
    "event_id" uuid not null,
    "kind" text not null,
    "event_version" integer not null,
    "audience" text not null check ("audience" in ('TENANT', 'OPERATOR', 'PARTNER')),
    "language" text not null,
    "title" text not null,
    "body" text not null,
    "data" jsonb not null,
    "occurred_at" timestamptz not null,
    "created_at" timestamptz not null,
    constraint "notification_event_unique" unique ("event_id")
  );`,
  'create index "notification_tenant_index" on "notification" ("tenant_id", "created_at" desc);',
  `create table "notification_delivery" (
    "id" uuid not null primary key,
    "seq" bigserial not null,
    "notification_id" uuid not null,
    "tenant_id" uuid null,
    "channel" text not null check ("channel" in ('EMAIL', 'WEBHOOK')),
    "target" text not null,
    "endpoint_id" uuid null,
    "recipients" jsonb null,
    "lane" text not null,
    "status" text not null check ("status" in ('PENDING', 'SENDING', 'DELIVERED', 'FAILED', 'CANCELLED')),
    "attempts" integer not null default 0,
    "next_attempt_at" timestamptz not null,
    "lease_until" timestamptz null,
    "first_attempt_at" timestamptz null,
    "last_attempt_at" timestamptz null,
    "response_code" integer null,
    "last_error" text null,
    "delivered_at" timestamptz null,
    "created_at" timestamptz not null,
    constraint "notification_delivery_seq_unique" unique ("seq"),
    constraint "notification_delivery_target_unique" unique ("notification_id", "channel", "target")
  );`,
  `create index "notification_delivery_open_lane_index" on "notification_delivery" ("lane", "seq") where "status" in ('PENDING', 'SENDING');`,
  `create index "notification_delivery_due_index" on "notification_delivery" ("next_attempt_at") where "status" in ('PENDING', 'SENDING');`,
  'create index "notification_delivery_endpoint_index" on "notification_delivery" ("endpoint_id", "seq" desc);',
  `create table "notification_delivery_attempt" (
    "delivery_id" uuid not null,
    "attempt" integer not null,
    "attempted_at" timestamptz not null,
    "duration_ms" integer not null,
    "succeeded" boolean not null,
    "response_code" integer null,
    "error" text null,
    constraint "notification_delivery_attempt_pkey" primary key ("delivery_id", "attempt")
  );`,
  `create table "notification_branding" (
    "owner_id" uuid not null primary key,
    "level" text not null check ("level" in ('TENANT', 'PARTNER')),
    "values" jsonb null,
    "changed_at" timestamptz not null
  );`,
];

const DROP_DELIVERY_TABLES = [
  'drop table if exists "notification_branding";',
  'drop table if exists "notification_delivery_attempt";',
  'drop table if exists "notification_delivery";',
  'drop table if exists "notification";',
  'drop table if exists "webhook_endpoint";',
];

export class Migration20261129001400NotificationDelivery extends Migration {
  override name = 'Migration20261129001400NotificationDelivery';

  override up(): void {
    for (const sql of DELIVERY_TABLES) this.addSql(sql);
  }

  override down(): void {
    for (const sql of DROP_DELIVERY_TABLES) this.addSql(sql);
  }
}

/** A tenant's notification settings (shards only: settings are tenant rows). */
export class Migration20261129001401NotificationSettings extends Migration {
  override name = 'Migration20261129001401NotificationSettings';

  override up(): void {
    this.addSql(`create table "notification_settings" (
      "tenant_id" uuid not null primary key,
      "language" text not null check ("language" in ('en', 'de')),
      "recipients" jsonb not null,
      "currency" character(3) not null,
      "low_balance_thresholds_minor" jsonb not null,
      "runway_days" integer null,
      "email_kinds" jsonb not null,
      "live_kinds" jsonb not null,
      "revision" integer not null,
      "updated_at" timestamptz not null
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "notification_settings";');
  }
}

/**
 * An attempt names its delivery's tenant, so a tenant's attempt log moves with its deliveries when the tenant moves to
 * another shard (docs/decisions/0013-shard-moves.md). Existing attempts take their delivery's tenant.
 */
export class Migration20261129002100DeliveryAttemptTenant extends Migration {
  override name = 'Migration20261129002100DeliveryAttemptTenant';

  override up(): void {
    this.addSql('alter table "notification_delivery_attempt" add column "tenant_id" uuid null;');
    this.addSql(
      'update "notification_delivery_attempt" a set "tenant_id" = d."tenant_id" from "notification_delivery" d where d."id" = a."delivery_id" and d."tenant_id" is not null;',
    );
    this.addSql('create index "notification_delivery_attempt_tenant_index" on "notification_delivery_attempt" ("tenant_id");');
  }

  override down(): void {
    this.addSql('drop index if exists "notification_delivery_attempt_tenant_index";');
    this.addSql('alter table "notification_delivery_attempt" drop column if exists "tenant_id";');
  }
}

/**
 * A shard move copies, counts and compares a tenant's rows of each table in keyset batches of a unique index that begins
 * with the tenant column (docs/decisions/0013-shard-moves.md): without one, each batch walked the whole primary key
 * filtering other tenants' rows (notification_delivery had no tenant index at all, so each count was a scan too). The
 * attempt log's plain tenant index gives way to the unique one, which serves the same lookups. Shards only: the control
 * database's notifications belong to no tenant and never move.
 */
export class Migration20261129160200NotificationTenantKeys extends Migration {
  override name = 'Migration20261129160200NotificationTenantKeys';

  override up(): void {
    this.addSql('create unique index if not exists "notification_tenant_id_unique" on "notification" ("tenant_id", "id");');
    this.addSql('create unique index if not exists "notification_delivery_tenant_id_unique" on "notification_delivery" ("tenant_id", "id");');
    this.addSql(
      'create unique index if not exists "notification_delivery_attempt_tenant_key_unique" on "notification_delivery_attempt" ("tenant_id", "delivery_id", "attempt");',
    );
    this.addSql('drop index if exists "notification_delivery_attempt_tenant_index";');
  }

  override down(): void {
    this.addSql('create index if not exists "notification_delivery_attempt_tenant_index" on "notification_delivery_attempt" ("tenant_id");');
    this.addSql('drop index if exists "notification_delivery_attempt_tenant_key_unique";');
    this.addSql('drop index if exists "notification_delivery_tenant_id_unique";');
    this.addSql('drop index if exists "notification_tenant_id_unique";');
  }
}

export const notificationShardMigrations = [
  Migration20261129001400NotificationDelivery,
  Migration20261129001401NotificationSettings,
  Migration20261129002100DeliveryAttemptTenant,
  Migration20261129160200NotificationTenantKeys,
];
export const notificationGlobalMigrations = [Migration20261129001400NotificationDelivery, Migration20261129002100DeliveryAttemptTenant];
