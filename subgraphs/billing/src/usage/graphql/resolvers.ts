import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { assertUuid } from '@saldo/graphql';
import type { UsageContext } from './context.js';
import { PublishRateInput, RateType, RecordUsageInput, RecordUsagePayload } from './types.js';

@Resolver()
export class UsageResolver {
  @Mutation(() => RecordUsagePayload, {
    description:
      "Charges usage to a tenant's prepaid balance at the rates valid when it happened. Idempotent per (tenant, event id): " +
      'an event sent again is reported as DUPLICATE and not charged twice. Up to 1,000 events; any invalid event rejects the batch.',
  })
  async recordUsage(@Arg('input', () => RecordUsageInput) input: RecordUsageInput, @Ctx() ctx: UsageContext): Promise<RecordUsagePayload> {
    await ctx.scope.requireTenant(assertUuid(input.tenantId, 'tenantId'), 'write');
    return RecordUsagePayload.from(await ctx.services.usage.recordUsage(input.tenantId, input.events));
  }
}

@Resolver()
export class RateResolver {
  @Query(() => [RateType], { description: "A currency's rate card: every version, by product then validFrom (or only those valid at `validAt`)." })
  async rates(
    @Ctx() ctx: UsageContext,
    @Arg('validAt', () => Date, { nullable: true, description: 'Only versions valid at this instant.' }) validAt: Date | null | undefined,
    @Arg('product', () => String, { nullable: true }) product: string | null | undefined,
    @Arg('currency') currency: string,
  ): Promise<RateType[]> {
    ctx.scope.requireAuthenticated();
    return (await ctx.services.rates.list({ currency, product, validAt })).map(RateType.from);
  }

  @Mutation(() => RateType, { description: "Publishes a new version of a product's price in a currency (platform operators)." })
  async publishRate(@Arg('input', () => PublishRateInput) input: PublishRateInput, @Ctx() ctx: UsageContext): Promise<RateType> {
    ctx.scope.requirePlatformAdmin();
    return RateType.from(await ctx.services.rates.publish(input));
  }
}
