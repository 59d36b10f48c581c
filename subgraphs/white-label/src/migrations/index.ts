import { Migration } from '@mikro-orm/migrations';

class Migration20261123003000TenantBranding extends Migration {
  override name = 'Migration20261123003000TenantBranding';

  override up(): void {
    this.addSql(`create table "tenant_branding" (
      "tenant_id" uuid not null primary key,
      "display_name" text null,
      "primary_color" character(7) null,
      "accent_color" character(7) null,
      "logo_url" text null,
      "support_email" text null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      constraint "tenant_branding_display_name_check" check ((char_length(display_name) >= 1) and (char_length(display_name) <= 100)),
      constraint "tenant_branding_primary_color_check" check (primary_color ~ '^#[0-9A-F]{6}$'),
      constraint "tenant_branding_accent_color_check" check (accent_color ~ '^#[0-9A-F]{6}$'),
      constraint "tenant_branding_logo_url_check" check (char_length(logo_url) <= 2048),
      constraint "tenant_branding_support_email_check" check (char_length(support_email) <= 254)
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "tenant_branding";');
  }
}

class Migration20261123003001PartnerBranding extends Migration {
  override name = 'Migration20261123003001PartnerBranding';

  override up(): void {
    this.addSql(`create table "partner_branding" (
      "partner_id" uuid not null primary key,
      "display_name" text null,
      "primary_color" character(7) null,
      "accent_color" character(7) null,
      "logo_url" text null,
      "support_email" text null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      constraint "partner_branding_display_name_check" check ((char_length(display_name) >= 1) and (char_length(display_name) <= 100)),
      constraint "partner_branding_primary_color_check" check (primary_color ~ '^#[0-9A-F]{6}$'),
      constraint "partner_branding_accent_color_check" check (accent_color ~ '^#[0-9A-F]{6}$'),
      constraint "partner_branding_logo_url_check" check (char_length(logo_url) <= 2048),
      constraint "partner_branding_support_email_check" check (char_length(support_email) <= 254)
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "partner_branding";');
  }
}

export const shardMigrations = [Migration20261123003000TenantBranding];
export const globalMigrations = [Migration20261123003001PartnerBranding];
