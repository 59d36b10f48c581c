import { Arg, Ctx, Directive, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import { assertUuid } from '@saldo/graphql';
import { Money } from '@saldo/money';
import { balanceLoader, type BillingContext } from './context.js';
import { BalanceType, BillingTenant } from './types.js';

@Resolver(() => BillingTenant)
export class TenantBalanceResolver {
  @FieldResolver(() => BalanceType)
  @Directive('@requires(fields: "currency")')
  async balance(@Root() tenant: BillingTenant, @Ctx() ctx: BillingContext): Promise<BalanceType> {
    return BalanceType.from(await balanceLoader(ctx).load({ tenantId: tenant.id, currency: tenant.currency }));
  }
}

@Resolver()
export class BalanceQueryResolver {
  @Query(() => BalanceType, { nullable: true, description: 'A tenant\'s balance; null when billing holds no account for it.' })
  async balance(@Arg('tenantId', () => ID) tenantId: string, @Ctx() ctx: BillingContext): Promise<BalanceType | null> {
    const account = await ctx.services.accounts.find(assertUuid(tenantId, 'tenantId'));
    if (!account) return null;
    return BalanceType.from({ tenantId, available: Money.of(account.balanceMinor, account.currency), version: account.version, updatedAt: account.updatedAt });
  }
}

export const referenceResolvers = {
  // The representation carries id and, for balance, the @requires'd currency: nothing to load here.
  Tenant: (reference: { id: string; currency?: string }) => reference,
};
