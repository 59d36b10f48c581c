import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import type { Account } from '../entities/account.js';
import type { ExchangeRateProvider } from '../domain/fx.js';
import type { TenantLock } from '../locks/tenant-lock.js';
import type { StripeGateway } from '../payments/stripe-gateway.js';
import type { AccountService } from '../services/account-service.js';
import type { AutoTopUpService } from '../services/auto-top-up-service.js';
import type { LedgerService, TransactionsPage, TransactionsQuery } from '../services/ledger-service.js';
import type { PaymentCreditService } from '../services/payment-credit-service.js';
import type { RateService } from '../services/rate-service.js';
import type { StripeWebhookService } from '../services/stripe-webhook-service.js';
import type { TopUpService } from '../services/top-up-service.js';
import type { UsageService } from '../services/usage-service.js';

export interface BillingServices {
  accounts: AccountService;
  ledger: LedgerService;
  rates: RateService;
  usage: UsageService;
  /** Stripe Checkout top-ups. */
  topUps: TopUpService;
  /** The one path from Stripe payments and refunds to the ledger. */
  credits: PaymentCreditService;
  /** Auto-top-up rules, the threshold trigger and the worker. */
  autoTopUp: AutoTopUpService;
  webhooks: StripeWebhookService;
  exchangeRates: ExchangeRateProvider;
  /** The per-tenant top-up lock (Redis or in-process). */
  topUpLock: TenantLock;
  /** null when no Stripe account is configured. */
  stripe: StripeGateway | null;
}

export type BillingContext = SubgraphContext<BillingServices>;

/** Every account read in one request (balance, overdraft policy) is one batched read: one query per shard. */
export function accountLoader(ctx: BillingContext): Loader<string, Account | null> {
  return ctx.loader<string, Account | null>('account', (tenantIds) => ctx.services.accounts.getMany(tenantIds));
}

/** Every Tenant.transactions page in one request: one query per shard and distinct (first, type, from, to). */
export function transactionsLoader(ctx: BillingContext): Loader<TransactionsQuery, TransactionsPage> {
  return ctx.loader<TransactionsQuery, TransactionsPage>('transactions', (queries) => ctx.services.ledger.transactions(queries), {
    cacheKeyFn: (query) =>
      JSON.stringify([query.tenantId, query.first, query.beforeVersion ?? null, query.type ?? null, query.from ?? null, query.to ?? null]) as unknown as TransactionsQuery,
  });
}
