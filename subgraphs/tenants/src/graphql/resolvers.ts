import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ErrorCode, SaldoError, pageSize, toConnection } from '@saldo/graphql';
import type { ApiKey } from '../entities/api-key.js';
import type { Partner } from '../entities/partner.js';
import type { Tenant } from '../entities/tenant.js';
import { partnerLoader, tenantLoader, type TenantsContext } from './context.js';
import {
  ApiKeyType,
  CreatePartnerInput,
  CreateTenantInput,
  IssuedApiKeyType,
  PartnerConnection,
  PartnerType,
  SellerProfileInput,
  SellerProfileType,
  TenantConnection,
  TenantType,
  UpdateTenantInput,
} from './types.js';

const FIRST = { nullable: true, description: 'Page size, 1 to 100 (default 20).' } as const;
const AFTER = { nullable: true, description: 'endCursor of the previous page.' } as const;

/** A tenant the caller may read, or null: "not yours" and "does not exist" look the same. */
async function visibleTenant(ctx: TenantsContext, tenant: Tenant | null): Promise<Tenant | null> {
  return tenant && (await ctx.scope.allows(tenant.id, 'read')) ? tenant : null;
}

/** Partners are visible to platform admins and to themselves (through a custom domain: only that domain's partner). */
function partnerVisible(ctx: TenantsContext, partnerId: string): boolean {
  return ctx.scope.mayActForPartner(partnerId);
}

