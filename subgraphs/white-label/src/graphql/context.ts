import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import type { PartnerBranding } from '../entities/partner-branding.js';
import type { TenantBranding } from '../entities/tenant-branding.js';
import type { PartnerBrandingService } from '../services/partner-branding-service.js';
import type { TenantBrandingService } from '../services/tenant-branding-service.js';
import type { DomainService, DomainServices } from '../domains/index.js';

export interface WhiteLabelServices {
  tenantBranding: TenantBrandingService;
  partnerBranding: PartnerBrandingService;
  /** Custom domains (the GraphQL surface). */
  domains: DomainService;
  /** Custom domains with their certificate and web-server parts (background work, tests). */
  customDomains: DomainServices;
}

export type WhiteLabelContext = SubgraphContext<WhiteLabelServices>;

/**
 * Per-request batch loaders: every tenant-level row in one request becomes one directory lookup plus one
 * query per shard; every partner-level row one control-database query.
 */
export function tenantBrandingLoader(ctx: WhiteLabelContext): Loader<string, TenantBranding | null> {
  return ctx.loader<string, TenantBranding | null>('tenantBranding', (ids) => ctx.services.tenantBranding.getMany(ids));
}

export function partnerBrandingLoader(ctx: WhiteLabelContext): Loader<string, PartnerBranding | null> {
  return ctx.loader<string, PartnerBranding | null>('partnerBranding', (ids) => ctx.services.partnerBranding.getMany(ids));
}
