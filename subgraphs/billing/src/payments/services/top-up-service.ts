import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Money } from '@saldo/money';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { NO_TAX, taxRecord, type TaxQuoter, type TaxRecord } from '../domain/tax.js';
import { convertMinor, formatRate, fxRecord, type ExchangeRateProvider, type FxRecord } from '../domain/fx.js';
import type { TopUpLimits } from '../domain/top-up-limits.js';
import { TopUp, TopUpStatus } from '../entities/top-up.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import type { TenantLock } from '../locks/tenant-lock.js';
import { paymentProviderError, type StripeGateway } from '../stripe/stripe-gateway.js';
import type { LedgerService } from '../../ledger/index.js';
import { parseCreateTopUp, type CreateTopUpCommand } from './inputs.js';
import { resolveReturnUrls, type ReturnUrls } from '../domain/return-urls.js';
import { SYSTEM_CLOCK, type Clock } from '../../shared/clock.js';

export interface TopUpServiceOptions {
  limits: TopUpLimits;
  /** VAT on top of the credit (documents module); NO_TAX while no seller of record is configured. */
  tax?: TaxQuoter;
  /** Lease of the per-tenant lock (TOPUP_LOCK_TTL_MS); also how long a caller waits for a same-key twin in flight. */
  lockTtlMs: number;
}

/** A top-up as the API shows it. */
export type TopUpView = TopUp;

/** The lock resource of a tenant's top-ups. */
export function topUpLockResource(tenantId: string): string {
  return `topup:${tenantId}`;
}

/**
 * Manual top-ups through Stripe Checkout. `createTopUp` validates (limits per currency, a rate when the payer's
 * currency is not the account's), records the request in `top_up` keyed by (tenant, idempotency key) and creates
 * the Checkout Session with a Stripe idempotency key derived from ours:
 *
 * - the same key returns the same row, so the same session, also when 50 calls with it arrive at once (one of them
 *   creates it under the tenant's lock, the others wait for it);
 * - while one top-up of a tenant is being created, another one with a different key gets TOPUP_IN_PROGRESS (the
 *   per-tenant lock, Redis in the full stack); an open, unpaid session does not block a new top-up;
 * - money is credited later, by the webhook, through PaymentCreditService.
 */
