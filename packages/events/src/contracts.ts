import { z } from 'zod';

/** Topics are part of the public contract of the event backbone (Kafka in the full stack). */
export const Topic = {
  TenantEvents: 'tenant-events',
  UsageEvents: 'usage-events',
  TransactionEvents: 'transaction-events',
  BalanceEvents: 'balance-events',
  /** Things a person should be told about (e-mail, push, portal banner): consumed by notification delivery. */
  NotificationEvents: 'notification-events',
  /** Fraud cases opened and resolved (usage-forecast): operators' tooling and the tenant suspension policy consume it. */
  FraudEvents: 'fraud-events',
  /** Notifications recorded for tenants (the notifier's output): live in-app feeds. */
  NotificationFeed: 'notification-feed',
} as const;
export type Topic = (typeof Topic)[keyof typeof Topic];

/** A typed, versioned event: consumers validate the payload against the schema of its (type, version). */
export interface EventContract<T extends string, P extends z.ZodType> {
  readonly type: T;
  readonly version: number;
  readonly topic: Topic;
  readonly payload: P;
}

export function defineEvent<T extends string, P extends z.ZodType>(contract: EventContract<T, P>): EventContract<T, P> {
  return contract;
}

/** What travels on the bus: keyed by tenant id so one tenant's events stay in order. */
export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  version: z.number().int().positive(),
  topic: z.string().min(1),
  key: z.string().min(1),
  occurredAt: z.iso.datetime(),
  payload: z.unknown(),
  /** W3C trace context of the operation that produced the event (stored in its outbox row), so consumers join its trace. */
  traceparent: z.string().max(128).optional(),
});
export type EventEnvelope = z.infer<typeof envelopeSchema>;

export type PayloadOf<C> = C extends EventContract<string, infer P> ? z.output<P> : never;

/** Narrows and validates an envelope against a contract; returns undefined for other event types. */
export function decode<C extends EventContract<string, z.ZodType>>(contract: C, envelope: EventEnvelope): PayloadOf<C> | undefined {
  if (envelope.type !== contract.type || envelope.version !== contract.version) return undefined;
  return contract.payload.parse(envelope.payload) as PayloadOf<C>;
}

// ---- Contracts ------------------------------------------------------------------------------------

/**
 * What invoices need of a customer (§ 14 Abs. 4 UStG: name and address; the VAT id decides reverse charge). Optional in
 * v1: events written before it was added do not carry it; consumers keep what they knew.
 */
const tenantInvoicingProfile = z.object({
  legalName: z.string().nullable(),
  address: z.object({ line1: z.string(), line2: z.string().nullable(), postalCode: z.string(), city: z.string(), region: z.string().nullable() }).nullable(),
  country: z.string().length(2),
  vatId: z.string().nullable(),
});

export const TenantCreated = defineEvent({
  type: 'tenant.created',
  version: 1,
  topic: Topic.TenantEvents,
  payload: z.object({
    tenantId: z.uuid(),
    partnerId: z.uuid().nullable(),
    name: z.string(),
    currency: z.string().length(3),
    country: z.string().length(2),
    status: z.string(),
    profile: tenantInvoicingProfile.optional(),
  }),
});

export const TenantUpdated = defineEvent({
  type: 'tenant.updated',
  version: 1,
  topic: Topic.TenantEvents,
  payload: z.object({
    tenantId: z.uuid(),
    partnerId: z.uuid().nullable(),
    name: z.string(),
    status: z.string(),
    /** The tenant's invoicing data after the change (see tenant.created). */
    profile: tenantInvoicingProfile.optional(),
  }),
});

/**
 * A reseller's data as seller of record: when set, billing issues the partner's tenants' invoices, credit notes and
 * statements in the partner's name and number series (§ 14 Abs. 4 Nr. 1-2 UStG data and where to pay).
 */
export const sellerProfileSchema = z.object({
  legalName: z.string().min(1),
  address: z.object({ line1: z.string().min(1), line2: z.string().nullable(), postalCode: z.string().min(1), city: z.string().min(1) }),
  country: z.string().length(2),
  vatId: z.string().nullable(),
  taxNumber: z.string().nullable(),
  registration: z.string().nullable(),
  managingDirectors: z.string().nullable(),
  email: z.string().min(3),
  phone: z.string().min(3),
  contactName: z.string().min(1),
  website: z.string().nullable(),
  iban: z.string().min(15),
  bic: z.string().nullable(),
  bankName: z.string().nullable(),
});

