// The payments module's public surface: other modules and definition.ts import only from here (eslint enforces it).
export { paymentsModule, createPaymentServices, type PaymentOverrides } from './module.js';
export type { PaymentServices, PaymentsContext } from './graphql/context.js';
export { checkPaymentsConfig, paymentsConfigFields, paymentsConfigSchema, type PaymentsConfig } from './config.js';
export { AutoTopUpAttempt, AutoTopUpAttemptStatus, AutoTopUpMode, AutoTopUpRule } from './entities/auto-top-up.js';
export { TopUp, TopUpStatus } from './entities/top-up.js';
export { StripeEvent, StripeEventStatus } from './entities/stripe-event.js';
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
export { StripeGateway, createStripeGateway, checkoutIdempotencyKey } from './stripe/stripe-gateway.js';
export { STRIPE_WEBHOOK_PATH } from './http/stripe-webhook.js';
export { TopUpService, type TopUpView } from './services/top-up-service.js';
export { AutoTopUpService, backoffSeconds } from './services/auto-top-up-service.js';
export { PaymentCreditService, paymentKey, refundKey, type PaymentCredit, type CreditResult } from './services/payment-credit-service.js';
export { StripeWebhookService, type WebhookResponse } from './services/stripe-webhook-service.js';
export { NO_TAX, netShare, type TaxQuote, type TaxQuoter, type TaxRecord } from './domain/tax.js';
