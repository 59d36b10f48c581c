import { Entity, PrimaryKey } from '@mikro-orm/decorators/legacy';
import { BrandingColumns, brandingChecks } from './branding-columns.js';

/**
 * A partner's branding, inherited field by field by its tenants. Partners belong to no tenant, so the row
 * lives in the control database beside the shard directory. `partnerId` is the tenants subgraph's Partner id;
 * white-label keeps no copy of the partner itself. A null field means "inherit the platform default".
 */
@Entity({ tableName: 'partner_branding' })
@brandingChecks('partner_branding')
export class PartnerBranding extends BrandingColumns {
  @PrimaryKey({ type: 'uuid' })
  partnerId!: string;
}
