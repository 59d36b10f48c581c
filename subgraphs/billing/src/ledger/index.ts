// The ledger module's public surface: other modules and definition.ts import only from here (eslint enforces it).
export { ledgerModule, createLedgerServices } from './module.js';
export type { LedgerServices, LedgerContext } from './graphql/context.js';
export { Account, OverdraftMode, overdraftFloor } from './entities/account.js';
export { LedgerEntry, LedgerEntryType } from './entities/ledger-entry.js';
export {
  LedgerService,
  MAX_ENTRIES_PER_POSTING,
  type CommitListener,
  type LedgerCheck,
  type PostingEntryInput,
  type PostingHook,
  type PostingOutcome,
  type PostingRequest,
  type TransactionsPage,
  type TransactionsQuery,
} from './services/ledger-service.js';
export { AccountService, balanceView, type BalanceView, type OverdraftPolicyView } from './services/account-service.js';
export { ACCOUNT_OPENER_GROUP } from './services/account-opener.js';
export { TENANT_STATUS_GROUP } from './services/tenant-status.js';
export { BalanceFeed, balanceFeedOf, type BalanceFeedItem } from './services/balance-feed.js';
export { BalanceType, LedgerEntryGql } from './graphql/types.js';
export {
  readEntries,
  readLedgerMonth,
  readUsageLines,
  type EntryDetails,
  type LedgerMonth,
  type UsageLine,
  type UsageSummaryLine,
} from './services/ledger-periods.js';
export { ledgerMoveCheck } from './move-check.js';
