import Stripe from 'stripe';
import { DependencyGuard, breakerSettings, isDependencyUnavailable } from '@saldo/resilience';
import type { PaymentsConfig } from '../config.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import type { ReturnUrls } from '../domain/return-urls.js';

/** What Saldo puts in metadata.kind of its Checkout Sessions and PaymentIntents. */
export const PaymentKind = {
  TopUp: 'saldo_top_up',
  AutoTopUp: 'saldo_auto_top_up',
  /** A setup-mode Checkout Session: the tenant saves a payment method on its own customer (nothing is charged). */
  PaymentMethodSetup: 'saldo_payment_method_setup',
} as const;

/**
 * The metadata key of the Stripe customers billing creates, naming their tenant. Only billing (with the platform's
 * secret key) creates customers and sets metadata, so a customer carrying a tenant's id is that tenant's own.
 */
export const TENANT_METADATA_KEY = 'saldo_tenant_id';

export interface CheckoutSessionRequest {
  tenantId: string;
  topUpId: string;
  idempotencyKey: string;
  amountMinor: bigint;
  currency: string;
  /** Shown on Stripe's page, e.g. "Credit 46.25 EUR". */
  description: string;
  /** Where the payer returns (resolveReturnUrls); default the configured TOPUP_SUCCESS_URL / TOPUP_CANCEL_URL. */
  returnUrls?: ReturnUrls;
}

/** A card saved through a setup-mode Checkout Session (what setAutoTopUp needs, and what to show the tenant). */
export interface SavedPaymentMethod {
  stripeCustomerId: string;
  paymentMethodId: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
}

/** Where a tenant's setup-mode Checkout Session stands: not the tenant's (or unknown), still open, or a card saved. */
export type SetupOutcome = { state: 'not-found' } | { state: 'open' } | { state: 'saved'; method: SavedPaymentMethod };

export interface CheckoutSessionResult {
  id: string;
  url: string;
  expiresAt: Date | null;
}

export interface OffSessionChargeRequest {
  tenantId: string;
  attemptId: string;
  amountMinor: bigint;
  currency: string;
  customerId: string;
  paymentMethodId: string;
}

export type OffSessionChargeResult =
  | { outcome: 'succeeded'; paymentIntentId: string; amountMinor: bigint; currency: string; createdAt: Date }
  /** Accepted but not final (bank debits): the payment_intent.succeeded webhook credits it. */
  | { outcome: 'pending'; paymentIntentId: string; status: string }
  /** The card was declined or needs the customer (authentication): nothing was charged. */
  | { outcome: 'declined'; paymentIntentId: string | null; code: string; declineCode: string | null; message: string };

export interface RefundInfo {
  id: string;
  amountMinor: bigint;
  currency: string;
  status: string;
  created: number;
}

/**
 * Stripe failed in a way that a retry of the same request (same idempotency key) may fix, or was not asked at all
 * because its circuit is open (DEPENDENCY_UNAVAILABLE).
 */
export function isTransientStripeError(error: unknown): boolean {
  return isDependencyUnavailable(error) || stripeIsFailing(error);
}

/** Failures that count against Stripe's circuit: it could not be reached, answered 5xx/409, or throttled us. */
function stripeIsFailing(error: unknown): boolean {
  const type = (error as { type?: unknown })?.type;
  // StripeAPIError covers 5xx and 409 (a concurrent request with the same idempotency key still running).
  return type === 'StripeConnectionError' || type === 'StripeAPIError' || type === 'StripeRateLimitError';
}

/** A SaldoError for a Stripe failure at the GraphQL edge: retryable or not; Stripe's message is not passed on. */
export function paymentProviderError(error: unknown) {
  // The circuit is open (or the call timed out): the stable DEPENDENCY_UNAVAILABLE, as for every dependency.
  if (isDependencyUnavailable(error)) return error;
  if (isTransientStripeError(error)) {
    return billingError(BillingErrorCode.PaymentProviderUnavailable, 'Stripe could not be reached; nothing was charged. Retry with the same idempotency key.');
  }
  return billingError(BillingErrorCode.PaymentProviderError, 'Stripe refused the request; nothing was charged.', {
    stripeCode: (error as { code?: unknown })?.code ?? null,
  });
}

