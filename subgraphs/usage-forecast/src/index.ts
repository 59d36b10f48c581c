export { usageForecastSubgraph, buildUsageForecastSchema } from './definition.js';
export { loadUsageForecastConfig, usageForecastConfigSchema, type UsageForecastConfig } from './config.js';
export type { UsageForecastServices } from './graphql/context.js';
export { UsageService, type UsageDay, type UsageRecord, type UsageServiceOptions } from './services/usage-service.js';
export { DailyUsage } from './entities/daily-usage.js';
export { createUsageForecastServices, type UsageForecastOverrides } from './definition.js';
export { backtest, syntheticUsage, trainForecaster, type AccuracyReport, type BacktestResult } from './forecasting/index.js';
export { runFraudBenchmark, type FraudBenchmarkResult } from './fraud/benchmark.js';
