import { Migration } from '@mikro-orm/migrations';

/** Custom domains, their certificates, the ACME account, orders (the rate-limit ledger) and open http-01 challenges. */
export class Migration20261128120000CustomDomains extends Migration {
  override name = 'Migration20261128120000CustomDomains';

  override up(): void {
    this.addSql(
      `create table "custom_domain" ("id" uuid not null, "partner_id" uuid not null, "hostname" text not null, "purpose" text not null, "status" text not null, "verification_token" text not null, "verified_at" timestamptz null, "last_error" text null, "last_error_code" text null, "next_attempt_at" timestamptz null, "certificate_id" uuid null, "pending_certificate_id" uuid null, "first_served_at" timestamptz null, "removed_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "custom_domain_partner_id_index" on "custom_domain" ("partner_id");`);
    this.addSql(`create unique index "custom_domain_hostname_holder_unique" on "custom_domain" ("hostname") where status <> 'REMOVED';`);
    this.addSql(
      `alter table "custom_domain" add constraint "custom_domain_hostname_check" check (hostname = lower(hostname) and char_length(hostname) <= 253);`,
    );
    this.addSql(`alter table "custom_domain" add constraint "custom_domain_purpose_check" check ("purpose" in ('PORTAL', 'API'));`);
    this.addSql(
      `alter table "custom_domain" add constraint "custom_domain_status_check" check ("status" in ('PENDING_VERIFICATION', 'VERIFIED', 'ISSUING', 'ACTIVE', 'RENEWING', 'FAILED', 'REMOVED'));`,
    );

    this.addSql(
      `create table "domain_certificate" ("id" uuid not null, "domain_id" uuid not null, "hostname" text not null, "serial" text not null, "fingerprint" text not null, "not_before" timestamptz not null, "not_after" timestamptz not null, "renew_at" timestamptz not null, "ari_cert_id" text null, "chain_sealed" text not null, "private_key_sealed" text not null, "created_at" timestamptz not null, "ari_renew_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "domain_certificate_domain_id_index" on "domain_certificate" ("domain_id");`);

    this.addSql(
      `create table "certificate_order" ("id" uuid not null, "domain_id" uuid not null, "hostname" text not null, "registered_domain" text not null, "account_id" uuid not null, "kind" text not null, "state" text not null, "claimed_by" text not null, "lease_until" timestamptz not null, "acme_order_url" text null, "certificate_id" uuid null, "error" text null, "created_at" timestamptz not null, "finished_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "certificate_order_account_id_created_at_index" on "certificate_order" ("account_id", "created_at");`);
    this.addSql(`create index "certificate_order_hostname_created_at_index" on "certificate_order" ("hostname", "created_at");`);
    this.addSql(`create index "certificate_order_registered_domain_created_at_index" on "certificate_order" ("registered_domain", "created_at");`);
    this.addSql(`create unique index "certificate_order_pending_unique" on "certificate_order" ("domain_id") where state = 'PENDING';`);
    this.addSql(`alter table "certificate_order" add constraint "certificate_order_kind_check" check ("kind" in ('ISSUE', 'RENEW'));`);
    this.addSql(`alter table "certificate_order" add constraint "certificate_order_state_check" check ("state" in ('PENDING', 'VALID', 'INVALID', 'ERROR'));`);

    this.addSql(
      `create table "acme_account" ("id" uuid not null, "directory_url" text not null, "key_sealed" text not null, "account_url" text null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "acme_account" add constraint "acme_account_directory_url_unique" unique ("directory_url");`);

    this.addSql(
      `create table "acme_challenge" ("token" text not null, "hostname" text not null, "key_authorization" text not null, "expires_at" timestamptz not null, "created_at" timestamptz not null, primary key ("token"));`,
    );
    this.addSql(`create index "acme_challenge_expires_at_index" on "acme_challenge" ("expires_at");`);
  }

  override down(): void {
    for (const table of ['acme_challenge', 'acme_account', 'certificate_order', 'domain_certificate', 'custom_domain'])
      this.addSql(`drop table if exists "${table}";`);
  }
}

/** Certificates revoked at the CA when their domain was removed (when, and the CA's last refusal while retrying). */
export class Migration20261129100000CertificateRevocation extends Migration {
  override name = 'Migration20261129100000CertificateRevocation';

  override up(): void {
    this.addSql(`alter table "domain_certificate" add column "revoked_at" timestamptz null, add column "revocation_error" text null;`);
  }

  override down(): void {
    this.addSql(`alter table "domain_certificate" drop column "revoked_at", drop column "revocation_error";`);
  }
}

export const domainGlobalMigrations = [Migration20261128120000CustomDomains, Migration20261129100000CertificateRevocation];
