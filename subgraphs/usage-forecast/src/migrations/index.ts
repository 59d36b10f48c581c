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

export const shardMigrations = [Migration20261124000000DailyUsage];