/**
 * Billing's use of Stripe, and nothing more: Checkout Sessions for top-ups, off-session PaymentIntents for
 * auto-top-ups, reading PaymentIntents and refunds, and verifying webhook signatures. Every POST carries an
 * idempotency key derived from Saldo's own (so a retry, by stripe-node or by us, never creates a second object).
 */
export class StripeGateway {
  /**
   * Every call to Stripe goes through this circuit breaker (STRIPE_BREAKER_*): while Stripe is failing, calls fail at
   * once with DEPENDENCY_UNAVAILABLE instead of each waiting for stripe-node's timeout and retries; one trial call after
   * the open period closes it again. Nothing is retried here: every POST carries an idempotency key, so a caller's later
   * retry can never charge twice.
   */
  readonly guard: DependencyGuard;

  constructor(
    readonly stripe: Stripe,
    private readonly options: {
      webhookSecret: string;
      toleranceSeconds: number;
      successUrl: string;
      cancelUrl: string;
      breaker?: { failureThreshold: number; halfOpenAfterMs: number };
    },
  ) {
    this.guard = new DependencyGuard({
      dependency: 'stripe',
      ...(options.breaker ?? { failureThreshold: 5, halfOpenAfterMs: 30_000 }),
      isFailure: stripeIsFailing,
    });
  }

  /** The configured return URLs (TOPUP_SUCCESS_URL, TOPUP_CANCEL_URL). */
  get returnUrls(): ReturnUrls {
    return { success: this.options.successUrl, cancel: this.options.cancelUrl };
  }

  private call<T>(request: () => Promise<T>): Promise<T> {
    return this.guard.execute(request);
  }

