import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { assertUuid } from '@saldo/graphql';
import type { AutoTopUpRule } from '../entities/auto-top-up.js';
import type { PaymentsContext } from './context.js';
import {
  AutoTopUpType,
  CreateTopUpInput,
  PaymentMethodSetupType,
  RETURN_ORIGIN_DESCRIPTION,
  SavedPaymentMethodType,
  SetAutoTopUpInput,
  TopUpType,
} from './types.js';
import { TenantStub } from '../../shared/graphql.js';

/** Every Tenant.autoTopUp in one request: one directory lookup plus one query per shard. */
function autoTopUpLoader(ctx: PaymentsContext) {
  return ctx.loader<string, AutoTopUpRule | null>('autoTopUp', (tenantIds) => ctx.services.autoTopUp.getMany(tenantIds));
}

/** The custom domain the request came through (signed by the gateway): where Checkout may send the payer back. */
function hostOf(ctx: PaymentsContext): { hostName?: string } {
  return ctx.identity.hostPartnerId && ctx.identity.hostName ? { hostName: ctx.identity.hostName } : {};
}

@Resolver(() => TenantStub)
export class TenantAutoTopUpResolver {
  @FieldResolver(() => AutoTopUpType, {
    nullable: true,
    description: "The automatic top-up rule; null when there is none, or for callers who may not see the tenant's payments.",
  })
  async autoTopUp(@Root() tenant: TenantStub, @Ctx() ctx: PaymentsContext): Promise<AutoTopUpType | null> {
    const tenantId = assertUuid(tenant.id, 'id');
    ctx.scope.requireAuthenticated();
    if (!(await ctx.scope.allows(tenantId, 'pay'))) return null;
    const rule = await autoTopUpLoader(ctx).load(tenantId);
    return rule ? AutoTopUpType.from(rule) : null;
  }
}

@Resolver()
export class TopUpResolver {
  @Mutation(() => TopUpType, {
    description:
      'Starts a top-up: creates a Stripe Checkout Session and returns its URL. Idempotent per (tenant, idempotencyKey). ' +
      'While another top-up of the tenant is being created, fails with TOPUP_IN_PROGRESS. The balance is credited when Stripe confirms the payment.',
  })
  async createTopUp(@Arg('input', () => CreateTopUpInput) input: CreateTopUpInput, @Ctx() ctx: PaymentsContext): Promise<TopUpType> {
    await ctx.scope.requireTenant(assertUuid(input.tenantId, 'tenantId'), 'pay');
    return TopUpType.from(await ctx.services.topUps.createTopUp(input, hostOf(ctx)));
  }
}

@Resolver()
export class AutoTopUpResolver {
  @Mutation(() => PaymentMethodSetupType, {
    description:
      "Starts saving a card for automatic top-ups: a Stripe Checkout Session (setup mode) on the tenant's own Stripe customer. " +
      'Nothing is charged; setAutoTopUp accepts the payment method saved there.',
  })
  async createPaymentMethodSetup(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('returnOrigin', () => String, { nullable: true, description: RETURN_ORIGIN_DESCRIPTION }) returnOrigin: string | null | undefined,
    @Ctx() ctx: PaymentsContext,
  ): Promise<PaymentMethodSetupType> {
    await ctx.scope.requireTenant(assertUuid(tenantId, 'tenantId'), 'pay');
    return Object.assign(new PaymentMethodSetupType(), await ctx.services.autoTopUp.createPaymentMethodSetup(tenantId, { returnOrigin, ...hostOf(ctx) }));
  }

  @Query(() => SavedPaymentMethodType, {
    nullable: true,
    description:
      "The card saved on one of the tenant's card-saving sessions (createPaymentMethodSetup's checkoutSessionId), read back from Stripe: its ids for " +
      'setAutoTopUp, brand and last digits. null while the session is still open; PAYMENT_METHOD_SETUP_NOT_FOUND for any other session.',
  })
  async savedPaymentMethod(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('checkoutSessionId') checkoutSessionId: string,
    @Ctx() ctx: PaymentsContext,
  ): Promise<SavedPaymentMethodType | null> {
    await ctx.scope.requireTenant(assertUuid(tenantId, 'tenantId'), 'pay');
    const saved = await ctx.services.autoTopUp.savedPaymentMethod(tenantId, checkoutSessionId);
    return saved ? Object.assign(new SavedPaymentMethodType(), saved) : null;
  }

  @Mutation(() => AutoTopUpType, {
    description:
      "Creates or replaces the tenant's automatic top-up rule and enables it (clears a decline backoff). The payment method must be one the tenant " +
      'saved on its own Stripe customer (createPaymentMethodSetup), checked with Stripe; others are refused with PAYMENT_METHOD_NOT_OWNED.',
  })
  async setAutoTopUp(@Arg('input', () => SetAutoTopUpInput) input: SetAutoTopUpInput, @Ctx() ctx: PaymentsContext): Promise<AutoTopUpType> {
    await ctx.scope.requireTenant(assertUuid(input.tenantId, 'tenantId'), 'pay');
    return AutoTopUpType.from(await ctx.services.autoTopUp.set(input));
  }

  @Mutation(() => AutoTopUpType, { nullable: true, description: 'Turns automatic top-up off (the rule is kept, disabled); null when the tenant has none.' })
  async disableAutoTopUp(@Arg('tenantId', () => ID) tenantId: string, @Ctx() ctx: PaymentsContext): Promise<AutoTopUpType | null> {
    await ctx.scope.requireTenant(assertUuid(tenantId, 'tenantId'), 'pay');
    const rule = await ctx.services.autoTopUp.disable(tenantId);
    return rule ? AutoTopUpType.from(rule) : null;
  }
}
