import { Arg, Ctx, Directive, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ErrorCode, SaldoError, decodeCursor, encodeCursor, isUuid, pageSize, toConnection, uuidSchema, validateInput } from '@saldo/graphql';
import { FORECAST_DAYS, anomaliesArgsSchema, forecastArgsSchema, resolveFraudCaseSchema } from '../services/inputs.js';
import { forecastLoader, type UsageForecastContext } from './context.js';
import {
  DriftCheckType,
  FraudCaseConnection,
  FraudCaseStatus,
  FraudCaseType,
  FraudPolicyType,
  FraudResolution,
  ForecastModelVersionType,
  ModelStatusType,
  UsageAnomalyConnection,
  UsageAnomalyType,
  UsageForecastType,
} from './intelligence-types.js';
import { TenantStub } from './types.js';

const FORECAST_DAYS_ARG = {
  nullable: true,
  defaultValue: FORECAST_DAYS.default,
  description: `Days from today (UTC), ${FORECAST_DAYS.min} to ${FORECAST_DAYS.max} (default ${FORECAST_DAYS.default}); DAYS_OUT_OF_RANGE otherwise.`,
} as const;

/** The balance billing resolved for this request (the gateway passes it on through @requires). */
function requiredBalance(tenant: TenantStub): { amountMinor: bigint; version: number } | null {
  const balance = tenant.balance;
  if (!balance || balance.available?.amountMinor === undefined || balance.available.amountMinor === null) return null;
  const amount = String(balance.available.amountMinor);
  return /^-?\d+$/.test(amount) && Number.isInteger(balance.version) ? { amountMinor: BigInt(amount), version: balance.version } : null;
}

async function forecastOf(
  ctx: UsageForecastContext,
  tenantId: string,
  days: number | null | undefined,
  balance: { amountMinor: bigint; version: number } | null,
) {
  const args = validateInput(forecastArgsSchema, { tenantId, days });
  await ctx.scope.requireTenant(args.tenantId, 'read');
  return UsageForecastType.from(await forecastLoader(ctx).load({ tenantId: args.tenantId, days: args.days, balance }));
}

const anomalyKey = (key: string) => isUuid(key);

@Resolver(() => TenantStub)
export class TenantIntelligenceResolver {
  @FieldResolver(() => UsageForecastType, {
    description: 'Forecast usage per day from today with its 80 % range, and when the prepaid balance runs out (recomputed with every balance change).',
  })
  @Directive('@requires(fields: "balance { available { amountMinor } version }")')
  // Demand control: the forecast's `days` list holds as many days as asked for.
  @Directive('@listSize(slicingArguments: ["days"], sizedFields: ["days"], requireOneSlicingArgument: false)')
  forecast(
    @Root() tenant: TenantStub,
    @Ctx() ctx: UsageForecastContext,
    @Arg('days', () => Int, FORECAST_DAYS_ARG) days?: number | null,
  ): Promise<UsageForecastType> {
    return forecastOf(ctx, tenant.id, days, requiredBalance(tenant));
  }

  @FieldResolver(() => UsageAnomalyConnection, { description: "Hours and days whose usage left the tenant's own seasonal profile, newest first." })
  async anomalies(
    @Root() tenant: TenantStub,
    @Ctx() ctx: UsageForecastContext,
    // type-graphql prints arguments last parameter first: this order gives anomalies(first, after, since).
    @Arg('since', () => Date, { nullable: true, description: 'Only periods starting at or after this instant.' }) since?: Date | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20).' }) first?: number | null,
  ): Promise<UsageAnomalyConnection> {
    const args = validateInput(anomaliesArgsSchema, { tenantId: tenant.id, since });
    const size = pageSize(first);
    const cursor = after ? decodeCursor(after, anomalyKey) : null;
    await ctx.scope.requireTenant(args.tenantId, 'read');
    const page = await ctx.services.anomalies.list(args.tenantId, { first: size, after: cursor, since: args.since });
    return toConnection(page.items.map(UsageAnomalyType.from), page.hasNextPage, (node) => encodeCursor(node.id));
  }
}

