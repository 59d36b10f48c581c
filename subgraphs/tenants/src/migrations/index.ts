import { Migration } from '@mikro-orm/migrations';
import { Migration20261123000100Outbox } from '@saldo/events';

class Migration20261123001000Tenant extends Migration {
  override name = 'Migration20261123001000Tenant';

  override up(): void {
    this.addSql(`create table "tenant" (
      "id" uuid not null primary key,
      "name" text not null,
      "legal_name" text null,
      "address" jsonb null,
      "country" character(2) not null,
      "vat_id" text null,
      "currency" character(3) not null,
      "status" text not null default 'ACTIVE' check ("status" in ('ACTIVE', 'SUSPENDED')),
      "partner_id" uuid null,
      "suspended_at" timestamptz null,
      "suspension_reason" text null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null
    );`);
    this.addSql('create index "tenant_partner_id_id_index" on "tenant" ("partner_id", "id");');
  }

  override down(): void {
    this.addSql('drop table if exists "tenant";');
  }
}

class Migration20261123001001Partner extends Migration {
  override name = 'Migration20261123001001Partner';

  override up(): void {
    this.addSql(`create table "partner" (
      "id" uuid not null primary key,
      "name" text not null,
      "legal_name" text null,
      "country" character(2) not null,
      "contact_email" text null,
      "created_at" timestamptz not null
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "partner";');
  }
}

export const shardMigrations = [Migration20261123000100Outbox, Migration20261123001000Tenant];
export const globalMigrations = [Migration20261123001001Partner];