export class TopUpService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly ledger: LedgerService,
    private readonly stripe: StripeGateway | null,
    private readonly lock: TenantLock,
    private readonly exchangeRates: ExchangeRateProvider,
    private readonly options: TopUpServiceOptions,
    private readonly logger: Logger,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {}

  /** `hostName`: the custom domain the request came through (Identity.hostName), where input.returnOrigin may point. */
  async createTopUp(input: unknown, caller: { hostName?: string } = {}): Promise<TopUpView> {
    const command = parseCreateTopUp(input, this.options.limits);
    if (!this.stripe) throw stripeNotConfigured();
    const returnUrls = resolveReturnUrls(this.stripe.returnUrls, command.returnOrigin, caller.hostName);
    const accountCurrency = await this.ledger.currencyOf(command.tenantId);
    const notFound = () =>
      billingError(BillingErrorCode.AccountNotFound, `Billing holds no account for tenant ${command.tenantId} (yet).`, { tenantId: command.tenantId });
    if (!accountCurrency) throw notFound();
    // Idempotent by its key (and Stripe's): refused because the tenant moved shards meanwhile, it runs again on the new one.
    const created = await this.db.forTenantIfPlaced(command.tenantId, (em) => this.createOnShard(em, command, accountCurrency, returnUrls));
    if (!created) throw notFound();
    return created;
  }

  private async createOnShard(em: EntityManager, command: CreateTopUpCommand, accountCurrency: string, returnUrls: ReturnUrls): Promise<TopUpView> {
    const existing = await this.find(em, command);
    if (existing?.checkoutSessionId) return existing;

    const resource = topUpLockResource(command.tenantId);
    const owner = createHash('sha256').update(command.idempotencyKey).digest('hex').slice(0, 32);
    const deadline = Date.now() + this.options.lockTtlMs;
    for (;;) {
      const lease = await this.lock.tryAcquire(resource, owner, this.options.lockTtlMs);
      if (lease) {
        try {
          return await this.createUnderLock(em, command, accountCurrency, returnUrls);
        } finally {
          await lease.release();
        }
      }
      const holder = await this.lock.holder(resource);
      if (holder !== null && holder !== owner) {
        throw billingError(BillingErrorCode.TopUpInProgress, 'Another top-up of this tenant is being created; try again in a moment.', {
          tenantId: command.tenantId,
        });
      }
      // The same key is in flight elsewhere (or the lock was just released): its session is about to exist.
      const twin = await this.find(em, command);
      if (twin?.checkoutSessionId) return twin;
      if (Date.now() > deadline) {
        throw billingError(BillingErrorCode.TopUpInProgress, 'This top-up is still being created; retry with the same idempotency key.', {
          tenantId: command.tenantId,
        });
      }
      await sleep(holder === null ? 5 : 25);
    }
  }

  /** Top-ups of a tenant by id (GraphQL reads, tests). */
  async get(tenantId: string, id: string): Promise<TopUpView | null> {
    const located = await this.db.emForTenant(tenantId);
    return located ? located.em.findOne(TopUp, { id, tenantId }) : null;
  }

  private async createUnderLock(em: EntityManager, command: CreateTopUpCommand, accountCurrency: string, returnUrls: ReturnUrls): Promise<TopUpView> {
    let row = await this.find(em, command);
    if (row?.checkoutSessionId) return row;
    if (!row) row = await this.insert(em, command, accountCurrency);

    const credit = Money.of(row.creditAmountMinor, row.creditCurrency);
    const tax = row.tax as TaxRecord | null;
    const vat = tax && row.taxMinor > 0n ? ` + VAT ${formatBasisPoints(tax.basisPoints)} % ${Money.of(row.taxMinor, row.currency).toString()}` : '';
    const description =
      row.currency === row.creditCurrency
        ? `Credit ${credit.toString()} to your prepaid balance${vat}`
        : `Credit ${credit.toString()} to your prepaid balance (rate ${String((row.fx as FxRecord | null)?.rate)})${vat}`;
    let session;
    try {
      session = await this.stripe!.createCheckoutSession({
        tenantId: row.tenantId,
        topUpId: row.id,
        idempotencyKey: row.idempotencyKey,
        // What the payer pays: the credit's price plus VAT on top.
        amountMinor: row.amountMinor + row.taxMinor,
        currency: row.currency,
        description,
        returnUrls,
      });
    } catch (error) {
      // The row stays PENDING: the same key retried later creates the session (Stripe replays it within 24 h).
      this.logger.warn('creating a Checkout Session failed', { tenant: row.tenantId, topUp: row.id, error: (error as Error).message });
      throw paymentProviderError(error);
    }
    const now = this.clock.now();
    await em.execute(
      `update top_up set status = ?, checkout_session_id = ?, checkout_url = ?, expires_at = ?, updated_at = ?
        where id = ? and checkout_session_id is null and status = ?`,
      [TopUpStatus.OPEN, session.id, session.url, session.expiresAt, now, row.id, TopUpStatus.PENDING],
      'run',
    );
    this.logger.info('created top-up', {
      tenant: row.tenantId,
      topUp: row.id,
      session: session.id,
      amount: Money.of(row.amountMinor, row.currency).toString(),
    });
    return (await this.find(em, command))!;
  }

  /** Records the request (nothing is written for invalid input: every check above ran first). */
  private async insert(em: EntityManager, command: CreateTopUpCommand, accountCurrency: string): Promise<TopUp> {
    const { amountMinor, currency } = command.amount;
    let creditAmountMinor = amountMinor;
    let fx: FxRecord | null = null;
    if (currency !== accountCurrency) {
      const rate = await this.exchangeRates.rate(currency, accountCurrency, this.clock.now());
      if (!rate) {
        throw billingError(
          BillingErrorCode.ExchangeRateNotFound,
          `No exchange rate from ${currency} to ${accountCurrency}, the account's currency: pay in ${accountCurrency}.`,
          {
            field: 'amount.currency',
            from: currency,
            to: accountCurrency,
          },
        );
      }
      creditAmountMinor = convertMinor(amountMinor, rate);
      if (creditAmountMinor <= 0n)
        throw billingError(
          BillingErrorCode.AmountTooSmall,
          `${Money.of(amountMinor, currency).toString()} converts to nothing at ${formatRate(rate.rateScaled)}.`,
          { field: 'amount.amountMinor' },
        );
      fx = fxRecord(rate, amountMinor, creditAmountMinor);
    }
    const now = this.clock.now();
    const quote = await (this.options.tax ?? NO_TAX)(command.tenantId, amountMinor, currency, now);
    await em.execute(
      `insert into top_up (id, tenant_id, idempotency_key, status, amount_minor, currency, credit_amount_minor, credit_currency, fx, tax_minor, tax, created_at, updated_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?, ?)
       on conflict (tenant_id, idempotency_key) do nothing`,
      [
        uuidv7(),
        command.tenantId,
        command.idempotencyKey,
        TopUpStatus.PENDING,
        amountMinor,
        currency,
        creditAmountMinor,
        accountCurrency,
        fx ? JSON.stringify(fx) : null,
        quote?.vatMinor ?? 0n,
        quote ? JSON.stringify(taxRecord(quote)) : null,
        now,
        now,
      ],
      'run',
    );
    // Another instance may have inserted it first (the lock fails open without Redis): whichever row won is the one.
    return (await this.find(em, command))!;
  }

  /** The request's row, checked to carry the same parameters (IDEMPOTENCY_KEY_REUSED otherwise). */
  private async find(em: EntityManager, command: CreateTopUpCommand): Promise<TopUp | null> {
    const row = await em.fork().findOne(TopUp, { tenantId: command.tenantId, idempotencyKey: command.idempotencyKey });
    if (row && (row.amountMinor !== command.amount.amountMinor || row.currency !== command.amount.currency)) {
      throw billingError(
        BillingErrorCode.IdempotencyKeyReused,
        `Idempotency key ${command.idempotencyKey} was used for a top-up of ${Money.of(row.amountMinor, row.currency).toString()}; use a new key for a different amount.`,
        { field: 'idempotencyKey' },
      );
    }
    return row;
  }
}

export function stripeNotConfigured() {
  return billingError(
    BillingErrorCode.StripeNotConfigured,
    'Top-ups are unavailable: this billing deployment has no Stripe account configured (STRIPE_SECRET_KEY).',
  );
}

/** 1900 -> "19", 2550 -> "25.5" */
function formatBasisPoints(basisPoints: number): string {
  const fraction = String(basisPoints % 100)
    .padStart(2, '0')
    .replace(/0+$/, '');
  return fraction ? `${Math.trunc(basisPoints / 100)}.${fraction}` : String(Math.trunc(basisPoints / 100));
}
