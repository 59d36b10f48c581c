import { Arg, Ctx, Directive, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { assertUuid, decodeCursor, encodeCursor, pageSize, toConnection } from '@saldo/graphql';
import { TenantStub } from '../../shared/graphql.js';
import { LedgerEntryType } from '../entities/ledger-entry.js';
import { balanceView, overdraftPolicyView } from '../services/account-service.js';
import { accountLoader, transactionsLoader, type LedgerContext } from './context.js';
import { BalanceType, LedgerEntryConnection, LedgerEntryGql, OverdraftPolicyType, SetOverdraftPolicyInput } from './types.js';

const VERSION_CURSOR = /^[1-9]\d{0,9}$/;

@Resolver(() => TenantStub)
export class TenantBillingResolver {
  @FieldResolver(() => BalanceType)
  @Directive('@requires(fields: "currency")')
  async balance(@Root() tenant: TenantStub, @Ctx() ctx: LedgerContext): Promise<BalanceType> {
    await ctx.scope.requireTenant(assertUuid(tenant.id, 'id'), 'read');
    return BalanceType.from(balanceView(await accountLoader(ctx).load(tenant.id), tenant.id, tenant.currency));
  }

  @FieldResolver(() => OverdraftPolicyType, { description: 'What happens to usage beyond the balance (BLOCK until set otherwise).' })
  @Directive('@requires(fields: "currency")')
  async overdraftPolicy(@Root() tenant: TenantStub, @Ctx() ctx: LedgerContext): Promise<OverdraftPolicyType> {
    await ctx.scope.requireTenant(assertUuid(tenant.id, 'id'), 'read');
    return OverdraftPolicyType.from(overdraftPolicyView(await accountLoader(ctx).load(tenant.id), tenant.id, tenant.currency));
  }

  @FieldResolver(() => LedgerEntryConnection, { description: "The tenant's ledger entries, newest first." })
  async transactions(
    @Root() tenant: TenantStub,
    @Ctx() ctx: LedgerContext,
    // type-graphql prints arguments last parameter first: this order gives transactions(first, after, type, from, to).
    @Arg('to', () => Date, { nullable: true, description: 'Only entries posted before this instant.' }) to?: Date | null,
    @Arg('from', () => Date, { nullable: true, description: 'Only entries posted at or after this instant.' }) from?: Date | null,
    @Arg('type', () => LedgerEntryType, { nullable: true, description: 'Only entries of this type.' }) type?: LedgerEntryType | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20).' }) first?: number | null,
  ): Promise<LedgerEntryConnection> {
    const tenantId = assertUuid(tenant.id, 'id');
    const size = pageSize(first);
    // Versions are PostgreSQL integers: a larger one is a forged cursor, not a database error.
    const beforeVersion = after ? Number(decodeCursor(after, (key) => VERSION_CURSOR.test(key) && Number(key) <= 2_147_483_647)) : null;
    await ctx.scope.requireTenant(tenantId, 'read');
    const page = await transactionsLoader(ctx).load({ tenantId, first: size, beforeVersion, type: type ?? null, from: from ?? null, to: to ?? null });
    return toConnection(page.entries.map(LedgerEntryGql.from), page.hasNextPage, (entry) => encodeCursor(String(entry.version))) as LedgerEntryConnection;
  }
}

@Resolver()
export class BalanceQueryResolver {
  @Query(() => BalanceType, { nullable: true, description: "A tenant's balance; null when billing holds no account for it." })
  async balance(@Arg('tenantId', () => ID) tenantId: string, @Ctx() ctx: LedgerContext): Promise<BalanceType | null> {
    ctx.scope.requireAuthenticated();
    // Outside the caller's scope a tenant reads exactly like a missing one.
    if (!(await ctx.scope.allows(assertUuid(tenantId, 'tenantId'), 'read'))) return null;
    const account = await accountLoader(ctx).load(tenantId);
    return account ? BalanceType.from(balanceView(account, tenantId, account.currency)) : null;
  }
}

@Resolver()
export class OverdraftResolver {
  @Mutation(() => OverdraftPolicyType, {
    description:
      'Sets what happens to usage beyond the balance. Tenant admins may only tighten it (BLOCK, a lower limit); ' +
      "extending credit is for platform operators and the tenant's partner.",
  })
  async setOverdraftPolicy(
    @Arg('input', () => SetOverdraftPolicyInput) input: SetOverdraftPolicyInput,
    @Ctx() ctx: LedgerContext,
  ): Promise<OverdraftPolicyType> {
    await ctx.scope.requireTenant(assertUuid(input.tenantId, 'tenantId'), 'write');
    const role = ctx.scope.identity.role;
    const view = await ctx.services.accounts.setOverdraftPolicy(input, { mayExtendCredit: role === 'platform-admin' || role === 'partner' });
    return OverdraftPolicyType.from(view);
  }
}
