import { Entity, PrimaryKey } from '@mikro-orm/decorators/legacy';
import { BrandingColumns, brandingChecks } from './branding-columns.js';

/**
 * A tenant's own branding: one row per tenant, on the shard white-label's directory placed the tenant on.
 * A null field means "inherit from the partner, then the platform default". The tenant's partner is not
 * stored here: it belongs to the tenants subgraph and reaches Tenant.branding through @requires.
 */
@Entity({ tableName: 'tenant_branding' })
@brandingChecks('tenant_branding')
export class TenantBranding extends BrandingColumns {
  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;
}
