import { z } from 'zod';
import { Topic, defineEvent } from './contracts.js';

// Events people are told about (consumed by the tenants subgraph's notifier) and the settings and projections it
// needs. Money travels as integer minor units in decimal strings with its currency, as in the ledger's contracts.

const minorUnits = z.string().regex(/^-?\d{1,19}$/, 'must be an integer number of minor units');
const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');

/**
 * A debit took the tenant's balance from above one of its low-balance thresholds to at or below it. Billing derives
 * it under the account's row lock while posting, so it is emitted exactly once per crossing (not per debit): the next
 * one comes only after a credit lifted the balance above the threshold again. When one posting crosses several
 * thresholds, `thresholdMinor` is the lowest of them. A crossing of zero is `balance.depleted` instead.
 */
export const BalanceLow = defineEvent({
  type: 'balance.low',
  version: 1,
  topic: Topic.NotificationEvents,
  payload: z.object({
    tenantId: z.uuid(),
    currency: currencyCode,
    thresholdMinor: minorUnits,
    balanceMinor: minorUnits,
    previousBalanceMinor: minorUnits,
    /** Account version after the posting that crossed. */
    version: z.number().int().positive(),
    crossedAt: z.iso.datetime(),
  }),
});

/** A debit took the balance from above zero to zero or below: usage stops (or runs into the overdraft). Once per crossing. */
export const BalanceDepleted = defineEvent({
  type: 'balance.depleted',
  version: 1,
  topic: Topic.NotificationEvents,
  payload: z.object({
    tenantId: z.uuid(),
    currency: currencyCode,
    balanceMinor: minorUnits,
    previousBalanceMinor: minorUnits,
    version: z.number().int().positive(),
    depletedAt: z.iso.datetime(),
  }),
});

/** An automatic top-up was charged and credited. Once per attempt. */
export const AutoTopUpSucceeded = defineEvent({
  type: 'auto_top_up.succeeded',
  version: 1,
  topic: Topic.NotificationEvents,
  payload: z.object({
    tenantId: z.uuid(),
    attemptId: z.uuid(),
    /** What was credited, in the account's currency. */
    amountMinor: minorUnits,
    currency: currencyCode,
    /** The balance after the credit. */
    balanceMinor: minorUnits,
    paymentIntentId: z.string().min(1),
    succeededAt: z.iso.datetime(),
  }),
});

/**
 * A tenant's low-balance thresholds as its notification settings hold them (tenants subgraph): billing keeps a copy to
 * detect crossings under its account lock. `revision` increases with every change; older revisions are ignored.
 */
export const BalanceAlertsConfigured = defineEvent({
  type: 'balance_alerts.configured',
  version: 1,
  topic: Topic.TenantEvents,
  payload: z.object({
    tenantId: z.uuid(),
    currency: currencyCode,
    /** Ascending, distinct, positive; empty: no low-balance alert (depletion is always detected). */
    thresholdsMinor: z.array(minorUnits),
    revision: z.number().int().positive(),
  }),
});

/** A notification was recorded for a tenant (the notifier's output): feeds `Subscription.notificationReceived`. */
export const NotificationCreated = defineEvent({
  type: 'notification.created',
  version: 1,
  topic: Topic.NotificationFeed,
  payload: z.object({
    notificationId: z.uuid(),
    tenantId: z.uuid(),
    /** The event type it tells about (`balance.low`, ...). */
    kind: z.string().min(1),
    /** TENANT: the tenant's users see it; OPERATOR: platform operators only. */
    audience: z.enum(['TENANT', 'OPERATOR']),
    title: z.string(),
    body: z.string(),
    data: z.record(z.string(), z.unknown()),
    eventId: z.uuid(),
    createdAt: z.iso.datetime(),
  }),
});

/** What every tenant gets where neither it nor its partner set a branding field (white-label's platform default). */
export const PLATFORM_BRANDING_VALUES = Object.freeze({
  displayName: 'Saldo',
  primaryColor: '#0F766E',
  accentColor: '#F59E0B',
  logoUrl: null as string | null,
  supportEmail: 'support@saldo.example' as string | null,
});
