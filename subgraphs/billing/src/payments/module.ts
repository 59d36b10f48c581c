import type { SubgraphRuntime } from '@saldo/subgraph';
import type { BillingConfig } from '../config.js';
import type { LedgerService } from '../ledger/index.js';
import type { Clock } from '../shared/clock.js';
import type { BillingModule } from '../shared/module.js';
import type { TaxQuoter } from './domain/tax.js';
import { DEFAULT_EXCHANGE_RATES, StaticExchangeRateProvider, type ExchangeRateProvider } from './domain/fx.js';
import { AutoTopUpAttempt, AutoTopUpRule } from './entities/auto-top-up.js';
import { StripeEvent } from './entities/stripe-event.js';
import { TopUp } from './entities/top-up.js';
import type { PaymentServices } from './graphql/context.js';
import { AutoTopUpResolver, TenantAutoTopUpResolver, TopUpResolver } from './graphql/resolvers.js';
import { mountStripeWebhook } from './http/stripe-webhook.js';
import { createTenantLock, type TenantLock } from './locks/tenant-lock.js';
import { paymentsGlobalMigrations, paymentsShardMigrations } from './migrations.js';
import { AutoTopUpService } from './services/auto-top-up-service.js';
import { PaymentCreditService } from './services/payment-credit-service.js';
import { StripeWebhookService } from './services/stripe-webhook-service.js';
import { TopUpService } from './services/top-up-service.js';
import { createStripeGateway, type StripeGateway } from './stripe/stripe-gateway.js';

/** Top-ups (Stripe Checkout), auto-top-up, Stripe webhooks and exchange rates: money in and out through Stripe. */
export const paymentsModule: BillingModule<PaymentServices> = {
  name: 'payments',
  shard: { entities: [TopUp, AutoTopUpRule, AutoTopUpAttempt], migrations: paymentsShardMigrations },
  global: { entities: [StripeEvent], migrations: paymentsGlobalMigrations },
  resolvers: [TenantAutoTopUpResolver, TopUpResolver, AutoTopUpResolver],
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

/** Seams tests (and operators embedding billing) may replace; each defaults to what the configuration says. */
export interface PaymentOverrides {
  exchangeRates?: ExchangeRateProvider;
  topUpLock?: TenantLock;
  /** null disables Stripe even when configured. */
  stripe?: StripeGateway | null;
}

export function createPaymentServices(
  runtime: SubgraphRuntime<BillingConfig>,
  deps: { ledger: LedgerService; clock: Clock; tax?: TaxQuoter },
  overrides: PaymentOverrides = {},
): PaymentServices {
  const { db, relay, config } = runtime;
  const { ledger, clock } = deps;
  const logger = runtime.logger.child('payments');
  const stripe = overrides.stripe !== undefined ? overrides.stripe : createStripeGateway(config);
  const exchangeRates =
    overrides.exchangeRates ??
    new StaticExchangeRateProvider(
      config.EXCHANGE_RATES,
      config.EXCHANGE_RATES_SOURCE ?? (config.EXCHANGE_RATES === DEFAULT_EXCHANGE_RATES ? 'saldo-default-table' : 'EXCHANGE_RATES'),
    );
  const topUpLock = overrides.topUpLock ?? createTenantLock(config.REDIS_URL, logger);
  const credits = new PaymentCreditService(db, ledger, exchangeRates, logger, clock);
  const topUps = new TopUpService(
    db,
    ledger,
    stripe,
    topUpLock,
    exchangeRates,
    { limits: config.TOPUP_LIMITS, lockTtlMs: config.TOPUP_LOCK_TTL_MS, ...(deps.tax ? { tax: deps.tax } : {}) },
    logger,
    clock,
  );
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
      ...(deps.tax ? { tax: deps.tax } : {}),
    },
    logger.child('auto-top-up'),
    clock,
  );
  const webhooks = new StripeWebhookService(db, stripe, credits, autoTopUp, logger.child('stripe-webhooks'), clock);
  return { topUps, credits, autoTopUp, webhooks, exchangeRates, topUpLock, stripe };
}
