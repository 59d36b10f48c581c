import { Arg, Ctx, Directive, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { assertUuid, decodeCursor, encodeCursor, pageSize, toConnection } from '@saldo/graphql';
import { LedgerEntryType } from '../entities/ledger-entry.js';
import { balanceView, overdraftPolicyView } from '../services/account-service.js';
import { accountLoader, transactionsLoader, type BillingContext } from './context.js';
import {
  BalanceType,
  BillingTenant,
  LedgerEntryConnection,
  LedgerEntryGql,
  OverdraftPolicyType,
  PublishRateInput,
  RateType,
  RecordUsageInput,
  RecordUsagePayload,
  SetOverdraftPolicyInput,
} from './types.js';

const VERSION_CURSOR = /^[1-9]\d{0,9}$/;

@Resolver(() => BillingTenant)
export class TenantBillingResolver {
  @FieldResolver(() => BalanceType)
  @Directive('@requires(fields: "currency")')
  async balance(@Root() tenant: BillingTenant, @Ctx() ctx: BillingContext): Promise<BalanceType> {
    await ctx.scope.requireTenant(assertUuid(tenant.id, 'id'), 'read');
    return BalanceType.from(balanceView(await accountLoader(ctx).load(tenant.id), tenant.id, tenant.currency));
  }

  @FieldResolver(() => OverdraftPolicyType, { description: 'What happens to usage beyond the balance (BLOCK until set otherwise).' })
  @Directive('@requires(fields: "currency")')
  async overdraftPolicy(@Root() tenant: BillingTenant, @Ctx() ctx: BillingContext): Promise<OverdraftPolicyType> {
    await ctx.scope.requireTenant(assertUuid(tenant.id, 'id'), 'read');
    return OverdraftPolicyType.from(overdraftPolicyView(await accountLoader(ctx).load(tenant.id), tenant.id, tenant.currency));
  }

  @FieldResolver(() => LedgerEntryConnection, { description: 'The tenant\'s ledger entries, newest first.' })
  async transactions(
    @Root() tenant: BillingTenant,
    @Ctx() ctx: BillingContext,
    // type-graphql prints arguments last parameter first: this order gives transactions(first, after, type, from, to).
    @Arg('to', () => Date, { nullable: true, description: 'Only entries posted before this instant.' }) to?: Date | null,
    @Arg('from', () => Date, { nullable: true, description: 'Only entries posted at or after this instant.' }) from?: Date | null,
    @Arg('type', () => LedgerEntryType, { nullable: true, description: 'Only entries of this type.' }) type?: LedgerEntryType | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20).' }) first?: number | null,
  ): Promise<LedgerEntryConnection> {
    const tenantId = assertUuid(tenant.id, 'id');
    const size = pageSize(first);
    const beforeVersion = after ? Number(decodeCursor(after, (key) => VERSION_CURSOR.test(key))) : null;
    await ctx.scope.requireTenant(tenantId, 'read');
    const page = await transactionsLoader(ctx).load({ tenantId, first: size, beforeVersion, type: type ?? null, from: from ?? null, to: to ?? null });
    return toConnection(page.entries.map(LedgerEntryGql.from), page.hasNextPage, (entry) => encodeCursor(String(entry.version))) as LedgerEntryConnection;
  }
}

@Resolver()
export class BalanceQueryResolver {
  @Query(() => BalanceType, { nullable: true, description: 'A tenant\'s balance; null when billing holds no account for it.' })
  async balance(@Arg('tenantId', () => ID) tenantId: string, @Ctx() ctx: BillingContext): Promise<BalanceType | null> {
    ctx.scope.requireAuthenticated();
    // Outside the caller's scope a tenant reads exactly like a missing one.
    if (!(await ctx.scope.allows(assertUuid(tenantId, 'tenantId'), 'read'))) return null;
    const account = await accountLoader(ctx).load(tenantId);
    return account ? BalanceType.from(balanceView(account, tenantId, account.currency)) : null;
  }
}

@Resolver()
export class UsageResolver {
  @Mutation(() => RecordUsagePayload, {
    description:
      'Charges usage to a tenant\'s prepaid balance at the rates valid when it happened. Idempotent per (tenant, event id): ' +
      'an event sent again is reported as DUPLICATE and not charged twice. Up to 1,000 events; any invalid event rejects the batch.',
  })
  async recordUsage(@Arg('input', () => RecordUsageInput) input: RecordUsageInput, @Ctx() ctx: BillingContext): Promise<RecordUsagePayload> {
    await ctx.scope.requireTenant(assertUuid(input.tenantId, 'tenantId'), 'write');
    return RecordUsagePayload.from(await ctx.services.usage.recordUsage(input.tenantId, input.events));
  }
}

@Resolver()
export class OverdraftResolver {
  @Mutation(() => OverdraftPolicyType, {
    description:
      'Sets what happens to usage beyond the balance. Tenant admins may only tighten it (BLOCK, a lower limit); ' +
      'extending credit is for platform operators and the tenant\'s partner.',
  })
  async setOverdraftPolicy(@Arg('input', () => SetOverdraftPolicyInput) input: SetOverdraftPolicyInput, @Ctx() ctx: BillingContext): Promise<OverdraftPolicyType> {
    await ctx.scope.requireTenant(assertUuid(input.tenantId, 'tenantId'), 'write');
    const role = ctx.scope.identity.role;
    const view = await ctx.services.accounts.setOverdraftPolicy(input, { mayExtendCredit: role === 'platform-admin' || role === 'partner' });
    return OverdraftPolicyType.from(view);
  }
}

@Resolver()
export class RateResolver {
  @Query(() => [RateType], { description: 'A currency\'s rate card: every version, by product then validFrom (or only those valid at `validAt`).' })
  async rates(
    @Ctx() ctx: BillingContext,
    @Arg('validAt', () => Date, { nullable: true, description: 'Only versions valid at this instant.' }) validAt: Date | null | undefined,
    @Arg('product', () => String, { nullable: true }) product: string | null | undefined,
    @Arg('currency') currency: string,
  ): Promise<RateType[]> {
    ctx.scope.requireAuthenticated();
    return (await ctx.services.rates.list({ currency, product, validAt })).map(RateType.from);
  }

  @Mutation(() => RateType, { description: 'Publishes a new version of a product\'s price in a currency (platform operators).' })
  async publishRate(@Arg('input', () => PublishRateInput) input: PublishRateInput, @Ctx() ctx: BillingContext): Promise<RateType> {
    ctx.scope.requirePlatformAdmin();
    return RateType.from(await ctx.services.rates.publish(input));
  }
}

export const referenceResolvers = {
  // The representation carries id and the @requires'd currency; fields load in batches (and check scope again).
  // A tenant outside the caller's scope resolves to null, exactly like a missing one.
  Tenant: async (reference: { id: string; currency?: string }, ctx: BillingContext) => {
    ctx.scope.requireAuthenticated();
    return (await ctx.scope.allows(assertUuid(String(reference.id), 'id'), 'read')) ? reference : null;
  },
};
