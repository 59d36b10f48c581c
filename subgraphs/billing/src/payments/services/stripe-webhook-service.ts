import { z } from 'zod';
import type Stripe from 'stripe';
import { SaldoError, isUuid } from '@saldo/graphql';
import { httpErrorBody, type Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { StripeEventStatus } from '../entities/stripe-event.js';
import { TopUpStatus } from '../entities/top-up.js';
import { BillingErrorCode } from '../../shared/errors.js';
import { PaymentKind, type StripeGateway } from '../stripe/stripe-gateway.js';
import type { AutoTopUpService } from './auto-top-up-service.js';
import type { PaymentCredit, PaymentCreditService } from './payment-credit-service.js';
import { SYSTEM_CLOCK, type Clock } from '../../shared/clock.js';

/** What the HTTP endpoint answers Stripe. 2xx: done (or nothing to do); 4xx: refused; 5xx: Stripe retries. */
export interface WebhookResponse {
  httpStatus: number;
  body: Record<string, unknown>;
}

interface Handled {
  status: StripeEventStatus.PROCESSED | StripeEventStatus.IGNORED;
  tenantId?: string | null;
  result: Record<string, unknown>;
}

// Stripe objects are read with loose schemas: only the fields billing relies on are checked, anything else may vary
// between API versions.
const metadataSchema = z.record(z.string(), z.string()).nullish();
const expandableId = z
  .union([z.string(), z.looseObject({ id: z.string() })])
  .nullish()
  .transform((value) => (typeof value === 'string' ? value : (value?.id ?? null)));
const checkoutSessionSchema = z.looseObject({
  id: z.string(),
  mode: z.string().nullish(),
  payment_status: z.string().nullish(),
  amount_total: z.number().int().nullish(),
  currency: z.string().nullish(),
  payment_intent: expandableId,
  metadata: metadataSchema,
});
const paymentIntentSchema = z.looseObject({
  id: z.string(),
  amount: z.number().int(),
  amount_received: z.number().int().nullish(),
  currency: z.string(),
  created: z.number().int(),
  metadata: metadataSchema,
  last_payment_error: z.looseObject({ code: z.string().nullish(), decline_code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});
const refundSchema = z.looseObject({ id: z.string(), amount: z.number().int(), currency: z.string(), status: z.string().nullish(), created: z.number().int() });
const chargeSchema = z.looseObject({
  id: z.string(),
  amount: z.number().int(),
  amount_captured: z.number().int().nullish(),
  currency: z.string(),
  created: z.number().int(),
  payment_intent: expandableId,
  metadata: metadataSchema,
  refunds: z.looseObject({ data: z.array(refundSchema), has_more: z.boolean() }).nullish(),
});

/**
 * Stripe webhooks: verification, the `stripe_event` record, and dispatch.
 *
 * - The signature (Stripe-Signature over the raw body, secret and tolerance from configuration) is checked before
 *   anything else; a bad one is 400, logged, and writes nothing.
 * - Every verified event is recorded once in `stripe_event` (control database). A redelivery of an event already
 *   handled is acknowledged at once; one still RECEIVED (in flight, or failed before) is processed again, which is
 *   safe because crediting is idempotent in the ledger.
 * - `checkout.session.completed` / `.async_payment_succeeded` and `payment_intent.succeeded` credit the payment
 *   through PaymentCreditService under `stripe:pi:<payment intent>`: whichever arrives first credits, the other is a
 *   duplicate, also when both race. `charge.refunded` books REFUND entries per refund id (crediting the payment first
 *   if its own event has not arrived yet). `checkout.session.expired` closes the top-up; `payment_intent.payment_failed`
 *   fails an auto-top-up attempt that Stripe had accepted. Everything else is acknowledged and ignored.
 * - Tenants come from metadata.tenantId (set by Saldo on every session and payment intent). None: not Saldo's payment,
 *   ignored. Not a UUID: ignored with a warning. A UUID billing holds no account for: acknowledged with 200 and logged
 *   as an error (status TENANT_UNKNOWN): retries cannot make the tenant appear (createTopUp requires the account),
 *   so making Stripe retry for three days would only bury the one alert an operator needs under retries.
 * - Any other failure (database down, no exchange rate for a paid currency) is 500: Stripe retries with backoff.
 */
export class StripeWebhookService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly stripe: StripeGateway | null,
    private readonly credits: PaymentCreditService,
    private readonly autoTopUp: AutoTopUpService,
    private readonly logger: Logger,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {}

  async receive(rawBody: Buffer, signature: string | undefined): Promise<WebhookResponse> {
    if (!this.stripe) return { httpStatus: 503, body: httpErrorBody('STRIPE_NOT_CONFIGURED', 'Stripe is not configured on this instance.') };
    let event: Stripe.Event;
    try {
      event = this.stripe.verifyWebhook(rawBody, signature);
    } catch (error) {
      const reason = String((error as Error)?.message ?? error)
        .split('\n')[0]!
        .trim();
      this.logger.warn('rejected a Stripe webhook: signature verification failed', { reason, bytes: rawBody.length, signed: Boolean(signature) });
      return { httpStatus: 400, body: httpErrorBody('INVALID_SIGNATURE', 'The Stripe-Signature header does not verify this body.') };
    }

    const status = await this.record(event);
    if (status !== StripeEventStatus.RECEIVED) return { httpStatus: 200, body: { received: true, duplicate: true, status } };

    try {
      const handled = await this.process(event);
      await this.complete(event.id, handled.status, handled.tenantId ?? null, handled.result);
      return { httpStatus: 200, body: { received: true, status: handled.status } };
    } catch (error) {
      if (error instanceof SaldoError && error.code === (BillingErrorCode.AccountNotFound as string)) {
        const tenantId = String(error.extensions['tenantId'] ?? '');
        this.logger.error('Stripe webhook names a tenant billing holds no account for; acknowledged, needs an operator', {
          event: event.id,
          type: event.type,
          tenant: tenantId,
        });
        await this.complete(event.id, StripeEventStatus.TENANT_UNKNOWN, isUuid(tenantId) ? tenantId : null, { reason: 'no billing account for the tenant' });
        return { httpStatus: 200, body: { received: true, status: StripeEventStatus.TENANT_UNKNOWN } };
      }
      this.logger.error('processing a Stripe webhook failed; Stripe will retry', { event: event.id, type: event.type, error });
      await this.db
        .globalEm()
        .execute('update stripe_event set error = ? where id = ?', [String((error as Error)?.message ?? error).slice(0, 1000), event.id], 'run')
        .catch(() => undefined);
      return { httpStatus: 500, body: httpErrorBody('PROCESSING_FAILED', 'The event could not be processed; it will be processed when Stripe retries.') };
    }
  }

  /** Records the delivery; returns the event's status (RECEIVED: not handled yet, process it). */
  private async record(event: Stripe.Event): Promise<StripeEventStatus> {
    const object = event.data?.object as { id?: unknown } | undefined;
    const [row] = await this.db.globalEm().execute<{ status: StripeEventStatus }[]>(
      `insert into stripe_event (id, type, livemode, status, object_id, deliveries, stripe_created_at, received_at)
       values (?, ?, ?, ?, ?, 1, ?, ?)
       on conflict (id) do update set deliveries = stripe_event.deliveries + 1
       returning status`,
      [
        event.id,
        event.type,
        Boolean(event.livemode),
        StripeEventStatus.RECEIVED,
        typeof object?.id === 'string' ? object.id : null,
        new Date(event.created * 1000),
        this.clock.now(),
      ],
    );
    return row!.status;
  }

  private async complete(eventId: string, status: StripeEventStatus, tenantId: string | null, result: Record<string, unknown>): Promise<void> {
    // Only the first completion counts: a concurrent delivery that found the payment credited already says DUPLICATE.
    await this.db
      .globalEm()
      .execute(
        'update stripe_event set status = ?, tenant_id = ?, result = ?::jsonb, error = null, processed_at = ? where id = ? and status = ?',
        [status, tenantId, JSON.stringify(result), this.clock.now(), eventId, StripeEventStatus.RECEIVED],
        'run',
      );
  }

  private async process(event: Stripe.Event): Promise<Handled> {
    const object: unknown = event.data?.object;
    const at = new Date(event.created * 1000);
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return this.checkoutPaid(event, checkoutSessionSchema.parse(object), at);
      case 'checkout.session.expired':
        return this.checkoutExpired(checkoutSessionSchema.parse(object));
      case 'payment_intent.succeeded':
        return this.paymentIntentSucceeded(event, paymentIntentSchema.parse(object));
      case 'payment_intent.payment_failed':
        return this.paymentIntentFailed(paymentIntentSchema.parse(object));
      case 'charge.refunded':
        return this.chargeRefunded(event, chargeSchema.parse(object));
      default:
        return { status: StripeEventStatus.IGNORED, result: { reason: `event type ${event.type} is not handled` } };
    }
  }

  private async checkoutPaid(event: Stripe.Event, session: z.output<typeof checkoutSessionSchema>, at: Date): Promise<Handled> {
    const tenant = this.tenantOf(session.metadata, event);
    if ('ignored' in tenant) return ignored(tenant.ignored);
    if (session.mode && session.mode !== 'payment') return ignored(`checkout mode ${session.mode}`, tenant.tenantId);
    if (session.payment_status !== 'paid')
      return ignored(`payment status ${session.payment_status ?? 'unknown'}: credited when the payment succeeds`, tenant.tenantId);
    if (!session.payment_intent || session.amount_total === null || session.amount_total === undefined || !session.currency) {
      return ignored('a paid session without payment intent or amount', tenant.tenantId);
    }
    return this.credit(tenant.tenantId, {
      tenantId: tenant.tenantId,
      paymentIntentId: session.payment_intent,
      amountMinor: BigInt(session.amount_total),
      currency: session.currency.toUpperCase(),
      occurredAt: at,
      announcedBy: event.type,
      eventId: event.id,
      checkoutSessionId: session.id,
      topUpId: uuidOrNull(session.metadata?.['topUpId']),
    });
  }

  private async paymentIntentSucceeded(event: Stripe.Event, intent: z.output<typeof paymentIntentSchema>): Promise<Handled> {
    const tenant = this.tenantOf(intent.metadata, event);
    if ('ignored' in tenant) return ignored(tenant.ignored);
    return this.credit(tenant.tenantId, {
      tenantId: tenant.tenantId,
      paymentIntentId: intent.id,
      amountMinor: BigInt(intent.amount_received ?? intent.amount),
      currency: intent.currency.toUpperCase(),
      occurredAt: new Date(intent.created * 1000),
      announcedBy: event.type,
      eventId: event.id,
      topUpId: uuidOrNull(intent.metadata?.['topUpId']),
      autoTopUpAttemptId: uuidOrNull(intent.metadata?.['autoTopUpAttemptId']),
    });
  }

  private async credit(tenantId: string, credit: PaymentCredit): Promise<Handled> {
    const result = await this.credits.creditPayment(credit);
    return {
      status: StripeEventStatus.PROCESSED,
      tenantId,
      result: { credit: result.status, entryId: result.entry.id, amountMinor: result.entry.amountMinor.toString(), currency: result.entry.currency },
    };
  }

  private async checkoutExpired(session: z.output<typeof checkoutSessionSchema>): Promise<Handled> {
    const tenantId = session.metadata?.['tenantId'];
    const topUpId = uuidOrNull(session.metadata?.['topUpId']);
    if (!tenantId || !isUuid(tenantId) || !topUpId) return ignored('not a Saldo top-up');
    const now = this.clock.now();
    const placed = await this.db.forTenantIfPlaced(tenantId, async (em) => {
      await em.execute(
        'update top_up set status = ?, updated_at = ? where id = ? and tenant_id = ? and status in (?, ?)',
        [TopUpStatus.EXPIRED, now, topUpId, tenantId, TopUpStatus.PENDING, TopUpStatus.OPEN],
        'run',
      );
      return true;
    });
    if (!placed) return ignored('unknown tenant', null);
    return { status: StripeEventStatus.PROCESSED, tenantId, result: { topUpId, expired: true } };
  }

  private async paymentIntentFailed(intent: z.output<typeof paymentIntentSchema>): Promise<Handled> {
    const tenantId = intent.metadata?.['tenantId'];
    const attemptId = uuidOrNull(intent.metadata?.['autoTopUpAttemptId']);
    if (intent.metadata?.['kind'] !== PaymentKind.AutoTopUp || !tenantId || !isUuid(tenantId) || !attemptId) {
      return ignored('only auto-top-up payment failures are acted upon (a Checkout payer retries on the page)');
    }
    const failed = await this.autoTopUp.failById(tenantId, attemptId, {
      code: intent.last_payment_error?.code ?? 'payment_failed',
      declineCode: intent.last_payment_error?.decline_code ?? null,
      message: intent.last_payment_error?.message ?? 'The payment failed.',
      paymentIntentId: intent.id,
    });
    return { status: StripeEventStatus.PROCESSED, tenantId, result: { attemptId, failed } };
  }

  private async chargeRefunded(event: Stripe.Event, charge: z.output<typeof chargeSchema>): Promise<Handled> {
    if (!charge.payment_intent) return ignored('a refunded charge without payment intent');
    let metadata = charge.metadata;
    if (!metadata?.['tenantId']) {
      // Charges do not always carry their PaymentIntent's metadata: ask Stripe for it.
      metadata = (await this.stripe!.retrievePaymentIntent(charge.payment_intent)).metadata ?? null;
    }
    const tenant = this.tenantOf(metadata, event);
    if ('ignored' in tenant) return ignored(tenant.ignored);
    const refunds =
      charge.refunds && !charge.refunds.has_more
        ? charge.refunds.data.map((refund) => ({
            id: refund.id,
            amountMinor: BigInt(refund.amount),
            currency: refund.currency.toUpperCase(),
            status: refund.status ?? 'pending',
            created: refund.created,
          }))
        : await this.stripe!.refundsOfCharge(charge.id);
    const currency = charge.currency.toUpperCase();
    const result = await this.credits.applyRefunds({
      tenantId: tenant.tenantId,
      paymentIntentId: charge.payment_intent,
      chargeId: charge.id,
      eventId: event.id,
      refunds,
      payment: {
        tenantId: tenant.tenantId,
        paymentIntentId: charge.payment_intent,
        amountMinor: BigInt(charge.amount_captured ?? charge.amount),
        currency,
        occurredAt: new Date(charge.created * 1000),
        announcedBy: event.type,
        eventId: event.id,
        topUpId: uuidOrNull(metadata?.['topUpId']),
        autoTopUpAttemptId: uuidOrNull(metadata?.['autoTopUpAttemptId']),
      },
    });
    return {
      status: StripeEventStatus.PROCESSED,
      tenantId: tenant.tenantId,
      result: {
        posted: result.posted.map((entry) => ({ entryId: entry.id, type: entry.type, amountMinor: entry.amountMinor.toString() })),
        duplicateRefunds: result.duplicates,
      },
    };
  }

  private tenantOf(metadata: Record<string, string> | null | undefined, event: Stripe.Event): { tenantId: string } | { ignored: string } {
    const tenantId = metadata?.['tenantId'];
    if (!tenantId) return { ignored: 'no metadata.tenantId: not a Saldo payment' };
    if (!isUuid(tenantId)) {
      this.logger.warn('Stripe webhook with a malformed metadata.tenantId; ignored', { event: event.id, type: event.type });
      return { ignored: 'metadata.tenantId is not a UUID' };
    }
    return { tenantId };
  }
}

function ignored(reason: string, tenantId: string | null = null): Handled {
  return { status: StripeEventStatus.IGNORED, tenantId, result: { reason } };
}

function uuidOrNull(value: string | undefined): string | null {
  return value && isUuid(value) ? value : null;
}
