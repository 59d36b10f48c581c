export { billingSubgraph, buildBillingSchema, createBillingServices } from './definition.js';
export { loadBillingConfig, billingConfigSchema, type BillingConfig } from './config.js';
export type { BillingServices } from './graphql/context.js';
export { Account, OverdraftMode } from './entities/account.js';
export { LedgerEntry, LedgerEntryType } from './entities/ledger-entry.js';
export { Rate } from './entities/rate.js';
export { BillingErrorCode } from './errors.js';
export { formatUnitPrice, parseUnitPrice, usageCost } from './domain/pricing.js';
export {
  LedgerService,
  MAX_ENTRIES_PER_POSTING,
  type LedgerCheck,
  type PostingEntryInput,
  type PostingHook,
  type PostingOutcome,
  type PostingRequest,
} from './services/ledger-service.js';
export { RateService, SYSTEM_CLOCK, type Clock } from './services/rate-service.js';
export { UsageService, UsageEventStatus, usageKey, type RecordUsageResult, type UsageEventInput } from './services/usage-service.js';
export type { BalanceView, OverdraftPolicyView } from './services/account-service.js';
export { AutoTopUpAttempt, AutoTopUpAttemptStatus, AutoTopUpMode, AutoTopUpRule } from './entities/auto-top-up.js';
export { TopUp, TopUpStatus } from './entities/top-up.js';
export { StripeEvent, StripeEventStatus } from './entities/stripe-event.js';
export { type BillingOverrides } from './definition.js';
export {
  DEFAULT_EXCHANGE_RATES,
  RATE_SCALE,
  StaticExchangeRateProvider,
  convertMinor,
  formatRate,
  parseExchangeRateTable,
  type ExchangeRate,
  type ExchangeRateProvider,
  type FxRecord,
} from './domain/fx.js';
export { DEFAULT_TOPUP_LIMITS, parseTopUpLimits, type TopUpLimit, type TopUpLimits } from './domain/top-up-limits.js';
export { InProcessTenantLock, RedisTenantLock, createTenantLock, type LockLease, type TenantLock } from './locks/tenant-lock.js';
export { StripeGateway, createStripeGateway, checkoutIdempotencyKey } from './payments/stripe-gateway.js';
export { STRIPE_WEBHOOK_PATH } from './http/stripe-webhook.js';
export { TopUpService, type TopUpView } from './services/top-up-service.js';
export { AutoTopUpService, backoffSeconds } from './services/auto-top-up-service.js';
export { PaymentCreditService, paymentKey, refundKey, type PaymentCredit, type CreditResult } from './services/payment-credit-service.js';
export { StripeWebhookService, type WebhookResponse } from './services/stripe-webhook-service.js';
