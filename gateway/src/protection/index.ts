// Gateway protection: static limits on operations and rate limits per identity.
export {
  DEFAULT_LIST_MULTIPLIER,
  LimitErrorCode,
  analyzeOperation,
  checkLimits,
  createLimitsPlugin,
  type AnalyzeOptions,
  type OperationMetrics,
  type QueryLimits,
} from './limits.js';
export {
  InMemoryRateLimiter,
  RATE_LIMITED,
  RedisRateLimiter,
  TOKEN_BUCKET_SCRIPT,
  createRateLimitPlugin,
  createRateLimiter,
  rateLimitKey,
  rateLimitedError,
  type RateLimitDecision,
  type RateLimitPluginOptions,
  type RateLimiter,
  type RateLimiterConfig,
  type RateLimiterHandle,
  type RedisRateLimiterOptions,
  type TokenBucketOptions,
} from './rate-limit.js';
