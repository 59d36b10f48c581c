import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import type { NotificationServices } from '../notifications/index.js';
import type { ApiKeyService } from '../services/api-key-service.js';
import type { PartnerService } from '../services/partner-service.js';
import type { TenantService } from '../services/tenant-service.js';
import type { Partner } from '../entities/partner.js';
import type { Tenant } from '../entities/tenant.js';

export interface TenantsServices {
  tenants: TenantService;
  partners: PartnerService;
  apiKeys: ApiKeyService;
  notifications: NotificationServices;
}

export type TenantsContext = SubgraphContext<TenantsServices>;

/** Per-request batch loaders: every Tenant/Partner lookup in one request becomes one batched read. */
export function tenantLoader(ctx: TenantsContext): Loader<string, Tenant | null> {
  return ctx.loader<string, Tenant | null>('tenant', (ids) => ctx.services.tenants.getMany(ids));
}

export function partnerLoader(ctx: TenantsContext): Loader<string, Partner | null> {
  return ctx.loader<string, Partner | null>('partner', (ids) => ctx.services.partners.getMany(ids));
}