/** A partner started, changed or stopped reselling as seller of record (profile null: the platform sells again). */
export const PartnerSellerProfileChanged = defineEvent({
  type: 'partner.seller_profile_changed',
  version: 1,
  topic: Topic.TenantEvents,
  payload: z.object({ partnerId: z.uuid(), profile: sellerProfileSchema.nullable(), changedAt: z.iso.datetime() }),
});

/** Branding fields as a level stores them: null means "inherit from the level above" (tenant -> partner -> platform). */
const brandingValues = z.object({
  displayName: z.string().nullable(),
  primaryColor: z.string().nullable(),
  accentColor: z.string().nullable(),
  logoUrl: z.string().nullable(),
  supportEmail: z.string().nullable(),
});

/**
 * A partner's or a tenant's own white-label branding changed (all-null values: cleared). Consumers resolve a tenant's
 * branding per field: tenant ?? partner ?? their own default. Keyed by the partner or tenant id.
 */
export const BrandingChanged = defineEvent({
  type: 'branding.changed',
  version: 1,
  topic: Topic.TenantEvents,
  payload: z.object({
    level: z.enum(['PARTNER', 'TENANT']),
    partnerId: z.uuid().nullable(),
    tenantId: z.uuid().nullable(),
    values: brandingValues,
    changedAt: z.iso.datetime(),
  }),
});

// ---- Ledger (billing) -----------------------------------------------------------------------------
// Money travels as integer minor units in decimal strings (bigint-safe, never a float), with its currency.

const minorUnits = z.string().regex(/^-?\d{1,19}$/, 'must be an integer number of minor units');
const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');

/** Kinds of ledger entry. Credits are positive, debits negative (see docs/decisions/0004-prepaid-ledger.md). */
export const LEDGER_ENTRY_TYPES = ['TOP_UP', 'USAGE', 'REFUND', 'ADJUSTMENT', 'BONUS', 'CREDIT_NOTE'] as const;

/** A ledger entry as `transaction.posted` carries it. */
const postedEntry = z.object({
  entryId: z.uuid(),
  type: z.enum(LEDGER_ENTRY_TYPES),
  amountMinor: minorUnits,
  balanceAfterMinor: minorUnits,
  accountVersion: z.number().int().positive(),
  idempotencyKey: z.string().min(1),
  product: z.string().nullable(),
  quantity: z.string().regex(/^\d+$/).nullable(),
  occurredAt: z.iso.datetime().nullable(),
  externalRef: z.string().nullable(),
  postedAt: z.iso.datetime(),
});

/**
 * One posting to a tenant's ledger committed: one or more entries appended in one transaction. Emitted for every
 * posting (usage batches, top-ups, refunds, adjustments), in account-version order per tenant.
 */
export const TransactionPosted = defineEvent({
  type: 'transaction.posted',
  version: 1,
  topic: Topic.TransactionEvents,
  payload: z.object({
    tenantId: z.uuid(),
    currency: currencyCode,
    /** The account's balance and version after the last entry of this posting. */
    balanceAfterMinor: minorUnits,
    version: z.number().int().positive(),
    entries: z.array(postedEntry).min(1),
  }),
});

/** A tenant's cached balance changed (once per posting, after all its entries). Feeds live balance subscriptions. */
export const BalanceChanged = defineEvent({
  type: 'balance.changed',
  version: 1,
  topic: Topic.BalanceEvents,
  payload: z.object({
    tenantId: z.uuid(),
    currency: currencyCode,
    balanceMinor: minorUnits,
    previousBalanceMinor: minorUnits,
    /** Account version after the change; a consumer that saw a higher version already has a newer balance. */
    version: z.number().int().positive(),
    changedAt: z.iso.datetime(),
    /**
     * The entry that produced this version (the last of its posting), so live feeds need no ledger read per change.
     * Optional: events written before it was added do not carry it.
     */
    entry: postedEntry
      .extend({ rateId: z.uuid().nullable(), unitPriceMicros: z.string().regex(/^\d+$/).nullable(), description: z.string().nullable() })
      .optional(),
  }),
});

/**
 * Usage that billing accepted and charged (duplicates are not repeated here). One event per accepted batch;
 * `costMinor` is the non-negative charge of each usage event at the rate valid at its occurredAt.
 */
