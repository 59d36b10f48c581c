import { OptionalProps } from '@mikro-orm/core';
import { Check, Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { BrandingValues } from '../domain/branding.js';
import { BRANDING_CHECKS } from './branding-checks.js';

/**
 * A partner's branding, inherited field by field by its tenants. Partners belong to no tenant, so the row
 * lives in the control database beside the shard directory. `partnerId` is the tenants subgraph's Partner id;
 * white-label keeps no copy of the partner itself. A null field means "inherit the platform default".
 */
@Entity({ tableName: 'partner_branding' })
@Check(BRANDING_CHECKS.displayName('partner_branding'))
@Check(BRANDING_CHECKS.primaryColor('partner_branding'))
@Check(BRANDING_CHECKS.accentColor('partner_branding'))
@Check(BRANDING_CHECKS.logoUrl('partner_branding'))
@Check(BRANDING_CHECKS.supportEmail('partner_branding'))
export class PartnerBranding implements BrandingValues {
  [OptionalProps]?: 'displayName' | 'primaryColor' | 'accentColor' | 'logoUrl' | 'supportEmail' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  partnerId!: string;

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
