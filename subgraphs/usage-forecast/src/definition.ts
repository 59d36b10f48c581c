import { buildFederatedSchema } from '@saldo/graphql';
import { schedule, work } from '@saldo/jobs';
import { shardOperationsResolver, type SubgraphDefinition, type SubgraphRuntime } from '@saldo/subgraph';
import { AnomalyService } from './anomalies/anomaly-service.js';
import type { UsageForecastConfig } from './config.js';
import { DepletionNotifier } from './depletion/depletion-notifier.js';
import { ForecastService } from './depletion/forecast-service.js';
import { DEFAULT_DRIFT_THRESHOLDS } from './drift/drift.js';
import { DriftService } from './drift/drift-service.js';
import { DailyUsage } from './entities/daily-usage.js';
import { DriftCheck } from './entities/drift-check.js';
import { ForecastModel } from './entities/forecast-model.js';
import { FraudCase } from './entities/fraud-case.js';
import { FraudPolicy } from './entities/fraud-policy.js';
import { HourlyUsage } from './entities/hourly-usage.js';
import { PaymentFailure } from './entities/payment-failure.js';
import { TenantPrice } from './entities/tenant-price.js';
import { TenantProfile } from './entities/tenant-profile.js';
import { UsageAnomaly } from './entities/usage-anomaly.js';
import { HolidayCalendar } from './forecasting/index.js';
import { FraudService } from './fraud/fraud-service.js';
import type { UsageForecastServices } from './graphql/context.js';
import { IntelligenceResolver, TenantIntelligenceResolver } from './graphql/intelligence-resolvers.js';
import { TenantUsageResolver, UsageQueryResolver, referenceResolvers } from './graphql/resolvers.js';
import { TenantStub } from './graphql/types.js';
import { globalMigrations, shardMigrations } from './migrations/index.js';
import { ModelLifecycle, hourlyMonitorQueue, modelMaintenanceQueue, trainModelQueue } from './models/lifecycle.js';
import { ModelRegistry } from './models/registry.js';
import { ModelServing } from './models/serving.js';
import { ModelTrainer } from './models/trainer.js';
import { TenantProfileService } from './services/tenant-profile-service.js';
import { subscribeUsageAggregator } from './services/usage-events-consumer.js';
import { ThrottledChecks } from './services/throttled-checks.js';
import { UsageService } from './services/usage-service.js';

/** Operators' shard fields (`usageForecastShards`), the same mechanism in every subgraph. */
const UsageForecastShardOperations = shardOperationsResolver('usage-forecast');

/** Printed to schema/usage-forecast.graphql by `pnpm compose`; served by the running subgraph. */
export function buildUsageForecastSchema() {
  return buildFederatedSchema({
    resolvers: [TenantUsageResolver, UsageQueryResolver, TenantIntelligenceResolver, IntelligenceResolver, UsageForecastShardOperations],
    orphanedTypes: [TenantStub],
    referenceResolvers,
  });
}

/** Seams tests replace: the clock every service reads. */
export interface UsageForecastOverrides {
  now?: () => Date;
}

