import { Arg, Ctx, Directive, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ErrorCode, SaldoError, isUuid } from '@saldo/graphql';
import { PLATFORM_BRANDING, resolvePartnerBranding, resolveTenantBranding, type ResolvedBranding } from '../domain/branding.js';
import { CustomDomainType, customDomainsLoader, type CustomDomain } from '../domains/index.js';
import { partnerBrandingLoader, tenantBrandingLoader, type WhiteLabelContext } from './context.js';
import { BrandingInput, BrandingType, PartnerStub, TenantStub } from './types.js';

/** What a Tenant resolves to here: its id and, when Tenant.branding is asked for, its partner from @requires. */
interface TenantReference {
  id: string;
  partner?: { id: string } | null;
}

interface PartnerReference {
  id: string;
}

@Resolver()
export class BrandingResolver {
  @Query(() => BrandingType, { description: 'The platform default: what a tenant sees when neither it nor its partner set a field.' })
  defaultBranding(@Ctx() ctx: WhiteLabelContext): ResolvedBranding {
    ctx.scope.requireAuthenticated();
    return { ...PLATFORM_BRANDING };
  }

  @Query(() => BrandingType, {
    description:
      "The branding for this request, readable without signing in (login pages): on a partner's custom domain that " +
      "partner's, otherwise the signed-in partner's or tenant's (as far as known), otherwise the platform default.",
  })
  async currentBranding(@Ctx() ctx: WhiteLabelContext): Promise<ResolvedBranding> {
    const identity = ctx.identity;
    const partnerId = ctx.scope.hostPartnerId ?? (identity.role === 'anonymous' || identity.role === 'platform-admin' ? undefined : identity.partnerId);
    const tenantId = identity.role === 'tenant-admin' || identity.role === 'tenant-member' ? identity.tenantId : undefined;
    const [own, partner] = await Promise.all([
      tenantId && (await ctx.scope.allows(tenantId, 'read')) ? tenantBrandingLoader(ctx).load(tenantId) : null,
      partnerId ? partnerBrandingLoader(ctx).load(partnerId) : null,
    ]);
    return tenantId ? resolveTenantBranding(own, partner) : resolvePartnerBranding(partner);
  }

  @Mutation(() => BrandingType, { description: "Changes a partner's branding; returns it merged with the platform default." })
  async setPartnerBranding(
    @Arg('partnerId', () => ID) partnerId: string,
    @Arg('input', () => BrandingInput) input: BrandingInput,
    @Ctx() ctx: WhiteLabelContext,
  ): Promise<ResolvedBranding> {
    ctx.scope.requirePartner(partnerId);
    return resolvePartnerBranding(await ctx.services.partnerBranding.set(partnerId, input));
  }

  @Mutation(() => BrandingType, {
    description:
      "Changes a tenant's own branding. Returns the tenant's own values merged with the platform default only: " +
      "this subgraph does not know the tenant's partner here, so partner values are not applied. " +
      'Read Tenant.branding for the effective branding.',
  })
  async setTenantBranding(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('input', () => BrandingInput) input: BrandingInput,
    @Ctx() ctx: WhiteLabelContext,
  ): Promise<ResolvedBranding> {
    await ctx.scope.requireTenant(tenantId, 'write');
    return resolveTenantBranding(await ctx.services.tenantBranding.set(tenantId, input), null);
  }

  @Mutation(() => Boolean, {
    description: "Removes a tenant's own branding so it inherits everything again; true when there was branding to remove.",
  })
  async clearTenantBranding(@Arg('tenantId', () => ID) tenantId: string, @Ctx() ctx: WhiteLabelContext): Promise<boolean> {
    await ctx.scope.requireTenant(tenantId, 'write');
    return ctx.services.tenantBranding.clear(tenantId);
  }
}

@Resolver(() => TenantStub)
export class TenantBrandingResolver {
  @FieldResolver(() => BrandingType, { description: 'Effective branding, per field: tenant, else partner, else platform default.' })
  @Directive('@requires(fields: "partner { id }")')
  async branding(@Root() tenant: TenantReference, @Ctx() ctx: WhiteLabelContext): Promise<ResolvedBranding> {
    await ctx.scope.requireTenant(tenant.id, 'read');
    const partnerId = tenant.partner?.id ?? null;
    const [own, partner] = await Promise.all([
      tenantBrandingLoader(ctx).load(tenant.id),
      partnerId === null ? null : partnerBrandingLoader(ctx).load(partnerId),
    ]);
    return resolveTenantBranding(own, partner);
  }
}

@Resolver(() => PartnerStub)
export class PartnerBrandingResolver {
  @FieldResolver(() => BrandingType, { description: "The partner's branding merged with the platform default, as its tenants inherit it." })
  async branding(@Root() partner: PartnerReference, @Ctx() ctx: WhiteLabelContext): Promise<ResolvedBranding> {
    // What a partner shows its customers is not secret: any signed-in caller may read it.
    ctx.scope.requireAuthenticated();
    return resolvePartnerBranding(await partnerBrandingLoader(ctx).load(partner.id));
  }

  @FieldResolver(() => [CustomDomainType], {
    description: "The partner's custom domains (not removed), by hostname: for the partner itself and operators; empty for anyone else.",
  })
  async customDomains(@Root() partner: PartnerReference, @Ctx() ctx: WhiteLabelContext): Promise<CustomDomain[]> {
    ctx.scope.requireAuthenticated();
    return ctx.scope.mayActForPartner(partner.id) ? customDomainsLoader(ctx).load(partner.id) : [];
  }
}

/** A representation's id must be a UUID string; anything else is INVALID_ID before any query runs. */
function representationId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isUuid(value)) throw new SaldoError(ErrorCode.InvalidId, `${field}: must be a UUID`, { field });
  return value;
}

/**
 * Entity resolution. Both load through the per-request loaders, so an `_entities` call for N tenants
 * costs one directory lookup, one query per shard and one control-database query for all their partners.
 * The tenant's own row and its partner's row are fetched in parallel; Tenant.branding then reads the
 * loaders' cache.
 */
export const referenceResolvers = {
  Tenant: async (reference: { id: unknown; partner?: { id: unknown } | null }, ctx: WhiteLabelContext): Promise<TenantReference | null> => {
    const id = representationId(reference.id, 'id');
    if (!(await ctx.scope.allows(id, 'read'))) return null;
    const partner = reference.partner == null ? reference.partner : { id: representationId(reference.partner.id, 'partner.id') };
    await Promise.all([tenantBrandingLoader(ctx).load(id), partner ? partnerBrandingLoader(ctx).load(partner.id) : null]);
    return { id, partner };
  },
  Partner: async (reference: { id: unknown }, ctx: WhiteLabelContext): Promise<PartnerReference> => {
    const id = representationId(reference.id, 'id');
    await partnerBrandingLoader(ctx).load(id);
    return { id };
  },
};
