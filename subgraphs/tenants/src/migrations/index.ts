import { Migration } from '@mikro-orm/migrations';

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

class Migration20261123001002ApiKey extends Migration {
  override name = 'Migration20261123001002ApiKey';

  override up(): void {
    this.addSql(`create table "api_key" (
      "id" text not null primary key,
      "partner_id" uuid not null,
      "name" text not null,
      "secret_hash" text not null,
      "created_at" timestamptz not null,
      "expires_at" timestamptz null,
      "revoked_at" timestamptz null,
      "replaced_by" text null
    );`);
    this.addSql('create index "api_key_partner_id_index" on "api_key" ("partner_id");');
  }

  override down(): void {
    this.addSql('drop table if exists "api_key";');
  }
}

/** A partner reselling as seller of record (billing documents in its name). */
class Migration20261129001003PartnerSellerProfile extends Migration {
  override name = 'Migration20261129001003PartnerSellerProfile';

  override up(): void {
    this.addSql('alter table "partner" add column "seller_profile" jsonb null;');
  }

  override down(): void {
    this.addSql('alter table "partner" drop column "seller_profile";');
  }
}

export const shardMigrations = [Migration20261123001000Tenant];
export const globalMigrations = [Migration20261123001001Partner, Migration20261123001002ApiKey, Migration20261129001003PartnerSellerProfile];
