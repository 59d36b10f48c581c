import { Migration } from '@mikro-orm/migrations';
import { Migration20261123000100Outbox } from '@saldo/events';

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

export const shardMigrations = [Migration20261123000100Outbox, Migration20261123002000Account];
