import type { EntityManager } from '@mikro-orm/postgresql';
import { AutoTopUpSucceeded, outboxRow, type OutboxRow } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { convertMinor, fxRecord, rateFromRecord, type ExchangeRate, type ExchangeRateProvider, type FxRecord } from '../domain/fx.js';
import { netShare, type TaxRecord } from '../domain/tax.js';
import { AutoTopUpAttemptStatus } from '../entities/auto-top-up.js';
import { LedgerEntryType, type LedgerEntry, type LedgerService, type PostingEntryInput, type PostingOutcome } from '../../ledger/index.js';
import { TopUpStatus } from '../entities/top-up.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import { SYSTEM_CLOCK, type Clock } from '../../shared/clock.js';

/** The ledger key of a Stripe payment: one credit per PaymentIntent, whichever event or worker announces it. */
export function paymentKey(paymentIntentId: string): string {
  return `stripe:pi:${paymentIntentId}`;
}

/** The ledger key of a Stripe refund: one REFUND entry per refund id. */
export function refundKey(refundId: string): string {
  return `stripe:re:${refundId}`;
}

/** A payment Stripe says succeeded, to be credited to a tenant's balance. */
export interface PaymentCredit {
  tenantId: string;
  paymentIntentId: string;
  /** What was paid, in `currency` (Stripe's amount_total / amount_received). */
  amountMinor: bigint;
  /** ISO 4217, upper case. */
  currency: string;
  /** When Stripe recorded the payment. */
  occurredAt: Date;
  /** Who announced it: a webhook event (`checkout.session.completed`, ...) or the auto-top-up worker. */
  announcedBy: string;
  eventId?: string | null;
  checkoutSessionId?: string | null;
  topUpId?: string | null;
  autoTopUpAttemptId?: string | null;
}

export interface CreditResult {
  /** CREDITED: this call appended the entry; DUPLICATE: the payment was credited before (by any path). */
  status: 'CREDITED' | 'DUPLICATE';
  entry: LedgerEntry;
}

export interface RefundSet {
  tenantId: string;
  paymentIntentId: string;
  chargeId: string;
  /** The charge as paid: what an implied credit books when the refund arrives before the payment's own event. */
  payment: PaymentCredit;
  /** Every refund of the charge (any order); failed and canceled ones are left out. */
  refunds: ReadonlyArray<{ id: string; amountMinor: bigint; currency: string; status: string; created: number }>;
  eventId?: string | null;
}

export interface RefundResult {
  /** REFUND entries this call appended (and the implied credit, when it was missing). */
  posted: LedgerEntry[];
  /** Refund ids booked before. */
  duplicates: string[];
}

/**
 * The one path by which Stripe money reaches the ledger: checkout and payment-intent webhooks and the auto-top-up
 * worker credit here, refunds debit here, all through `LedgerService.post` with keys namespaced by Stripe object
 * (`stripe:pi:<payment intent>`, `stripe:re:<refund>`). Exactly once follows from the ledger: postings to one
 * account serialize on its row and a key posted before appends nothing, however many deliveries race.
 *
 * A payment in another currency than the account's is converted at the rate quoted when the top-up was created (the
 * payer saw it), else at the exchange-rate provider's current rate; the entry's metadata keeps the rate, its source
 * and the original amount. Refunds convert at the rate their payment was credited at.
 */
