import { Migration } from '@mikro-orm/migrations';

/** Billing's control database: the document journal, its number counters and the logos documents refer to. */
export class Migration20261129001000DocumentJournal extends Migration {
  override name = 'Migration20261129001000DocumentJournal';

  override up(): void {
    this.addSql(`create table "document_number_counter" (
      "issuer_id" text not null,
      "series" text not null,
      "year" integer not null,
      "last_value" bigint not null,
      constraint "document_number_counter_pkey" primary key ("issuer_id", "series", "year"),
      constraint "document_number_counter_last_value_check" check (last_value > 0)
    );`);
    this.addSql(`create table "billing_document" (
      "id" uuid not null primary key,
      "tenant_id" uuid not null,
      "issuer_id" text not null,
      "kind" text not null check ("kind" in ('INVOICE', 'CREDIT_NOTE', 'STATEMENT')),
      "series" text not null,
      "year" integer not null,
      "sequence" bigint not null,
      "number" text not null,
      "issue_date" date not null,
      "issued_at" timestamptz not null,
      "period_from" date not null,
      "period_to" date not null,
      "currency" character(3) not null,
      "net_minor" bigint not null,
      "vat_minor" bigint not null,
      "gross_minor" bigint not null,
      "source_key" text not null,
      "corrects_id" uuid null,
      "content" jsonb not null,
      constraint "billing_document_issuer_id_series_year_sequence_unique" unique ("issuer_id", "series", "year", "sequence"),
      constraint "billing_document_issuer_id_number_unique" unique ("issuer_id", "number"),
      constraint "billing_document_source_key_unique" unique ("source_key"),
      constraint "billing_document_sequence_check" check (sequence > 0),
      constraint "billing_document_totals_check" check (gross_minor = net_minor + vat_minor)
    );`);
    this.addSql(`create index "billing_document_tenant_id_issue_date_id_index" on "billing_document" ("tenant_id", "issue_date", "id");`);
    this.addSql(`create index "billing_document_corrects_id_index" on "billing_document" ("corrects_id");`);
    this.addSql(`create or replace function "billing_document_immutable_fn"() returns trigger language plpgsql as $$ begin
      raise exception 'billing_document is immutable: % refused', tg_op using errcode = 'restrict_violation'; end; $$;`);
    this.addSql(
      `create trigger "billing_document_immutable" before update or delete on "billing_document" for each row execute function "billing_document_immutable_fn"();`,
    );
    this.addSql(`create table "document_logo" ("sha256" text not null primary key, "mime" text not null, "data" bytea not null);`);
  }

  override down(): void {
    this.addSql('drop table if exists "document_logo";');
    this.addSql('drop table if exists "billing_document";');
    this.addSql('drop function if exists "billing_document_immutable_fn"();');
    this.addSql('drop table if exists "document_number_counter";');
  }
}

/** Billing's control database: partners as sellers of record and white-label branding, as their events carry them. */
export class Migration20261129001100DocumentProjections extends Migration {
  override name = 'Migration20261129001100DocumentProjections';

  override up(): void {
    this.addSql(`create table "document_issuer_profile" ("partner_id" uuid not null primary key, "profile" jsonb null, "changed_at" timestamptz not null);`);
    this.addSql(`create table "document_branding" (
      "level" text not null,
      "owner_id" uuid not null,
      "values" jsonb not null,
      "logo_sha256" text null,
      "changed_at" timestamptz not null,
      constraint "document_branding_pkey" primary key ("level", "owner_id")
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "document_branding";');
    this.addSql('drop table if exists "document_issuer_profile";');
  }
}

/** Tenant shards: the customer data documents are addressed to. */
export class Migration20261129001200BillingCustomer extends Migration {
  override name = 'Migration20261129001200BillingCustomer';

  override up(): void {
    this.addSql(`create table "billing_customer" (
      "tenant_id" uuid not null primary key,
      "name" text null,
      "legal_name" text null,
      "address" jsonb null,
      "country" character(2) null,
      "vat_id" text null,
      "partner_id" uuid null,
      "buyer_reference" text null,
      "profile_at" timestamptz null,
      "updated_at" timestamptz not null
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "billing_customer";');
  }
}

export const documentsGlobalMigrations = [Migration20261129001000DocumentJournal, Migration20261129001100DocumentProjections];
export const documentsShardMigrations = [Migration20261129001200BillingCustomer];