@Resolver(() => TenantType)
export class TenantResolver {
  @Query(() => TenantType, { nullable: true, description: 'A tenant by id; null when there is none or it is not yours.' })
  async tenant(@Arg('id', () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Tenant | null> {
    ctx.scope.requireAuthenticated();
    return visibleTenant(ctx, await ctx.services.tenants.get(id));
  }

  @Query(() => TenantConnection, { description: "Tenants in creation order, across all shards: all for operators, a partner's own, or your own." })
  async tenants(
    @Ctx() ctx: TenantsContext,
    @Arg('first', () => Int, FIRST) first?: number | null,
    @Arg('after', () => String, AFTER) after?: string | null,
    @Arg('partnerId', () => ID, { nullable: true, description: "Only this partner's tenants." }) partnerId?: string | null,
  ): Promise<TenantConnection> {
    ctx.scope.requireAuthenticated();
    const identity = ctx.identity;
    const filter = { first: pageSize(first), after: after ?? null, partnerId: partnerId ?? null, onlyTenantId: null as string | null };
    if (identity.role === 'partner') {
      if (partnerId && partnerId !== identity.partnerId) throw new SaldoError(ErrorCode.Forbidden, 'You may only list your own tenants.');
      filter.partnerId = identity.partnerId;
    } else if (identity.role === 'tenant-admin' || identity.role === 'tenant-member') {
      filter.onlyTenantId = identity.tenantId;
    }
    const host = ctx.scope.hostPartnerId;
    if (host !== undefined) {
      // Through a partner's custom domain: that partner's tenants only.
      if (filter.partnerId && filter.partnerId !== host) throw new SaldoError(ErrorCode.Forbidden, "Only this domain's partner's tenants are listed here.");
      filter.partnerId = host;
    }
    const service = ctx.services.tenants;
    const page = await service.list(filter);
    return toConnection(page.tenants, page.hasNextPage, (tenant) => service.cursorOf(tenant)) as TenantConnection;
  }

  @Mutation(() => TenantType, { description: 'Creates a tenant on the least-loaded shard. Partners create tenants under themselves.' })
  createTenant(@Arg('input', () => CreateTenantInput) input: CreateTenantInput, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    ctx.scope.requireAuthenticated();
    const identity = ctx.identity;
    if (identity.role === 'partner') {
      if (input.partnerId && input.partnerId !== identity.partnerId) throw new SaldoError(ErrorCode.Forbidden, 'Partners create tenants under themselves.');
      return ctx.services.tenants.create({ ...input, partnerId: identity.partnerId });
    }
    ctx.scope.requirePlatformAdmin();
    return ctx.services.tenants.create(input);
  }

  @Mutation(() => TenantType)
  async updateTenant(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateTenantInput) input: UpdateTenantInput,
    @Ctx() ctx: TenantsContext,
  ): Promise<Tenant> {
    await ctx.scope.requireTenant(id, 'write');
    return ctx.services.tenants.update(id, input);
  }

  @Mutation(() => TenantType, { description: "Suspends an active tenant; its data stays, its usage is refused. Operators and the tenant's partner." })
  async suspendTenant(@Arg('id', () => ID) id: string, @Arg('reason') reason: string, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    await requireLifecycleRights(ctx, id);
    return ctx.services.tenants.suspend(id, reason);
  }

  @Mutation(() => TenantType)
  async reactivateTenant(@Arg('id', () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    await requireLifecycleRights(ctx, id);
    return ctx.services.tenants.reactivate(id);
  }

  @FieldResolver(() => PartnerType, { nullable: true })
  async partner(@Root() tenant: Tenant, @Ctx() ctx: TenantsContext): Promise<Partner | null> {
    // Readable through a tenant the caller may see: its users know who resells to them.
    return tenant.partnerId ? partnerLoader(ctx).load(tenant.partnerId) : null;
  }
}

/** Suspension is the platform's or the reseller's decision, never the tenant's own. */
async function requireLifecycleRights(ctx: TenantsContext, tenantId: string): Promise<void> {
  const role = ctx.identity.role;
  if (role === 'tenant-admin' || role === 'tenant-member') throw new SaldoError(ErrorCode.Forbidden, 'Tenants cannot change their own lifecycle.');
  await ctx.scope.requireTenant(tenantId, 'write');
}

@Resolver(() => PartnerType)
export class PartnerResolver {
  @Query(() => PartnerType, { nullable: true, description: 'A partner by id; null when there is none or it is not you.' })
  async partner(@Arg('id', () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Partner | null> {
    ctx.scope.requireAuthenticated();
    const partner = await ctx.services.partners.get(id);
    return partner && partnerVisible(ctx, partner.id) ? partner : null;
  }

  @Query(() => PartnerConnection, { description: 'All partners for operators; a partner sees itself.' })
  async partners(
    @Ctx() ctx: TenantsContext,
    @Arg('first', () => Int, FIRST) first?: number | null,
    @Arg('after', () => String, AFTER) after?: string | null,
  ): Promise<PartnerConnection> {
    ctx.scope.requireAuthenticated();
    const service = ctx.services.partners;
    const identity = ctx.identity;
    if (identity.role !== 'platform-admin' || ctx.scope.hostPartnerId !== undefined) {
      if (identity.role !== 'partner' && identity.role !== 'platform-admin')
        throw new SaldoError(ErrorCode.Forbidden, 'Only operators and partners list partners.');
      // A partner sees itself; through a custom domain, anyone sees that domain's partner only.
      const visibleId = ctx.scope.hostPartnerId ?? (identity.role === 'partner' ? identity.partnerId : undefined);
      const own = after || !visibleId || !partnerVisible(ctx, visibleId) ? null : await service.get(visibleId);
      return toConnection(own ? [own] : [], false, (partner) => service.cursorOf(partner)) as PartnerConnection;
    }
    const page = await service.list({ first: pageSize(first), after: after ?? null });
    return toConnection(page.partners, page.hasNextPage, (partner) => service.cursorOf(partner)) as PartnerConnection;
  }

  @Mutation(() => PartnerType)
  createPartner(@Arg('input', () => CreatePartnerInput) input: CreatePartnerInput, @Ctx() ctx: TenantsContext): Promise<Partner> {
    ctx.scope.requirePlatformAdmin();
    return ctx.services.partners.create(input);
  }

  @Mutation(() => PartnerType, {
    description:
      "Makes the partner the seller of record of its tenants' billing documents (issued in its name and number series from now on), or the platform again with null. Platform admins and the partner itself.",
  })
  setPartnerSellerProfile(
    @Arg('partnerId', () => ID) partnerId: string,
    @Arg('input', () => SellerProfileInput, { nullable: true }) input: SellerProfileInput | null,
    @Ctx() ctx: TenantsContext,
  ): Promise<Partner> {
    ctx.scope.requirePartner(partnerId);
    return ctx.services.partners.setSellerProfile(partnerId, input);
  }

  @FieldResolver(() => SellerProfileType, { nullable: true })
  sellerProfile(@Root() partner: Partner, @Ctx() ctx: TenantsContext): SellerProfileType | null {
    ctx.scope.requirePartner(partner.id);
    return partner.sellerProfile;
  }

  @FieldResolver(() => TenantConnection, { description: "This partner's tenants, in creation order." })
  async tenants(
    @Root() partner: Partner,
    @Ctx() ctx: TenantsContext,
    @Arg('first', () => Int, FIRST) first?: number | null,
    @Arg('after', () => String, AFTER) after?: string | null,
  ): Promise<TenantConnection> {
    ctx.scope.requirePartner(partner.id);
    const service = ctx.services.tenants;
    const page = await service.list({ first: pageSize(first), after: after ?? null, partnerId: partner.id });
    return toConnection(page.tenants, page.hasNextPage, (tenant) => service.cursorOf(tenant)) as TenantConnection;
  }

  @FieldResolver(() => [ApiKeyType], { description: "This partner's API keys (never their secrets)." })
  async apiKeys(@Root() partner: Partner, @Ctx() ctx: TenantsContext): Promise<ApiKeyType[]> {
    ctx.scope.requirePartner(partner.id);
    const loader = ctx.loader<string, ApiKey[]>('apiKeys', (ids) => ctx.services.apiKeys.listForPartners(ids));
    return (await loader.load(partner.id)).map(toApiKeyType);
  }
}

@Resolver(() => ApiKeyType)
export class ApiKeyResolver {
  @Mutation(() => IssuedApiKeyType, { description: 'Issues an API key for a partner. The secret is in this response only.' })
  async createApiKey(@Arg('partnerId', () => ID) partnerId: string, @Arg('name') name: string, @Ctx() ctx: TenantsContext): Promise<IssuedApiKeyType> {
    ctx.scope.requirePartner(partnerId);
    const issued = await ctx.services.apiKeys.create(partnerId, name);
    return { apiKey: toApiKeyType(issued.apiKey), secret: issued.secret };
  }

  @Mutation(() => ApiKeyType, { description: 'Revokes a key at once (the gateway may accept it for up to its cache interval, 5 s by default).' })
  async revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<ApiKeyType> {
    await requireOwnKey(ctx, id);
    return toApiKeyType(await ctx.services.apiKeys.revoke(id));
  }

  @Mutation(() => IssuedApiKeyType, { description: 'Replaces a key; the old one keeps working for graceSeconds (0: stops now).' })
  async rotateApiKey(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: TenantsContext,
    @Arg('graceSeconds', () => Int, { nullable: true, defaultValue: 0 }) graceSeconds: number,
  ): Promise<IssuedApiKeyType> {
    await requireOwnKey(ctx, id);
    const issued = await ctx.services.apiKeys.rotate(id, graceSeconds);
    return { apiKey: toApiKeyType(issued.apiKey), secret: issued.secret };
  }
}

/** Someone else's key is reported as not found, so key ids cannot be probed. */
async function requireOwnKey(ctx: TenantsContext, keyId: string): Promise<void> {
  ctx.scope.requireAuthenticated();
  const key = await ctx.services.apiKeys.get(keyId);
  if (!key || !partnerVisible(ctx, key.partnerId)) throw new SaldoError(ErrorCode.NotFound, `No active API key with id ${keyId}.`, { field: 'id' });
}

function toApiKeyType(key: ApiKey): ApiKeyType {
  return {
    id: key.id,
    name: key.name,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt,
    revokedAt: key.revokedAt,
    replacedBy: key.replacedBy,
    active: key.isActive(),
  };
}

export const referenceResolvers = {
  Tenant: async (reference: { id: string }, ctx: TenantsContext) => visibleTenant(ctx, await tenantLoader(ctx).load(reference.id)),
  Partner: async (reference: { id: string }, ctx: TenantsContext) => {
    const partner = await partnerLoader(ctx).load(reference.id);
    return partner && partnerVisible(ctx, partner.id) ? partner : null;
  },
};