export class PaymentCreditService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly ledger: LedgerService,
    private readonly exchangeRates: ExchangeRateProvider,
    private readonly logger: Logger,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {}

  async creditPayment(credit: PaymentCredit): Promise<CreditResult> {
    const accountCurrency = await this.accountCurrency(credit.tenantId);
    const entry = await this.creditEntry(credit, accountCurrency);
    const outcome = await this.ledger.post({
      tenantId: credit.tenantId,
      currency: accountCurrency,
      entries: [entry],
      withinTransaction: (tx, posted) => this.markPaid(tx, credit, posted),
      // Whichever path credits an auto-top-up first (worker or webhook) announces it; a repeat posts nothing.
      announce: (posted) => (credit.autoTopUpAttemptId ? [autoTopUpSucceeded(credit, credit.autoTopUpAttemptId, posted)] : []),
    });
    const key = paymentKey(credit.paymentIntentId);
    const own = outcome.posted.find((row) => row.idempotencyKey === key);
    if (own) {
      this.logger.info('credited Stripe payment', {
        tenant: credit.tenantId,
        paymentIntent: credit.paymentIntentId,
        amountMinor: own.amountMinor.toString(),
        currency: own.currency,
        by: credit.announcedBy,
      });
      return { status: 'CREDITED', entry: own };
    }
    const original = outcome.duplicates.get(key)!;
    // The first credit marked its top-up / attempt in its own transaction; this is only for a credit that arrived
    // through a path that did not know them (e.g. payment_intent.succeeded before the top-up row was linked).
    await this.markPaidAfterwards(credit, original);
    return { status: 'DUPLICATE', entry: original };
  }

  /**
   * Books a charge's refunds as REFUND entries (overdraft ignored: the money already left), one per refund id.
   * When the refund is processed before the payment's own success event (Stripe does not order deliveries), the
   * payment is credited in the same posting: a refund proves the payment, and the later success event then finds
   * its key and credits nothing.
   */
  async applyRefunds(set: RefundSet): Promise<RefundResult> {
    const accountCurrency = await this.accountCurrency(set.tenantId);
    const existing = await this.ledger.entryByKey(set.tenantId, paymentKey(set.paymentIntentId));
    const credit = existing ? null : await this.creditEntry(set.payment, accountCurrency);
    // The rate of the credit (booked or about to be): refunds must take back what was credited, not more or less.
    const fx = ((existing?.metadata?.['fx'] ?? credit?.metadata?.['fx']) as FxRecord | null | undefined) ?? null;
    const rate = fx ? rateFromRecord(fx) : null;
    // With VAT charged on top, the balance got the net: a refund of the gross takes back the net in proportion.
    const tax = ((existing?.metadata?.['tax'] ?? credit?.metadata?.['tax']) as TaxRecord | null | undefined) ?? null;

    // Cumulative conversion: refund i books convert(r1 + ... + ri) - convert(r1 + ... + ri-1), so partial refunds
    // add up to exactly the converted total and a full refund takes back exactly the credit.
    const counted = set.refunds
      .filter((refund) => refund.status === 'succeeded' || refund.status === 'pending')
      .slice()
      .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1));
    const entries: PostingEntryInput[] = credit ? [credit] : [];
    let paidSoFar = 0n;
    let bookedSoFar = 0n;
    for (const refund of counted) {
      if (refund.currency !== set.payment.currency) throw new Error(`refund ${refund.id} is in ${refund.currency}, its charge in ${set.payment.currency}`);
      paidSoFar += refund.amountMinor;
      const netSoFar = tax ? netShare(paidSoFar, tax) : paidSoFar;
      const cumulative = rate ? convertMinor(netSoFar, rate) : netSoFar;
      const amount = cumulative - bookedSoFar;
      bookedSoFar = cumulative;
      if (amount <= 0n) continue;
      entries.push({
        type: LedgerEntryType.REFUND,
        amountMinor: -amount,
        idempotencyKey: refundKey(refund.id),
        externalRef: refund.id,
        occurredAt: new Date(refund.created * 1000),
        description: 'Refund via Stripe',
        metadata: {
          stripe: { refundId: refund.id, chargeId: set.chargeId, paymentIntentId: set.paymentIntentId, eventId: set.eventId ?? null },
          paid: { amountMinor: (-refund.amountMinor).toString(), currency: refund.currency },
          fx: rate && fx ? { ...fx, originalAmountMinor: (-refund.amountMinor).toString(), convertedAmountMinor: (-amount).toString() } : null,
        },
      });
    }
    if (entries.length === 0) return { posted: [], duplicates: [] };
    const outcome = await this.ledger.post({
      tenantId: set.tenantId,
      currency: accountCurrency,
      entries,
      overdraft: 'ignore',
      withinTransaction: (tx, posted) => (credit ? this.markPaid(tx, set.payment, posted) : undefined),
    });
    const duplicates = [...outcome.duplicates.keys()].filter((key) => key.startsWith('stripe:re:')).map((key) => key.slice('stripe:re:'.length));
    if (outcome.posted.length > 0) {
      this.logger.info('booked Stripe refunds', {
        tenant: set.tenantId,
        paymentIntent: set.paymentIntentId,
        entries: outcome.posted.length,
        impliedCredit: Boolean(credit && outcome.posted.some((row) => row.type === LedgerEntryType.TOP_UP)),
      });
    }
    return { posted: outcome.posted, duplicates };
  }

  /** The account's currency, or ACCOUNT_NOT_FOUND (the webhook layer reports that as an unknown tenant). */
  private async accountCurrency(tenantId: string): Promise<string> {
    const currency = await this.ledger.currencyOf(tenantId);
    if (!currency) throw billingError(BillingErrorCode.AccountNotFound, `Billing holds no account for tenant ${tenantId}.`, { tenantId });
    return currency;
  }

  /** The TOP_UP entry for a payment, converted to the account's currency when needed. */
  private async creditEntry(credit: PaymentCredit, accountCurrency: string): Promise<PostingEntryInput> {
    // VAT charged on top is not credit: the balance gets the net price the top-up was quoted at.
    const taxed = await this.taxedPayment(credit);
    const base = taxed ? taxed.netMinor : credit.amountMinor;
    let amountMinor = base;
    let fx: FxRecord | null = null;
    if (credit.currency !== accountCurrency) {
      const rate = (await this.quotedRate(credit, accountCurrency)) ?? (await this.exchangeRates.rate(credit.currency, accountCurrency, credit.occurredAt));
      if (!rate) {
        throw billingError(BillingErrorCode.ExchangeRateNotFound, `No exchange rate from ${credit.currency} to ${accountCurrency}.`, {
          from: credit.currency,
          to: accountCurrency,
        });
      }
      amountMinor = convertMinor(base, rate);
      fx = fxRecord(rate, base, amountMinor);
    }
    if (amountMinor <= 0n)
      throw billingError(BillingErrorCode.InvalidAmount, `Payment ${credit.paymentIntentId} credits nothing (${credit.amountMinor} ${credit.currency}).`);
    return {
      type: LedgerEntryType.TOP_UP,
      amountMinor,
      idempotencyKey: paymentKey(credit.paymentIntentId),
      externalRef: credit.paymentIntentId,
      occurredAt: credit.occurredAt,
      description: credit.autoTopUpAttemptId ? 'Automatic top-up via Stripe' : 'Top-up via Stripe',
      metadata: {
        stripe: {
          paymentIntentId: credit.paymentIntentId,
          checkoutSessionId: credit.checkoutSessionId ?? null,
          eventId: credit.eventId ?? null,
          announcedBy: credit.announcedBy,
        },
        topUpId: credit.topUpId ?? null,
        autoTopUpAttemptId: credit.autoTopUpAttemptId ?? null,
        paid: { amountMinor: credit.amountMinor.toString(), currency: credit.currency },
        fx,
        tax: taxed?.tax ?? null,
      },
    };
  }

  /**
   * The VAT quote a payment was charged under (the top-up's or the automatic attempt's), when the payment is exactly
   * its net + VAT; null for a payment without one (its whole amount is credit, as before VAT on top).
   */
  private async taxedPayment(credit: PaymentCredit): Promise<{ netMinor: bigint; tax: TaxRecord } | null> {
    const table = credit.topUpId ? 'top_up' : credit.autoTopUpAttemptId ? 'auto_top_up_attempt' : null;
    if (!table) return null;
    const located = await this.db.emForTenant(credit.tenantId);
    if (!located) return null;
    const [row] = await located.em.execute<{ amount_minor: string; currency: string; tax_minor: string; tax: TaxRecord | null }[]>(
      `select amount_minor, currency, tax_minor, tax from ${table} where id = ? and tenant_id = ?`,
      [credit.topUpId ?? credit.autoTopUpAttemptId, credit.tenantId],
    );
    if (
      !row?.tax ||
      row.tax.category === 'NONE' ||
      row.currency.trim() !== credit.currency ||
      BigInt(row.amount_minor) + BigInt(row.tax_minor) !== credit.amountMinor
    )
      return null;
    return { netMinor: BigInt(row.amount_minor), tax: row.tax };
  }

  /** The conversion quoted on the top-up the payer saw, when this payment is that top-up, unchanged. */
  private async quotedRate(credit: PaymentCredit, accountCurrency: string): Promise<ExchangeRate | null> {
    if (!credit.topUpId) return null;
    const located = await this.db.emForTenant(credit.tenantId);
    if (!located) return null;
    const [row] = await located.em.execute<{ amount_minor: string; tax_minor: string; currency: string; credit_currency: string; fx: FxRecord | null }[]>(
      'select amount_minor, tax_minor, currency, credit_currency, fx from top_up where id = ? and tenant_id = ?',
      [credit.topUpId, credit.tenantId],
    );
    if (
      !row?.fx ||
      row.currency !== credit.currency ||
      row.credit_currency !== accountCurrency ||
      BigInt(row.amount_minor) + BigInt(row.tax_minor) !== credit.amountMinor
    )
      return null;
    return rateFromRecord(row.fx);
  }

  /** In the credit's transaction: the top-up is COMPLETED, the auto-top-up attempt SUCCEEDED and its rule reset. */
  private async markPaid(tx: EntityManager, credit: PaymentCredit, outcome: PostingOutcome): Promise<void> {
    const entry = outcome.posted.find((row) => row.idempotencyKey === paymentKey(credit.paymentIntentId));
    if (!entry) return;
    await this.markTopUpAndAttempt(tx, credit, entry.id);
  }

  private async markPaidAfterwards(credit: PaymentCredit, entry: LedgerEntry): Promise<void> {
    if (!credit.topUpId && !credit.autoTopUpAttemptId) return;
    await this.db.forTenantIfPlaced(credit.tenantId, (em) => em.transactional((tx) => this.markTopUpAndAttempt(tx, credit, entry.id)));
  }

  private async markTopUpAndAttempt(tx: EntityManager, credit: PaymentCredit, entryId: string): Promise<void> {
    const now = this.clock.now();
    if (credit.topUpId) {
      await tx.execute(
        `update top_up set status = ?, payment_intent_id = ?, ledger_entry_id = ?, completed_at = ?, updated_at = ?
          where id = ? and tenant_id = ? and status <> ?`,
        [TopUpStatus.COMPLETED, credit.paymentIntentId, entryId, now, now, credit.topUpId, credit.tenantId, TopUpStatus.COMPLETED],
        'run',
      );
    }
    if (credit.autoTopUpAttemptId) {
      const updated = (await tx.execute(
        `update auto_top_up_attempt set status = ?, payment_intent_id = ?, ledger_entry_id = ?, completed_at = ?, updated_at = ?, failure_code = null, failure_message = null
          where id = ? and tenant_id = ? and status <> ?`,
        [
          AutoTopUpAttemptStatus.SUCCEEDED,
          credit.paymentIntentId,
          entryId,
          now,
          now,
          credit.autoTopUpAttemptId,
          credit.tenantId,
          AutoTopUpAttemptStatus.SUCCEEDED,
        ],
        'run',
      )) as unknown as { affectedRows: number };
      if (updated.affectedRows > 0) {
        await tx.execute(
          'update auto_top_up_rule set consecutive_failures = 0, backoff_until = null, retry_pending = false, updated_at = ? where tenant_id = ?',
          [now, credit.tenantId],
          'run',
        );
      }
    }
  }
}

/** `auto_top_up.succeeded` for the posting that credited an automatic top-up. */
function autoTopUpSucceeded(credit: PaymentCredit, attemptId: string, posted: PostingOutcome): OutboxRow {
  const entry = posted.posted.at(-1)!;
  return outboxRow(
    AutoTopUpSucceeded,
    credit.tenantId,
    {
      tenantId: credit.tenantId,
      attemptId,
      amountMinor: entry.amountMinor.toString(),
      currency: posted.currency,
      balanceMinor: posted.balance.available.amountMinor.toString(),
      paymentIntentId: credit.paymentIntentId,
      succeededAt: entry.createdAt.toISOString(),
    },
    entry.createdAt,
  );
}
