import { Arg, Ctx, Field, FieldResolver, ID, ObjectType, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { MoneyType, assertUuid } from '@saldo/graphql';
import { balanceFeedOf, type BalanceFeedItem } from '../services/balance-feed.js';
import { TenantStub } from '../../shared/graphql.js';
import type { LedgerContext } from './context.js';
import { BalanceType, LedgerEntryGql } from './types.js';

@ObjectType('BalanceUpdate', { description: "A tenant's balance as it changes: the current balance first on subscribe, then one update per ledger posting." })
export class BalanceUpdateType {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => BalanceType, { description: 'The balance after the change (on subscribe: the current balance).' })
  balance!: BalanceType;

  @Field(() => MoneyType, { nullable: true, description: 'The balance before the change; null for the current balance delivered on subscribe.' })
  previousBalance!: MoneyType | null;

  @Field(() => TenantStub, { description: 'The tenant (resolve any Tenant field through the graph).' })
  tenant!: TenantStub;

  /** Not a field: what `entry` needs. */
  source!: BalanceFeedItem;

  static from(item: BalanceFeedItem): BalanceUpdateType {
    const update = new BalanceUpdateType();
    update.tenantId = item.tenantId;
    update.balance = BalanceType.from(item.balance);
    update.previousBalance = item.previousBalance ? MoneyType.from(item.previousBalance) : null;
    update.tenant = Object.assign(new TenantStub(), { id: item.tenantId, currency: item.balance.available.currency });
    update.source = item;
    return update;
  }
}

@Resolver(() => BalanceUpdateType)
export class BalanceSubscriptionResolver {
  @Subscription(() => BalanceUpdateType, {
    description:
      "A tenant's live balance: the current balance first, then every change in order (one update per ledger posting). " +
      'A reader that falls behind gets the latest balance, not every intermediate one. Same scope as reading the tenant.',
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, { tenantId: string }, LedgerContext>) => {
      const tenantId = assertUuid(args.tenantId, 'tenantId');
      // FORBIDDEN for a tenant outside the caller's scope (same message whether or not it exists).
      await context.scope.requireTenant(tenantId, 'read');
      return balanceFeedOf(context.services).open(tenantId);
    },
  })
  balanceChanged(@Root() item: BalanceFeedItem, @Arg('tenantId', () => ID) _tenantId: string): BalanceUpdateType {
    return BalanceUpdateType.from(item);
  }

  @FieldResolver(() => LedgerEntryGql, {
    nullable: true,
    description:
      'The ledger entry that produced this balance (the last of its posting: a usage batch posts one entry per event); ' +
      'null for the current balance delivered on subscribe.',
  })
  async entry(@Root() update: BalanceUpdateType, @Ctx() ctx: LedgerContext): Promise<LedgerEntryGql | null> {
    if (!update.source.isChange) return null;
    if (update.source.entry) return LedgerEntryGql.from(update.source.entry);
    const entry = await balanceFeedOf(ctx.services).entryAt(update.tenantId, update.balance.version);
    return entry ? LedgerEntryGql.from(entry) : null;
  }
}