@Resolver()
export class IntelligenceResolver {
  @Query(() => UsageForecastType, {
    description:
      "A tenant's forecast (as Tenant.forecast; the balance is the latest billing announced). TENANT_NOT_FOUND for a tenant this subgraph does not know.",
  })
  async tenantForecast(
    @Ctx() ctx: UsageForecastContext,
    // type-graphql prints arguments last parameter first: this order gives tenantForecast(tenantId, days).
    @Arg('days', () => Int, FORECAST_DAYS_ARG) days: number | null | undefined,
    @Arg('tenantId', () => ID) tenantId: string,
  ): Promise<UsageForecastType> {
    const args = validateInput(forecastArgsSchema, { tenantId, days });
    await ctx.scope.requireTenant(args.tenantId, 'read');
    if (!(await ctx.services.forecasts.knows(args.tenantId))) throw new SaldoError(ErrorCode.TenantNotFound, 'No tenant has this id.', { field: 'tenantId' });
    return forecastOf(ctx, args.tenantId, args.days, null);
  }

  @Query(() => FraudCaseConnection, { description: 'Fraud cases across all tenants, newest first (platform operators).' })
  async fraudCases(
    @Ctx() ctx: UsageForecastContext,
    @Arg('after', () => String, { nullable: true }) after: string | null | undefined,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20).' }) first: number | null | undefined,
    @Arg('status', () => FraudCaseStatus, { nullable: true, description: 'Only cases in this status.' }) status: FraudCaseStatus | null | undefined,
  ): Promise<FraudCaseConnection> {
    ctx.scope.requirePlatformAdmin();
    const size = pageSize(first);
    const cursor = after ? decodeCursor(after, anomalyKey) : null;
    const page = await ctx.services.fraud.list({ status: status ?? null, first: size, after: cursor });
    return toConnection(page.items.map(FraudCaseType.from), page.hasNextPage, (node) => encodeCursor(node.id));
  }

  @Query(() => ModelStatusType, {
    description: 'The forecast model lifecycle: active version, its accuracy against the baselines, drift (platform operators).',
  })
  async modelStatus(@Ctx() ctx: UsageForecastContext): Promise<ModelStatusType> {
    ctx.scope.requirePlatformAdmin();
    const versions = await ctx.services.registry.list(10);
    const active = versions.find((version) => version.active) ?? null;
    const checks = active ? await ctx.services.drift.recent(active.version) : [];
    return Object.assign(new ModelStatusType(), {
      active: active ? ForecastModelVersionType.from(active) : null,
      servedVersion: ctx.services.serving.current().version,
      driftFlagged: active?.driftFlaggedAt != null,
      driftChecks: checks.map((check) => Object.assign(new DriftCheckType(), { ...check, exceeded: check.flagged })),
      versions: versions.map(ForecastModelVersionType.from),
      updateIntervalSeconds: ctx.services.modelUpdateIntervalSeconds,
    });
  }

  @Mutation(() => FraudCaseType, {
    description: 'Resolves an open fraud case (platform operators). Dismissing a case that suspended usage lets the tenant use the service again.',
  })
  async resolveFraudCase(
    @Ctx() ctx: UsageForecastContext,
    @Arg('note', () => String, { nullable: true }) note: string | null | undefined,
    @Arg('resolution', () => FraudResolution) resolution: FraudResolution,
    @Arg('id', () => ID) id: string,
  ): Promise<FraudCaseType> {
    ctx.scope.requirePlatformAdmin();
    const args = validateInput(resolveFraudCaseSchema, { id, resolution, note });
    return FraudCaseType.from(
      await ctx.services.fraud.resolve(args.id, args.resolution, 'subject' in ctx.scope.identity ? ctx.scope.identity.subject : 'platform-admin', args.note),
    );
  }

  @Mutation(() => FraudPolicyType, { description: "A partner's fraud policy: suspend its tenants' usage while a CRITICAL case is open (platform operators)." })
  async setFraudPolicy(
    @Ctx() ctx: UsageForecastContext,
    @Arg('suspendUsageOnCritical') suspendUsageOnCritical: boolean,
    @Arg('partnerId', () => ID) partnerId: string,
  ): Promise<FraudPolicyType> {
    ctx.scope.requirePlatformAdmin();
    const id = validateInput(uuidSchema, partnerId).toLowerCase();
    await ctx.services.fraud.setPolicy(id, suspendUsageOnCritical);
    return Object.assign(new FraudPolicyType(), { partnerId: id, suspendUsageOnCritical });
  }

  @Mutation(() => Boolean, { description: 'Requests a training run of the forecast model now (platform operators); false when one is already waiting.' })
  async retrainForecastModel(@Ctx() ctx: UsageForecastContext): Promise<boolean> {
    ctx.scope.requirePlatformAdmin();
    return (await ctx.services.lifecycle.request('manual')) !== null;
  }
}