  async createCheckoutSession(request: CheckoutSessionRequest): Promise<CheckoutSessionResult> {
    const metadata = { tenantId: request.tenantId, topUpId: request.topUpId, idempotencyKey: request.idempotencyKey, kind: PaymentKind.TopUp };
    const session = await this.call(() =>
      this.stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: request.currency.toLowerCase(),
                unit_amount: Number(request.amountMinor),
                product_data: { name: 'Prepaid balance top-up', description: request.description },
              },
            },
          ],
          success_url: (request.returnUrls ?? this.returnUrls).success,
          cancel_url: (request.returnUrls ?? this.returnUrls).cancel,
          client_reference_id: request.tenantId,
          metadata,
          payment_intent_data: { metadata, description: request.description },
        },
        { idempotencyKey: checkoutIdempotencyKey(request.tenantId, request.idempotencyKey) },
      ),
    );
    if (!session.url) throw new Error(`Stripe returned Checkout Session ${session.id} without a URL`);
    return { id: session.id, url: session.url, expiresAt: session.expires_at ? new Date(session.expires_at * 1000) : null };
  }

  /**
   * The tenant's own Stripe customer (created with the tenant in its metadata). Creation is idempotent per tenant for
   * as long as Stripe keeps idempotency keys (24 h); a later call may create another customer of the same tenant,
   * which is its own just as well.
   */
  async tenantCustomer(tenantId: string): Promise<string> {
    const customer = await this.call(() =>
      this.stripe.customers.create(
        { description: `Saldo tenant ${tenantId}`, metadata: { [TENANT_METADATA_KEY]: tenantId } },
        { idempotencyKey: `customer:${tenantId}` },
      ),
    );
    return customer.id;
  }

  /** A setup-mode Checkout Session on the tenant's customer: the tenant saves a card for automatic top-ups there. */
  async createSetupSession(tenantId: string, customerId: string, currency: string, returnUrls: ReturnUrls = this.returnUrls): Promise<CheckoutSessionResult> {
    const metadata = { tenantId, kind: PaymentKind.PaymentMethodSetup };
    const session = await this.call(() =>
      this.stripe.checkout.sessions.create({
        mode: 'setup',
        customer: customerId,
        // Setup mode with the account's payment methods needs the currency future charges will be in.
        currency: currency.toLowerCase(),
        success_url: returnUrls.success,
        cancel_url: returnUrls.cancel,
        client_reference_id: tenantId,
        metadata,
        setup_intent_data: { metadata },
      }),
    );
    if (!session.url) throw new Error(`Stripe returned Checkout Session ${session.id} without a URL`);
    return { id: session.id, url: session.url, expiresAt: session.expires_at ? new Date(session.expires_at * 1000) : null };
  }

  /**
   * Whether the payment method is saved on the customer and the customer is the tenant's own (billing created it for
   * the tenant). Unknown or deleted objects are not owned; other Stripe failures throw.
   */
  async paymentMethodOwnedBy(tenantId: string, customerId: string, paymentMethodId: string): Promise<boolean> {
    const missing = (error: unknown) => (error as { statusCode?: number })?.statusCode === 404 || (error as { code?: string })?.code === 'resource_missing';
    try {
      const customer = await this.call(() => this.stripe.customers.retrieve(customerId));
      if (customer.deleted || customer.metadata?.[TENANT_METADATA_KEY] !== tenantId) return false;
      const method = await this.call(() => this.stripe.paymentMethods.retrieve(paymentMethodId));
      const owner = typeof method.customer === 'string' ? method.customer : (method.customer?.id ?? null);
      return owner === customerId;
    } catch (error) {
      if (missing(error)) return false;
      throw error;
    }
  }

  /**
   * The card a tenant saved on one of its setup-mode Checkout Sessions: the session must be Saldo's setup session of this
   * tenant (its metadata), and the payment method its SetupIntent saved must be on the tenant's own customer.
   */
  async setupOutcome(tenantId: string, checkoutSessionId: string): Promise<SetupOutcome> {
    const missing = (error: unknown) => (error as { statusCode?: number })?.statusCode === 404 || (error as { code?: string })?.code === 'resource_missing';
    let session: Stripe.Checkout.Session;
    try {
      session = await this.call(() => this.stripe.checkout.sessions.retrieve(checkoutSessionId));
    } catch (error) {
      if (missing(error)) return { state: 'not-found' };
      throw error;
    }
    if (session.mode !== 'setup' || session.metadata?.['kind'] !== PaymentKind.PaymentMethodSetup || session.metadata?.['tenantId'] !== tenantId) {
      return { state: 'not-found' };
    }
    const setupIntentId = typeof session.setup_intent === 'string' ? session.setup_intent : (session.setup_intent?.id ?? null);
    const customerId = typeof session.customer === 'string' ? session.customer : (session.customer?.id ?? null);
    if (session.status !== 'complete' || !setupIntentId || !customerId) return { state: 'open' };
    const intent = await this.call(() => this.stripe.setupIntents.retrieve(setupIntentId));
    const paymentMethodId = typeof intent.payment_method === 'string' ? intent.payment_method : (intent.payment_method?.id ?? null);
    if (intent.status !== 'succeeded' || !paymentMethodId) return { state: 'open' };
    if (!(await this.paymentMethodOwnedBy(tenantId, customerId, paymentMethodId))) return { state: 'not-found' };
    const method = await this.call(() => this.stripe.paymentMethods.retrieve(paymentMethodId));
    return {
      state: 'saved',
      method: {
        stripeCustomerId: customerId,
        paymentMethodId,
        brand: method.card?.brand ?? null,
        last4: method.card?.last4 ?? null,
        expMonth: method.card?.exp_month ?? null,
        expYear: method.card?.exp_year ?? null,
      },
    };
  }

  /**
   * Charges a saved payment method without the customer present. Declines come back as an outcome (nothing was
   * charged); transient failures throw (retry with the same attempt id: Stripe replays the first answer).
   */
  async chargeOffSession(request: OffSessionChargeRequest): Promise<OffSessionChargeResult> {
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.call(() =>
        this.stripe.paymentIntents.create(
          {
            amount: Number(request.amountMinor),
            currency: request.currency.toLowerCase(),
            customer: request.customerId,
            payment_method: request.paymentMethodId,
            off_session: true,
            confirm: true,
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            description: 'Saldo automatic top-up',
            metadata: { tenantId: request.tenantId, autoTopUpAttemptId: request.attemptId, kind: PaymentKind.AutoTopUp },
          },
          { idempotencyKey: `auto-top-up:${request.attemptId}` },
        ),
      );
    } catch (error) {
      const stripeError = error as Stripe.errors.StripeError;
      if (stripeError?.type === 'StripeCardError') {
        return {
          outcome: 'declined',
          paymentIntentId: stripeError.payment_intent?.id ?? null,
          code: stripeError.code ?? 'card_declined',
          declineCode: stripeError.decline_code ?? null,
          message: stripeError.message,
        };
      }
      throw error;
    }
    return outcomeOf(intent);
  }

  /** Where an accepted off-session PaymentIntent stands now (a settling payment looked at again). */
  async paymentIntentOutcome(id: string): Promise<OffSessionChargeResult> {
    return outcomeOf(await this.call(() => this.stripe.paymentIntents.retrieve(id)));
  }

  async retrievePaymentIntent(id: string): Promise<Stripe.PaymentIntent> {
    return this.call(() => this.stripe.paymentIntents.retrieve(id));
  }

  /** Every refund of a charge, oldest first. */
  async refundsOfCharge(chargeId: string): Promise<RefundInfo[]> {
    const refunds = await this.call(async () => {
      const listed: RefundInfo[] = [];
      for await (const refund of this.stripe.refunds.list({ charge: chargeId, limit: 100 })) {
        listed.push({
          id: refund.id,
          amountMinor: BigInt(refund.amount),
          currency: refund.currency.toUpperCase(),
          status: refund.status ?? 'pending',
          created: refund.created,
        });
      }
      return listed;
    });
    return refunds.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1));
  }

  /** Verifies Stripe-Signature over the raw body (secret and tolerance from configuration); throws when it does not hold. */
  verifyWebhook(rawBody: Buffer, signature: string | undefined): Stripe.Event {
    if (!signature) throw new Stripe.errors.StripeSignatureVerificationError(signature ?? '', rawBody, { message: 'No Stripe-Signature header' });
    return this.stripe.webhooks.constructEvent(rawBody, signature, this.options.webhookSecret, this.options.toleranceSeconds);
  }
}

