import { Arg, Ctx, Directive, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { validateInput } from '@saldo/graphql';
import { DAYS, usageArgsSchema } from '../services/inputs.js';
import { usageLoader, type UsageForecastContext } from './context.js';
import { UsageDayType, TenantStub } from './types.js';

const DAYS_ARG = {
  nullable: true,
  defaultValue: DAYS.default,
  description: `How many UTC days, today included, ${DAYS.min} to ${DAYS.max} (default ${DAYS.default}).`,
} as const;

/** Validates, checks tenant scope, then loads through the request's batch loader. */
async function usageOf(ctx: UsageForecastContext, tenantId: string, days: number | null | undefined): Promise<UsageDayType[]> {
  const args = validateInput(usageArgsSchema, { tenantId, days });
  await ctx.scope.requireTenant(args.tenantId, 'read');
  const usage = await usageLoader(ctx).load(args);
  return usage.map(UsageDayType.from);
}

@Resolver(() => TenantStub)
export class TenantUsageResolver {
  @FieldResolver(() => [UsageDayType], { description: 'Usage per UTC day over the last `days` days, oldest first, days without usage as 0.' })
  // Demand control (the gateway's cost estimate): one element per day asked for.
  @Directive('@listSize(slicingArguments: ["days"], requireOneSlicingArgument: false)')
  usage(@Root() tenant: TenantStub, @Ctx() ctx: UsageForecastContext, @Arg('days', () => Int, DAYS_ARG) days?: number | null): Promise<UsageDayType[]> {
    return usageOf(ctx, tenant.id, days);
  }
}

@Resolver()
export class UsageQueryResolver {
  @Query(() => [UsageDayType], { description: "A tenant's usage per UTC day over the last `days` days, oldest first, days without usage as 0." })
  @Directive('@listSize(slicingArguments: ["days"], requireOneSlicingArgument: false)')
  tenantUsage(
    @Ctx() ctx: UsageForecastContext,
    // type-graphql prints arguments last parameter first: this order gives tenantUsage(tenantId, days).
    @Arg('days', () => Int, DAYS_ARG) days: number | null | undefined,
    @Arg('tenantId', () => ID) tenantId: string,
  ): Promise<UsageDayType[]> {
    return usageOf(ctx, tenantId, days);
  }
}

export const referenceResolvers = {
  // Nothing to load for the stub: usage is resolved (and its id validated) per field, in batches.
  Tenant: (reference: { id: string }) => reference,
};
