// The usage module's public surface: other modules and definition.ts import only from here (eslint enforces it).
export { usageModule, createUsageServices } from './module.js';
export type { UsageServices, UsageContext } from './graphql/context.js';
export { Rate } from './entities/rate.js';
export { MAX_QUANTITY, usageCost } from './pricing.js';
export { RateService, type RateMatch } from './services/rate-service.js';
export { UsageService, UsageEventStatus, usageKey, type RecordUsageResult, type UsageEventInput, type UsageEventResult } from './services/usage-service.js';
export { USAGE_INGESTION_GROUP } from './services/usage-ingestion.js';