/** An off-session PaymentIntent's state as an outcome: succeeded, still settling, or needing the customer (declined). */
function outcomeOf(intent: Stripe.PaymentIntent): OffSessionChargeResult {
  if (intent.status === 'succeeded') {
    return {
      outcome: 'succeeded',
      paymentIntentId: intent.id,
      amountMinor: BigInt(intent.amount_received ?? intent.amount),
      currency: intent.currency.toUpperCase(),
      createdAt: new Date(intent.created * 1000),
    };
  }
  if (intent.status === 'processing') return { outcome: 'pending', paymentIntentId: intent.id, status: intent.status };
  // requires_action / requires_payment_method / canceled: the customer must act; off-session that is a failure.
  return {
    outcome: 'declined',
    paymentIntentId: intent.id,
    code: intent.status === 'requires_action' ? 'authentication_required' : (intent.last_payment_error?.code ?? intent.status),
    declineCode: intent.last_payment_error?.decline_code ?? null,
    message: intent.last_payment_error?.message ?? `The payment needs the customer (${intent.status}).`,
  };
}

/** The Stripe idempotency key of a top-up's Checkout Session: derived from the tenant and the client's key. */
export function checkoutIdempotencyKey(tenantId: string, idempotencyKey: string): string {
  return `top-up:${tenantId}:${idempotencyKey}`;
}

/** The gateway from configuration; null when no Stripe account is configured (top-ups refuse with STRIPE_NOT_CONFIGURED). */
export function createStripeGateway(config: PaymentsConfig): StripeGateway | null {
  if (!config.STRIPE_SECRET_KEY || !config.STRIPE_WEBHOOK_SECRET) return null;
  const base = config.STRIPE_API_BASE ? new URL(config.STRIPE_API_BASE) : null;
  const stripe = new Stripe(config.STRIPE_SECRET_KEY, {
    maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
    timeout: config.STRIPE_TIMEOUT_MS,
    telemetry: false,
    appInfo: { name: 'saldo-billing' },
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
          protocol: base.protocol === 'https:' ? ('https' as const) : ('http' as const),
        }
      : {}),
  });
  return new StripeGateway(stripe, {
    webhookSecret: config.STRIPE_WEBHOOK_SECRET,
    toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    successUrl: config.TOPUP_SUCCESS_URL,
    cancelUrl: config.TOPUP_CANCEL_URL,
    breaker: breakerSettings(config, 'STRIPE'),
  });
}
