import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { pageSize, toConnection } from '@saldo/graphql';
import type { Partner } from '../entities/partner.js';
import type { Tenant } from '../entities/tenant.js';
import { partnerLoader, tenantLoader, type TenantsContext } from './context.js';
import {
  CreatePartnerInput,
  CreateTenantInput,
  PartnerConnection,
  PartnerType,
  TenantConnection,
  TenantType,
  UpdateTenantInput,
} from './types.js';

const FIRST = { nullable: true, description: 'Page size, 1 to 100 (default 20).' } as const;
const AFTER = { nullable: true, description: 'endCursor of the previous page.' } as const;

@Resolver(() => TenantType)
export class TenantResolver {
  @Query(() => TenantType, { nullable: true, description: 'A tenant by id; null when there is none.' })
  tenant(@Arg('id', () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Tenant | null> {
    return ctx.services.tenants.get(id);
  }

  @Query(() => TenantConnection, { description: 'Tenants in creation order, across all shards.' })
  async tenants(
    @Ctx() ctx: TenantsContext,
    @Arg('first', () => Int, FIRST) first?: number | null,
    @Arg('after', () => String, AFTER) after?: string | null,
    @Arg('partnerId', () => ID, { nullable: true, description: 'Only this partner\'s tenants.' }) partnerId?: string | null,
  ): Promise<TenantConnection> {
    const service = ctx.services.tenants;
    const page = await service.list({ first: pageSize(first), after: after ?? null, partnerId: partnerId ?? null });
    return toConnection(page.tenants, page.hasNextPage, (tenant) => service.cursorOf(tenant)) as TenantConnection;
  }

  @Mutation(() => TenantType, { description: 'Creates a tenant on the least-loaded shard.' })
  createTenant(@Arg('input', () => CreateTenantInput) input: CreateTenantInput, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    return ctx.services.tenants.create(input);
  }

  @Mutation(() => TenantType)
  updateTenant(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateTenantInput) input: UpdateTenantInput,
    @Ctx() ctx: TenantsContext,
  ): Promise<Tenant> {
    return ctx.services.tenants.update(id, input);
  }

  @Mutation(() => TenantType, { description: 'Suspends an active tenant; its data stays, its usage is refused.' })
  suspendTenant(@Arg('id', () => ID) id: string, @Arg('reason') reason: string, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    return ctx.services.tenants.suspend(id, reason);
  }

  @Mutation(() => TenantType)
  reactivateTenant(@Arg('id', () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    return ctx.services.tenants.reactivate(id);
  }

  @FieldResolver(() => PartnerType, { nullable: true })
  async partner(@Root() tenant: Tenant, @Ctx() ctx: TenantsContext): Promise<Partner | null> {
    return tenant.partnerId ? partnerLoader(ctx).load(tenant.partnerId) : null;
  }
}

@Resolver(() => PartnerType)
export class PartnerResolver {
  @Query(() => PartnerType, { nullable: true })
  partner(@Arg('id', () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Partner | null> {
    return ctx.services.partners.get(id);
  }

  @Query(() => PartnerConnection)
  async partners(
    @Ctx() ctx: TenantsContext,
    @Arg('first', () => Int, FIRST) first?: number | null,
    @Arg('after', () => String, AFTER) after?: string | null,
  ): Promise<PartnerConnection> {
    const service = ctx.services.partners;
    const page = await service.list({ first: pageSize(first), after: after ?? null });
    return toConnection(page.partners, page.hasNextPage, (partner) => service.cursorOf(partner)) as PartnerConnection;
  }

  @Mutation(() => PartnerType)
  createPartner(@Arg('input', () => CreatePartnerInput) input: CreatePartnerInput, @Ctx() ctx: TenantsContext): Promise<Partner> {
    return ctx.services.partners.create(input);
  }

  @FieldResolver(() => TenantConnection, { description: 'This partner\'s tenants, in creation order.' })
  async tenants(
    @Root() partner: Partner,
    @Ctx() ctx: TenantsContext,
    @Arg('first', () => Int, FIRST) first?: number | null,
    @Arg('after', () => String, AFTER) after?: string | null,
  ): Promise<TenantConnection> {
    const service = ctx.services.tenants;
    const page = await service.list({ first: pageSize(first), after: after ?? null, partnerId: partner.id });
    return toConnection(page.tenants, page.hasNextPage, (tenant) => service.cursorOf(tenant)) as TenantConnection;
  }
}

export const referenceResolvers = {
  Tenant: (reference: { id: string }, ctx: TenantsContext) => tenantLoader(ctx).load(reference.id),
  Partner: (reference: { id: string }, ctx: TenantsContext) => partnerLoader(ctx).load(reference.id),
};