export const UsageRecorded = defineEvent({
  type: 'usage.recorded',
  version: 1,
  topic: Topic.UsageEvents,
  payload: z.object({
    tenantId: z.uuid(),
    currency: currencyCode,
    events: z
      .array(
        z.object({
          eventId: z.string().min(1),
          entryId: z.uuid(),
          product: z.string().min(1),
          quantity: z.string().regex(/^\d+$/),
          occurredAt: z.iso.datetime(),
          costMinor: z.string().regex(/^\d{1,19}$/),
          rateId: z.uuid(),
          /** Price per unit in millionths of a minor unit, as charged. */
          unitPriceMicros: z.string().regex(/^\d{1,19}$/),
        }),
      )
      .min(1),
  }),
});

/**
 * Raw usage reported by a metering source (telephony platform, partner integration) for billing to charge: the
 * same shape and rules as Mutation.recordUsage. Billing ignores its own `usage.recorded` on the same topic.
 */
export const UsageReported = defineEvent({
  type: 'usage.reported',
  version: 1,
  topic: Topic.UsageEvents,
  payload: z.object({
    tenantId: z.string(),
    events: z.array(
      z.object({
        id: z.string(),
        product: z.string(),
        quantity: z.number().int(),
        occurredAt: z.iso.datetime({ offset: true }),
      }),
    ),
  }),
});

// ---- Notifications ----------------------------------------------------------------------------------

/**
 * An automatic top-up could not charge the tenant's saved payment method (a decline, authentication required, or
 * Stripe refusing the request). Nothing was charged or credited. Auto-top-up backs off until `nextAttemptAfter`;
 * the tenant should update its payment method or top up by hand. Once per failed attempt.
 */
export const AutoTopUpFailed = defineEvent({
  type: 'auto_top_up.failed',
  version: 1,
  topic: Topic.NotificationEvents,
  payload: z.object({
    tenantId: z.uuid(),
    attemptId: z.uuid(),
    amountMinor: minorUnits,
    currency: currencyCode,
    /** The balance when the attempt was triggered. */
    balanceMinor: minorUnits,
    /** Stripe's error code (card_declined, authentication_required, ...) or a Saldo code. */
    failureCode: z.string().min(1),
    /** The issuer's decline reason when Stripe reports one (insufficient_funds, ...). */
    declineCode: z.string().nullable(),
    message: z.string(),
    /** Declines in a row, this one included. */
    consecutiveFailures: z.number().int().positive(),
    /** No new attempt before this instant. */
    nextAttemptAfter: z.iso.datetime(),
    failedAt: z.iso.datetime(),
  }),
});

// ---- Documents (billing) ----------------------------------------------------------------------------

/**
 * Billing issued a document (invoice, credit note or monthly statement): numbered, immutable, renderable as PDF (and,
 * for invoices and credit notes, as EN 16931 XML) through `Query.document(id)`. Once per document, from the outbox of
 * billing's control database, in the transaction that took its number. Notification delivery mails it to the tenant.
 */
export const DocumentIssued = defineEvent({
  type: 'document.issued',
  version: 1,
  topic: Topic.NotificationEvents,
  payload: z.object({
    documentId: z.uuid(),
    tenantId: z.uuid(),
    kind: z.enum(['INVOICE', 'CREDIT_NOTE', 'STATEMENT']),
    /** RE-2026-000123, GS-2026-000007, KA-2026-000042: gapless per issuer, series and year. */
    number: z.string().min(1),
    /** `platform` or the reselling partner's id. */
    issuerId: z.string().min(1),
    issueDate: z.iso.date(),
    servicePeriod: z.object({ from: z.iso.date(), to: z.iso.date() }),
    currency: currencyCode,
    /** Invoices and credit notes; zero for statements (not tax documents). */
    totals: z.object({ netMinor: minorUnits, vatMinor: minorUnits, grossMinor: minorUnits }),
    /** The language the document is written in (the tenant's). */
    language: z.enum(['de', 'en']),
    /** The invoice a credit note corrects. */
    corrects: z.object({ documentId: z.uuid(), number: z.string().min(1) }).nullable(),
    issuedAt: z.iso.datetime(),
    /**
     * A signed download link of the PDF, valid for some days (optional, v1-compatible): the notifier attaches the PDF
     * to the mail when the event carries it; otherwise the mail points to the portal.
     */
    pdfUrl: z.url().optional(),
  }),
});

// ---- Account settings (billing) ------------------------------------------------------------------------
// What other subgraphs need to know about an account beyond its balance (usage-forecast: depletion dates).

