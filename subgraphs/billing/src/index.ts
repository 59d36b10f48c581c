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
