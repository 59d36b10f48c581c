import { Directive, Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { MoneyType, connectionType, type Connection } from '@saldo/graphql';
import type { AnomalyView } from '../anomalies/anomaly-service.js';
import type { ForecastDay, TenantForecast } from '../depletion/forecast-service.js';
import type { FraudCaseView } from '../fraud/fraud-service.js';
import type { ModelVersionInfo } from '../models/registry.js';

export enum AnomalySeverity {
  MEDIUM = 'MEDIUM',
  HIGH = 'HIGH',
  CRITICAL = 'CRITICAL',
}
registerEnumType(AnomalySeverity, { name: 'AnomalySeverity', description: 'Robust score above 3 (MEDIUM), 4 (HIGH), 5 (CRITICAL).' });

export enum AnomalyGranularity {
  HOUR = 'HOUR',
  DAY = 'DAY',
}
registerEnumType(AnomalyGranularity, { name: 'AnomalyGranularity' });

export enum FraudCaseStatus {
  OPEN = 'OPEN',
  CONFIRMED = 'CONFIRMED',
  DISMISSED = 'DISMISSED',
}
registerEnumType(FraudCaseStatus, { name: 'FraudCaseStatus' });

export enum FraudResolution {
  CONFIRMED = 'CONFIRMED',
  DISMISSED = 'DISMISSED',
}
registerEnumType(FraudResolution, {
  name: 'FraudResolution',
  description: 'CONFIRMED: it was fraud; DISMISSED: a false alarm (a suspended tenant may use the service again).',
});

/** Billing's balance as usage-forecast requires it (@external: billing resolves it, the gateway passes it on). */
@ObjectType('Balance')
export class RequiredBalance {
  @Field(() => MoneyType)
  @Directive('@external')
  available!: MoneyType;

  @Field(() => Int)
  @Directive('@external')
  version!: number;
}

@ObjectType('ForecastDay', { description: 'Forecast usage of one UTC day (units, products summed): the median and the 80 % range.' })
export class ForecastDayType {
  @Field({ description: 'The UTC day, yyyy-mm-dd.' })
  date!: string;

  @Field(() => Float, { description: 'The median forecast.' })
  quantity!: number;

  @Field(() => Float, { description: 'Lower end of the 80 % range.' })
  lower!: number;

  @Field(() => Float, { description: 'Upper end of the 80 % range.' })
  upper!: number;

  static from(day: ForecastDay): ForecastDayType {
    return Object.assign(new ForecastDayType(), day);
  }
}

@ObjectType('Depletion', { description: 'When the prepaid balance reaches zero (or the overdraft limit) at the forecast usage.' })
export class DepletionType {
  @Field({ description: 'The UTC day the balance runs out at the median forecast.' })
  date!: string;

  @Field({ description: 'The day it runs out at the high end of the 80 % range.' })
  earliest!: string;

  @Field(() => String, { nullable: true, description: 'The day it runs out at the low end of the range; null when that is beyond 90 days.' })
  latest!: string | null;

  @Field(() => Float, {
    description:
      "How likely the balance runs out between earliest and latest (0-1): the range's 80 % as far as the model's ranges held in validation, less with little history or an open end.",
  })
  confidence!: number;
}

@ObjectType('ForecastModelInfo', { description: 'The model version that made a forecast (version 0: the seasonal baseline, before any model is trained).' })
export class ForecastModelInfoType {
  @Field(() => Int)
  version!: number;

  @Field(() => Date, { nullable: true })
  trainedAt!: Date | null;

  @Field(() => Float, { nullable: true, description: "WAPE of the served forecaster 1-7 days ahead on its training run's validation origins." })
  backtestWape!: number | null;
}

@ObjectType('UsageForecast')
export class UsageForecastType {
  @Field(() => [ForecastDayType], { description: 'One entry per day from today (UTC), oldest first.' })
  days!: ForecastDayType[];

  @Field(() => DepletionType, {
    nullable: true,
    description: 'Null when the balance does not run out within 90 days (or billing has not reported a balance or price yet).',
  })
  depletion!: DepletionType | null;

  @Field(() => ForecastModelInfoType)
  model!: ForecastModelInfoType;

  static from(forecast: TenantForecast): UsageForecastType {
    const type = new UsageForecastType();
    type.days = forecast.days.map(ForecastDayType.from);
    type.depletion = forecast.depletion ? Object.assign(new DepletionType(), forecast.depletion) : null;
    type.model = Object.assign(new ForecastModelInfoType(), forecast.model);
    return type;
  }
}

@ObjectType('UsageAnomaly', { description: "An hour or day of a tenant's usage that left its own seasonal profile." })
export class UsageAnomalyType {
  @Field(() => ID)
  id!: string;

  @Field(() => AnomalyGranularity)
  granularity!: AnomalyGranularity;

  @Field({ description: 'Start of the hour or UTC day.' })
  periodStart!: Date;

  @Field(() => Float)
  observed!: number;

  @Field(() => Float, { description: "What the tenant's profile expected: the median of the same period in the last four weeks." })
  expected!: number;

  @Field(() => Float, { description: 'Residual over 1.4826 x MAD of past residuals; negative for a drop.' })
  score!: number;

  @Field(() => AnomalySeverity)
  severity!: AnomalySeverity;

  @Field()
  detectedAt!: Date;

  static from(view: AnomalyView): UsageAnomalyType {
    return Object.assign(new UsageAnomalyType(), view, { granularity: view.granularity as AnomalyGranularity, severity: view.severity as AnomalySeverity });
  }
}

export const UsageAnomalyConnection = connectionType('UsageAnomaly', UsageAnomalyType);
export type UsageAnomalyConnection = Connection<UsageAnomalyType>;

@ObjectType('FraudSignal')
export class FraudSignalType {
  @Field({ description: 'USAGE_BURST, NEW_TENANT_MAX_RATE, DRAIN_AFTER_DECLINED_CARD or TOP_UP_FAILURES.' })
  kind!: string;

  @Field(() => Float, { description: '0-100.' })
  score!: number;

  @Field()
  detail!: string;

  @Field()
  at!: Date;
}

@ObjectType('FraudCase', { description: 'Suspected fraud on a tenant (platform operators only).' })
export class FraudCaseType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  tenantId!: string;

  @Field(() => ID, { nullable: true })
  partnerId!: string | null;

  @Field(() => FraudCaseStatus)
  status!: FraudCaseStatus;

  @Field(() => Float, { description: 'Combined score 0-100 (cases open at 60).' })
  score!: number;

  @Field(() => AnomalySeverity)
  severity!: AnomalySeverity;

  @Field(() => [FraudSignalType])
  signals!: FraudSignalType[];

  @Field({ description: "The partner's policy suspended the tenant's usage when the case opened." })
  usageSuspended!: boolean;

  @Field()
  openedAt!: Date;

  @Field()
  updatedAt!: Date;

  @Field(() => Date, { nullable: true })
  resolvedAt!: Date | null;

  @Field(() => String, { nullable: true })
  resolvedBy!: string | null;

  @Field(() => String, { nullable: true })
  note!: string | null;

  static from(view: FraudCaseView): FraudCaseType {
    return Object.assign(new FraudCaseType(), view, {
      status: view.status as FraudCaseStatus,
      severity: view.severity as AnomalySeverity,
      signals: view.signals.map((signal) => Object.assign(new FraudSignalType(), signal, { at: new Date(signal.at) })),
    });
  }
}