/** The overdraft policy of a tenant's account was set. `limitMinor` is 0 under BLOCK. */
export const OverdraftPolicyChanged = defineEvent({
  type: 'overdraft_policy.changed',
  version: 1,
  topic: Topic.BalanceEvents,
  payload: z.object({
    tenantId: z.uuid(),
    currency: currencyCode,
    mode: z.enum(['BLOCK', 'ALLOW_OVERDRAFT']),
    limitMinor: minorUnits,
    changedAt: z.iso.datetime(),
  }),
});

/** A tenant's automatic top-up rule was set (enabled, declines forgotten) or disabled. */
export const AutoTopUpChanged = defineEvent({
  type: 'auto_top_up.changed',
  version: 1,
  topic: Topic.BalanceEvents,
  payload: z.object({
    tenantId: z.uuid(),
    enabled: z.boolean(),
    currency: currencyCode,
    thresholdMinor: minorUnits,
    mode: z.enum(['FIXED_AMOUNT', 'TOP_UP_TO']),
    /** FIXED_AMOUNT: what is charged; TOP_UP_TO: the balance reached. */
    amountMinor: minorUnits,
    dailyCapMinor: minorUnits,
    paymentMethodId: z.string(),
    changedAt: z.iso.datetime(),
  }),
});

// ---- Forecasts, anomalies, fraud (usage-forecast) ----------------------------------------------------------

/**
 * A tenant's balance is forecast to run out (reach zero, or its overdraft limit) within the configured number of
 * days. Once per tenant and depletion date: a new event only when the forecast date moves.
 */
export const DepletionSoon = defineEvent({
  type: 'forecast.depletion_soon',
  version: 1,
  topic: Topic.NotificationEvents,
  payload: z.object({
    tenantId: z.uuid(),
    currency: currencyCode,
    balanceMinor: minorUnits,
    /** The forecast day (YYYY-MM-DD, UTC) the balance runs out, and the range of the 80 % forecast. */
    depletionDate: z.iso.date(),
    earliest: z.iso.date(),
    latest: z.iso.date().nullable(),
    daysLeft: z.number().int().nonnegative(),
    confidence: z.number().min(0).max(1),
    modelVersion: z.number().int().nonnegative(),
    computedAt: z.iso.datetime(),
  }),
});

export const ANOMALY_SEVERITIES = ['MEDIUM', 'HIGH', 'CRITICAL'] as const;

/** A tenant's hourly or daily usage left its own seasonal profile (robust score above 3). Once per period. */
export const AnomalyDetected = defineEvent({
  type: 'anomaly.detected',
  version: 1,
  topic: Topic.NotificationEvents,
  payload: z.object({
    anomalyId: z.uuid(),
    tenantId: z.uuid(),
    granularity: z.enum(['HOUR', 'DAY']),
    periodStart: z.iso.datetime(),
    observed: z.number().nonnegative(),
    expected: z.number().nonnegative(),
    /** Robust score: residual over 1.4826 x the median absolute deviation of the tenant's past residuals. */
    score: z.number(),
    severity: z.enum(ANOMALY_SEVERITIES),
    detectedAt: z.iso.datetime(),
  }),
});

const fraudSignal = z.object({ kind: z.string().min(1), score: z.number().min(0).max(100), detail: z.string() });

/**
 * A fraud case was opened for a tenant. `suspendUsage`: the tenant's partner asked for usage to be suspended while a
 * critical case is open (the tenants subgraph suspends the tenant; billing refuses usage of suspended tenants).
 */
export const FraudCaseOpened = defineEvent({
  type: 'fraud.case_opened',
  version: 1,
  topic: Topic.FraudEvents,
  payload: z.object({
    caseId: z.uuid(),
    tenantId: z.uuid(),
    partnerId: z.uuid().nullable(),
    score: z.number().min(0).max(100),
    severity: z.enum(ANOMALY_SEVERITIES),
    signals: z.array(fraudSignal).min(1),
    suspendUsage: z.boolean(),
    openedAt: z.iso.datetime(),
  }),
});

/** An operator resolved a fraud case. `resumeUsage`: the case had suspended the tenant, which may resume now. */
export const FraudCaseResolved = defineEvent({
  type: 'fraud.case_resolved',
  version: 1,
  topic: Topic.FraudEvents,
  payload: z.object({
    caseId: z.uuid(),
    tenantId: z.uuid(),
    resolution: z.enum(['CONFIRMED', 'DISMISSED']),
    resumeUsage: z.boolean(),
    resolvedAt: z.iso.datetime(),
  }),
});
