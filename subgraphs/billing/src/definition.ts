import { buildFederatedSchema } from '@saldo/graphql';
import type { SubgraphDefinition, SubgraphRuntime } from '@saldo/subgraph';
import type { BillingConfig } from './config.js';
import { DEFAULT_EXCHANGE_RATES, StaticExchangeRateProvider, type ExchangeRateProvider } from './domain/fx.js';
import { Account } from './entities/account.js';
import { AutoTopUpAttempt, AutoTopUpRule } from './entities/auto-top-up.js';
import { LedgerEntry } from './entities/ledger-entry.js';
import { Rate } from './entities/rate.js';
import { StripeEvent } from './entities/stripe-event.js';
import { TopUp } from './entities/top-up.js';
import type { BillingServices } from './graphql/context.js';
import { AutoTopUpResolver, TenantAutoTopUpResolver, TopUpResolver } from './graphql/payment-resolvers.js';
import { BalanceQueryResolver, OverdraftResolver, RateResolver, TenantBillingResolver, UsageResolver, referenceResolvers } from './graphql/resolvers.js';
import { BalanceSubscriptionResolver } from './graphql/subscriptions.js';
import { BillingTenant } from './graphql/types.js';
import { mountStripeWebhook } from './http/stripe-webhook.js';
import { createTenantLock, type TenantLock } from './locks/tenant-lock.js';
import { globalMigrations, shardMigrations } from './migrations/index.js';
import { createStripeGateway, type StripeGateway } from './payments/stripe-gateway.js';
import { AccountService } from './services/account-service.js';
import { AutoTopUpService } from './services/auto-top-up-service.js';
import { startBalanceFeed } from './services/balance-feed.js';
import { LedgerService } from './services/ledger-service.js';
import { PaymentCreditService } from './services/payment-credit-service.js';
import { RateService, SYSTEM_CLOCK, type Clock } from './services/rate-service.js';
import { StripeWebhookService } from './services/stripe-webhook-service.js';
import { subscribeAccountOpener } from './services/tenant-events-consumer.js';
import { subscribeUsageIngestion } from './services/usage-events-consumer.js';
import { TopUpService } from './services/top-up-service.js';
import { UsageService } from './services/usage-service.js';

/** Printed to schema/billing.graphql by `pnpm compose`; served by the running subgraph. */
export function buildBillingSchema() {
  return buildFederatedSchema({
    resolvers: [
      TenantBillingResolver,
      TenantAutoTopUpResolver,
      BalanceQueryResolver,
      UsageResolver,
      OverdraftResolver,
      RateResolver,
      TopUpResolver,
      AutoTopUpResolver,
      BalanceSubscriptionResolver,
    ],
    orphanedTypes: [BillingTenant],
    referenceResolvers,
  });
}

/** Seams tests (and operators embedding billing) may replace; each defaults to what the configuration says. */
export interface BillingOverrides {
  /** "Now" for every service. */
  clock?: Clock;
  exchangeRates?: ExchangeRateProvider;
  topUpLock?: TenantLock;
  /** null disables Stripe even when configured. */
  stripe?: StripeGateway | null;
}

/** Billing's services over one runtime. */
export function createBillingServices(runtime: SubgraphRuntime<BillingConfig>, overrides: BillingOverrides | Clock = {}): BillingServices {
  const options: BillingOverrides = 'now' in overrides ? { clock: overrides } : overrides;
  const clock = options.clock ?? SYSTEM_CLOCK;
  const { db, relay, config } = runtime;
  const logger = runtime.logger.child('payments');
  const ledger = new LedgerService(db, relay, clock, runtime.logger.child('ledger'));
  const rates = new RateService(db, clock);
  const stripe = options.stripe !== undefined ? options.stripe : createStripeGateway(config);
  const exchangeRates =
    options.exchangeRates ??
    new StaticExchangeRateProvider(config.EXCHANGE_RATES, config.EXCHANGE_RATES_SOURCE ?? (config.EXCHANGE_RATES === DEFAULT_EXCHANGE_RATES ? 'saldo-default-table' : 'EXCHANGE_RATES'));
  const topUpLock = options.topUpLock ?? createTenantLock(config.REDIS_URL, logger);
  const credits = new PaymentCreditService(db, ledger, exchangeRates, logger, clock);
  const topUps = new TopUpService(db, ledger, stripe, topUpLock, exchangeRates, { limits: config.TOPUP_LIMITS, lockTtlMs: config.TOPUP_LOCK_TTL_MS }, logger, clock);
  const autoTopUp = new AutoTopUpService(
    db,
    ledger,
    credits,
    stripe,
    relay,
    {
      limits: config.TOPUP_LIMITS,
      backoffBaseSeconds: config.AUTO_TOPUP_BACKOFF_BASE_SECONDS,
      backoffMaxSeconds: config.AUTO_TOPUP_BACKOFF_MAX_SECONDS,
      pollIntervalMs: config.AUTO_TOPUP_POLL_INTERVAL_MS,
      retrySeconds: config.AUTO_TOPUP_RETRY_SECONDS,
    },
    logger.child('auto-top-up'),
    clock,
  );
  ledger.addPostingHook(autoTopUp.postingHook);
  const webhooks = new StripeWebhookService(db, stripe, credits, autoTopUp, logger.child('stripe-webhooks'), clock);
  return {
    accounts: new AccountService(db),
    ledger,
    rates,
    usage: new UsageService(ledger, rates, clock),
    topUps,
    credits,
    autoTopUp,
    webhooks,
    exchangeRates,
    topUpLock,
    stripe,
  };
}

export const billingSubgraph: SubgraphDefinition<BillingServices, BillingConfig> = {
  name: 'billing',
  shardSchema: {
    shard: { entities: [Account, LedgerEntry, TopUp, AutoTopUpRule, AutoTopUpAttempt], migrations: shardMigrations },
    global: { entities: [Rate, StripeEvent], migrations: globalMigrations },
  },
  buildSchema: buildBillingSchema,
  createServices: (runtime) => createBillingServices(runtime),
  subscribe: (services, { bus, logger }) => [
    subscribeAccountOpener(bus, services.accounts, logger),
    subscribeUsageIngestion(bus, services.usage, logger),
    startBalanceFeed(services, { bus, logger }),
  ],
  configureHttp: (app, services, runtime) => mountStripeWebhook(app, services.webhooks, runtime.logger),
  start: async (services, runtime) => {
    if (!services.stripe) {
      const log = runtime.config.NODE_ENV === 'production' ? runtime.logger.warn : runtime.logger.info;
      log.call(runtime.logger, 'Stripe is not configured (STRIPE_SECRET_KEY): top-ups and auto-top-ups are refused with STRIPE_NOT_CONFIGURED');
    }
    if (services.topUpLock.ready && !(await services.topUpLock.ready())) {
      runtime.logger.warn('top-up lock: Redis not reachable at start; locking per process until it is');
    }
    services.autoTopUp.start();
    return async () => {
      await services.autoTopUp.stop();
      await services.topUpLock.close();
    };
  },
};
