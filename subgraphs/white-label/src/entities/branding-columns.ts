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