/** The subgraph's services over one runtime. */
export function createUsageForecastServices(runtime: SubgraphRuntime<UsageForecastConfig>, overrides: UsageForecastOverrides = {}): UsageForecastServices {
  const { db, config, relay, jobs } = runtime;
  const now = overrides.now ?? (() => new Date());
  const logger = runtime.logger.child('forecasting');
  const usage = new UsageService(db, { now });
  const profiles = new TenantProfileService(db);
  const registry = new ModelRegistry(db);
  // The model in service and its validation error, read from the registry at scrape time.
  runtime.metrics.gauge({
    name: 'saldo_forecast_model_version',
    help: 'Version of the forecast model being served (0 before the first is trained).',
    async collect(gauge) {
      gauge.set((await registry.activeVersion()) ?? 0);
    },
  });
  runtime.metrics.gauge({
    name: 'saldo_forecast_model_backtest_wape',
    help: 'Backtest error (WAPE, 1-7 days ahead, validation origins) of the forecast model being served; 1 - WAPE is its accuracy.',
    async collect(gauge) {
      const version = await registry.activeVersion();
      const info = version === null ? undefined : (await registry.list(20)).find((model) => model.version === version);
      if (info) gauge.set(info.backtestWape);
      else gauge.reset();
    },
  });
  const serving = new ModelServing(registry, logger, config.MODEL_POLL_INTERVAL_MS);
  const trainer = new ModelTrainer(
    db,
    registry,
    {
      historyDays: config.FORECAST_HISTORY_DAYS,
      maxRows: config.FORECAST_TRAINING_ROWS,
      epochs: config.FORECAST_TRAINING_EPOCHS,
      holidays: HolidayCalendar.parse(config.FORECAST_HOLIDAYS),
      now,
    },
    logger,
  );
  const lifecycle = new ModelLifecycle(registry, jobs, config.MODEL_UPDATE_INTERVAL, now);
  const forecasts = new ForecastService(db, profiles, serving, now, logger);
  const thresholds = {
    ...DEFAULT_DRIFT_THRESHOLDS,
    errorRatio: config.DRIFT_ERROR_RATIO,
    errorMargin: config.DRIFT_CHECK_THRESHOLD,
    bias: config.DRIFT_BIAS_THRESHOLD,
    psi: config.DRIFT_PSI_THRESHOLD,
    consecutive: config.DRIFT_CONSECUTIVE_CHECKS,
  };
  const fraud = new FraudService(db, profiles, relay, { maxHourlyUnits: config.FRAUD_MAX_HOURLY_UNITS, now });
  const depletion = new DepletionNotifier(db, forecasts, relay, config.DEPLETION_WARNING_DAYS, now);
  return {
    usage,
    profiles,
    registry,
    serving,
    trainer,
    lifecycle,
    forecasts,
    depletion,
    anomalies: new AnomalyService(db, relay),
    fraud,
    // After usage and balance events: a burst is scored within seconds, a tenant at most every few seconds.
    fraudChecks: new ThrottledChecks('fraud evaluation', (tenants) => fraud.evaluate(tenants), logger, { minIntervalMs: 5_000, batchSize: 200 }),
    depletionChecks: new ThrottledChecks('depletion check', (tenants) => depletion.check(tenants), logger, { minIntervalMs: 5_000, batchSize: 200 }),
    drift: new DriftService(
      db,
      registry,
      serving,
      thresholds,
      async (reason) => void (await lifecycle.request(reason === 'drift' ? 'drift' : 'manual')),
      logger,
    ),
    modelUpdateIntervalSeconds: config.MODEL_UPDATE_INTERVAL,
  };
}

export const usageForecastSubgraph: SubgraphDefinition<UsageForecastServices, UsageForecastConfig> = {
  name: 'usage-forecast',
  shardSchema: {
    shard: { entities: [DailyUsage, HourlyUsage, TenantProfile, TenantPrice, PaymentFailure, UsageAnomaly, FraudCase], migrations: shardMigrations },
    global: { entities: [ForecastModel, DriftCheck, FraudPolicy], migrations: globalMigrations },
  },
  buildSchema: buildUsageForecastSchema,
  createServices: (runtime) => createUsageForecastServices(runtime),
  subscribe: (services, { bus, db, logger }) => [
    subscribeUsageAggregator(bus, db, services.usage, logger, (recorded) => {
      const tenants = [...new Set(recorded.map((payload) => payload.tenantId))];
      // Late usage of past days changes the history the forecast was made from; a first charge or a new unit price
      // changes what it costs.
      services.forecasts.invalidate(recorded.filter((payload) => services.forecasts.changesCached(payload)).map((payload) => payload.tenantId));
      services.fraudChecks.request(tenants);
    }),
    ...services.profiles.subscribe(bus, (tenants) => services.depletionChecks.request(tenants)),
  ],
  jobs: {
    queues: [trainModelQueue, modelMaintenanceQueue, hourlyMonitorQueue],
    workers: (services) => [
      work(trainModelQueue, async (job) => services.trainer.train(job.data.reason, job.signal)),
      work(modelMaintenanceQueue, async () => ({ requested: await services.lifecycle.maintain() })),
      work(hourlyMonitorQueue, async (job) => {
        const hourEnd = job.data.hourEnd ? new Date(job.data.hourEnd) : new Date();
        const anomalies = await services.anomalies.checkHour(hourEnd);
        const drift = await services.drift.check(hourEnd);
        const warned = await services.depletion.sweep();
        return {
          anomalies: anomalies.anomalies,
          drift: drift ? { version: drift.version, wape: drift.rollingWape, psi: drift.psi, flagged: drift.flagged } : null,
          warned,
        };
      }),
    ],
    schedules: () => [schedule(modelMaintenanceQueue, { cron: '* * * * *', data: {} }), schedule(hourlyMonitorQueue, { cron: '1 * * * *', data: {} })],
  },
  start: async (services, runtime) => {
    services.serving.start();
    // A fresh installation trains its first model now rather than at the next minute's maintenance; until it is
    // active the baseline serves. Sending is cheap and deduplicated.
    await runtime.jobs.send(modelMaintenanceQueue, {});
    return async () => {
      services.fraudChecks.stop();
      services.depletionChecks.stop();
      await Promise.all([services.fraudChecks.idle(), services.depletionChecks.idle(), services.forecasts.stop()]);
      await services.serving.stop();
    };
  },
};
