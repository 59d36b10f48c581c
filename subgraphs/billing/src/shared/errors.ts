import { ErrorCode, SaldoError } from '@saldo/graphql';

/**
 * Billing's stable error codes (extensions.code), beside the platform-wide ones in @saldo/graphql. Clients
 * branch on them; renaming one is a breaking change.
 */
export const BillingErrorCode = {
  /** A debit would take the balance below the account's overdraft floor; nothing was written. */
  InsufficientBalance: 'INSUFFICIENT_BALANCE',
  /** More usage events in one recordUsage call than the limit (1,000). */
  BatchTooLarge: 'BATCH_TOO_LARGE',
  /** A usage quantity that is not a positive integer. */
  InvalidQuantity: 'INVALID_QUANTITY',
  /** A product no rate card has ever priced. */
  UnknownProduct: 'UNKNOWN_PRODUCT',
  /** The product exists, but no rate in the account's currency was valid at the event's occurredAt. */
  RateNotFound: 'RATE_NOT_FOUND',
  /** A usage event that claims to have happened later than now (beyond the allowed clock skew). */
  OccurredAtInFuture: 'OCCURRED_AT_IN_FUTURE',
  /** The tenant is suspended (tenants subgraph): its usage is refused, nothing is written, until it is reactivated. */
  TenantSuspended: 'TENANT_SUSPENDED',
  /** Billing holds no account for the tenant (yet): its tenant.created event may still be in flight. */
  AccountNotFound: 'ACCOUNT_NOT_FOUND',
  /** A ledger amount with the wrong sign for its entry type, or out of range. */
  InvalidAmount: 'INVALID_AMOUNT',
  /** A unit price that is negative, too precise (more than 6 decimals of a minor unit) or too large. */
  InvalidPrice: 'INVALID_PRICE',
  /** A rate version whose validity window would rewrite prices already in force, or overlap another version. */
  RateWindowConflict: 'RATE_WINDOW_CONFLICT',
  /** Another top-up of the same tenant is being created right now (a different idempotency key); retry shortly. */
  TopUpInProgress: 'TOPUP_IN_PROGRESS',
  /** A top-up below the minimum of its currency (TOPUP_LIMITS). */
  AmountTooSmall: 'AMOUNT_TOO_SMALL',
  /** A top-up above the maximum of its currency (TOPUP_LIMITS). */
  AmountTooLarge: 'AMOUNT_TOO_LARGE',
  /** This billing deployment has no Stripe account configured (STRIPE_SECRET_KEY): top-ups are unavailable. */
  StripeNotConfigured: 'STRIPE_NOT_CONFIGURED',
  /** A top-up in a currency other than the account's, and no exchange rate for the pair. */
  ExchangeRateNotFound: 'EXCHANGE_RATE_NOT_FOUND',
  /** An idempotency key sent again with different parameters (amount, currency) than the first time. */
  IdempotencyKeyReused: 'IDEMPOTENCY_KEY_REUSED',
  /** Stripe could not be reached or failed; nothing was charged, the same request may be retried. */
  PaymentProviderUnavailable: 'PAYMENT_PROVIDER_UNAVAILABLE',
  /**
   * setAutoTopUp with a Stripe customer or payment method the tenant did not save through its own setup flow
   * (createPaymentMethodSetup): another customer's card is never charged. Nothing was changed.
   */
  PaymentMethodNotOwned: 'PAYMENT_METHOD_NOT_OWNED',
  /**
   * A Checkout return origin that is neither the platform's own (TOPUP_SUCCESS_URL's) nor the partner's custom domain the
   * request came through: Checkout would send the payer somewhere else. Nothing was created.
   */
  ReturnOriginNotAllowed: 'RETURN_ORIGIN_NOT_ALLOWED',
  /** No setup-mode Checkout Session of this tenant with that id (paymentMethodSetup). */
  PaymentMethodSetupNotFound: 'PAYMENT_METHOD_SETUP_NOT_FOUND',
  /** Stripe refused the request (a configuration or integration problem, not the payer's card). */
  PaymentProviderError: 'PAYMENT_PROVIDER_ERROR',
  /** No such document (or not one the caller may see). */
  DocumentNotFound: 'DOCUMENT_NOT_FOUND',
  /** A credit note may only correct an invoice (not a credit note or a statement). */
  NotAnInvoice: 'NOT_AN_INVOICE',
  /** A credit note above what remains creditable on its invoice (its net less earlier credit notes); nothing issued. */
  AmountExceedsCreditable: 'AMOUNT_EXCEEDS_CREDITABLE',
  /** An amount in another currency than the document it refers to. */
  CurrencyMismatch: 'CURRENCY_MISMATCH',
  /** No seller of record is configured (billing's ISSUER_* settings): documents cannot be issued. */
  MissingIssuerData: 'MISSING_ISSUER_DATA',
  /** Billing has not received the tenant's customer data (name, country) yet: tenant.created is still in flight. */
  CustomerDataMissing: 'CUSTOMER_DATA_MISSING',
  /** A buyer reference that is not a valid Leitweg-ID. */
  InvalidBuyerReference: 'INVALID_BUYER_REFERENCE',
  /** A statement period that is not a month (YYYY-MM) or not over yet. */
  InvalidPeriod: 'INVALID_PERIOD',
  /** The VAT rate table has no rate for the customer's country on the service date. */
  VatRateNotFound: 'VAT_RATE_NOT_FOUND',
} as const;
export type BillingErrorCode = (typeof BillingErrorCode)[keyof typeof BillingErrorCode];

/** Billing codes and the shared ones: what a billing zod issue may carry in params.code. */
export type AnyErrorCode = ErrorCode | BillingErrorCode;

/** A SaldoError with a billing code; surfaces unchanged at the GraphQL edge like every SaldoError. */
export function billingError(code: AnyErrorCode, message: string, details: Record<string, unknown> = {}): SaldoError {
  return new SaldoError(code as string as ErrorCode, message, details);
}

/** zod refinement params carrying a stable code (read by validateInput). */
export const coded = (code: AnyErrorCode) => ({ params: { code } });
