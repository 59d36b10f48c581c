// Gateway protection: static limits on operations and rate limits per identity.
export {
  COST_EXTENSION,
  DEFAULT_LIST_MULTIPLIER,
  DEFAULT_LIST_SIZE,
  DEFAULT_PAGE_SIZE,
  LimitErrorCode,
  MUTATION_BASE_COST,
  analyzeOperation,
  checkLimits,
  createLimitsPlugin,
  type AnalyzeOptions,
  type LimitsPluginOptions,
  type OperationMetrics,
  type QueryLimits,
} from './limits.js';
export { actualCost } from './actual-cost.js';
export { NO_COST_DIRECTIVES, costDirectivesFromSdl, type CostDirectives, type FieldCostDirectives, type ListSizeDirective } from './cost-directives.js';
export {
  InMemoryRateLimiter,
  RATE_LIMITED,
  RedisRateLimiter,
  TOKEN_BUCKET_SCRIPT,
  createRateLimitPlugin,
  createRateLimiter,
  rateLimitKey,
  rateLimitedError,
  retryAfterSecondsOf,
  type RateLimitDecision,
  type RateLimitPluginOptions,
  type RateLimiter,
  type RateLimiterConfig,
  type RateLimiterHandle,
  type RedisRateLimiterOptions,
  type TokenBucketOptions,
} from './rate-limit.js';
