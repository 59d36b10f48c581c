import { Migration } from '@mikro-orm/migrations';

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

/** In billing's control database (the rate card is platform-wide). */
export const usageGlobalMigrations = [Migration20261125002200Rate];
