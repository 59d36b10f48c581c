import type { SubgraphContext } from '@saldo/subgraph';
import type { ExchangeRateProvider } from '../domain/fx.js';
import type { TenantLock } from '../locks/tenant-lock.js';
import type { AutoTopUpService } from '../services/auto-top-up-service.js';
import type { PaymentCreditService } from '../services/payment-credit-service.js';
import type { StripeWebhookService } from '../services/stripe-webhook-service.js';
import type { TopUpService } from '../services/top-up-service.js';
import type { StripeGateway } from '../stripe/stripe-gateway.js';

/** The payments module's services, as billing's composed services carry them. */
export interface PaymentServices {
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

export type PaymentsContext = SubgraphContext<PaymentServices>;
