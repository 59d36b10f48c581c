import { OptionalProps } from '@mikro-orm/core';
import { Check, Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { BrandingValues } from '../domain/branding.js';
import { BRANDING_CHECKS } from './branding-checks.js';

/**
 * A tenant's own branding: one row per tenant, on the shard white-label's directory placed the tenant on.
 * A null field means "inherit from the partner, then the platform default". The tenant's partner is not
 * stored here: it belongs to the tenants subgraph and reaches Tenant.branding through @requires.
 */
@Entity({ tableName: 'tenant_branding' })
@Check(BRANDING_CHECKS.displayName('tenant_branding'))
@Check(BRANDING_CHECKS.primaryColor('tenant_branding'))
@Check(BRANDING_CHECKS.accentColor('tenant_branding'))
@Check(BRANDING_CHECKS.logoUrl('tenant_branding'))
@Check(BRANDING_CHECKS.supportEmail('tenant_branding'))
export class TenantBranding implements BrandingValues {
  [OptionalProps]?: 'displayName' | 'primaryColor' | 'accentColor' | 'logoUrl' | 'supportEmail' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

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