export const FraudCaseConnection = connectionType('FraudCase', FraudCaseType);
export type FraudCaseConnection = Connection<FraudCaseType>;

@ObjectType('FraudPolicy')
export class FraudPolicyType {
  @Field(() => ID)
  partnerId!: string;

  @Field({ description: "Suspend a tenant's usage while a CRITICAL fraud case on it is open." })
  suspendUsageOnCritical!: boolean;
}

@ObjectType('MethodAccuracy', { description: 'Validation accuracy of one method, 1-7 days ahead.' })
export class MethodAccuracyType {
  @Field(() => Float)
  wape!: number;

  @Field(() => Float)
  mase!: number;

  @Field(() => Float, { description: 'Share of actuals inside the 80 % range.' })
  coverage!: number;
}

@ObjectType('ForecastModelVersion')
export class ForecastModelVersionType {
  @Field(() => Int)
  version!: number;

  @Field()
  active!: boolean;

  @Field({ description: 'Why it was trained: startup, interval, drift or manual.' })
  reason!: string;

  @Field()
  trainedAt!: Date;

  @Field()
  trainingFrom!: string;

  @Field()
  trainingTo!: string;

  @Field(() => Int)
  series!: number;

  @Field(() => Float)
  backtestWape!: number;

  @Field(() => MethodAccuracyType, { nullable: true, description: 'The served forecaster (network and baseline combined).' })
  forecaster!: MethodAccuracyType | null;

