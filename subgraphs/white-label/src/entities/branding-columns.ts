import { OptionalProps } from '@mikro-orm/core';
import { Check, Entity, Property } from '@mikro-orm/decorators/legacy';
import type { BrandingValues } from '../domain/branding.js';
import { BRANDING_CHECKS } from './branding-checks.js';

/**
 * The branding columns both levels share (partner rows in the control database, tenant rows on shards).
 * A null field means "inherit from the level above".
 */
@Entity({ abstract: true })
export abstract class BrandingColumns implements BrandingValues {
  [OptionalProps]?: 'displayName' | 'primaryColor' | 'accentColor' | 'logoUrl' | 'supportEmail' | 'createdAt' | 'updatedAt';

  @Property({ type: 'text', nullable: true })
  displayName: string | null = null;

  @Property({ type: 'character', length: 7, nullable: true })
  primaryColor: string | null = null;

  @Property({ type: 'character', length: 7, nullable: true })
  accentColor: string | null = null;

  @Property({ type: 'text', nullable: true })
  logoUrl: string | null = null;

  @Property({ type: 'text', nullable: true })
  supportEmail: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

/** The named check constraints of a branding table (the migrations create the same). */
export function brandingChecks(table: string): ClassDecorator {
  return (target) => {
    for (const check of Object.values(BRANDING_CHECKS)) Check(check(table))(target);
  };
}

/** The branding columns as a raw SQL read returns them (BRANDING_SELECT). */
export interface BrandingRow {
  display_name: string | null;
  primary_color: string | null;
  accent_color: string | null;
  logo_url: string | null;
  support_email: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

/** The select list of the branding columns, for raw reads of rows nobody modifies (no hydration, no identity map). */
export const BRANDING_SELECT = 'display_name, primary_color, accent_color, logo_url, support_email, created_at, updated_at';

/** Fills a detached branding entity from a raw row (what em.find would have hydrated). */
export function brandingFromRow<T extends BrandingColumns>(entity: T, row: BrandingRow): T {
  entity.displayName = row.display_name;
  entity.primaryColor = row.primary_color;
  entity.accentColor = row.accent_color;
  entity.logoUrl = row.logo_url;
  entity.supportEmail = row.support_email;
  entity.createdAt = new Date(row.created_at);
  entity.updatedAt = new Date(row.updated_at);
  return entity;
}