  @Field(() => MethodAccuracyType, {
    nullable: true,
    description:
      'The weekday profile x level forecast alone: the baseline the network learns corrections to (null for versions trained before it was measured).',
  })
  profile!: MethodAccuracyType | null;

  @Field(() => MethodAccuracyType, { nullable: true, description: 'The median of the last four same weekdays.' })
  median4!: MethodAccuracyType | null;

  @Field(() => MethodAccuracyType, { nullable: true })
  seasonalNaive!: MethodAccuracyType | null;

  @Field(() => Int)
  trainingMs!: number;

  @Field()
  backend!: string;

  @Field(() => Date, { nullable: true })
  driftFlaggedAt!: Date | null;

  @Field(() => String, { nullable: true })
  driftReason!: string | null;

  static from(info: ModelVersionInfo): ForecastModelVersionType {
    const accuracy = (report: { wape: number; mase: number; coverage: number } | undefined) =>
      report
        ? Object.assign(new MethodAccuracyType(), { wape: report.wape, mase: Number.isFinite(report.mase) ? report.mase : 0, coverage: report.coverage })
        : null;
    return Object.assign(new ForecastModelVersionType(), {
      version: info.version,
      active: info.active,
      reason: info.reason,
      trainedAt: info.trainedAt,
      trainingFrom: info.trainingFrom,
      trainingTo: info.trainingTo,
      series: info.series,
      backtestWape: info.backtestWape,
      forecaster: accuracy(info.metrics?.combined),
      profile: accuracy(info.metrics?.profile),
      median4: accuracy(info.metrics?.median4),
      seasonalNaive: accuracy(info.metrics?.seasonalNaive),
      trainingMs: info.trainingMs,
      backend: info.backend,
      driftFlaggedAt: info.driftFlaggedAt,
      driftReason: info.driftReason,
    });
  }
}

@ObjectType('DriftCheck', { description: 'One hourly drift check of a model version over the 24 hours before windowEnd.' })
export class DriftCheckType {
  @Field()
  windowEnd!: Date;

  @Field(() => Float)
  rollingWape!: number;

  @Field(() => Float, { description: 'Sum of actual over sum of forecast usage, minus 1.' })
  bias!: number;

  @Field(() => Float, { description: 'Population stability index of the inputs against training.' })
  psi!: number;

  @Field(() => Int)
  tenants!: number;

  @Field({ description: 'This check exceeded the thresholds.' })
  exceeded!: boolean;
}

@ObjectType('ModelStatus', { description: 'The forecast model lifecycle (platform operators).' })
export class ModelStatusType {
  @Field(() => ForecastModelVersionType, {
    nullable: true,
    description: 'The version every instance serves; null before the first training (the baseline serves).',
  })
  active!: ForecastModelVersionType | null;

  @Field(() => Int, { description: 'The version this instance serves right now (0: baseline).' })
  servedVersion!: number;

  @Field({ description: 'The active version drifted (retraining was requested).' })
  driftFlagged!: boolean;

  @Field(() => [DriftCheckType], { description: "The active version's latest drift checks, newest first." })
  driftChecks!: DriftCheckType[];

  @Field(() => [ForecastModelVersionType], { description: 'Recent versions, newest first.' })
  versions!: ForecastModelVersionType[];

  @Field(() => Int, { description: 'Seconds between scheduled retrainings (MODEL_UPDATE_INTERVAL).' })
  updateIntervalSeconds!: number;
}
