import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { AutoTopUpChanged, AutoTopUpFailed, enqueueEvent, type OutboxRelay } from '@saldo/events';
import { ErrorCode } from '@saldo/graphql';
import { Money } from '@saldo/money';
import { NO_TAX, taxRecord, type TaxQuoter, type TaxRecord } from '../domain/tax.js';
import { WorkLoop, type Logger } from '@saldo/service';
import { isTenantMoved, type ShardedDatabase, type ShardId } from '@saldo/sharding';
import type { TopUpLimits } from '../domain/top-up-limits.js';
import { AutoTopUpAttempt, AutoTopUpAttemptStatus, AutoTopUpMode, AutoTopUpRule } from '../entities/auto-top-up.js';
import { LedgerEntryType, type LedgerService, type PostingOutcome } from '../../ledger/index.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import { resolveReturnUrls } from '../domain/return-urls.js';
import { isTransientStripeError, paymentProviderError, type SavedPaymentMethod, type StripeGateway } from '../stripe/stripe-gateway.js';
import { parseSetAutoTopUp } from './inputs.js';
import type { PaymentCreditService } from './payment-credit-service.js';
import { SYSTEM_CLOCK, type Clock } from '../../shared/clock.js';
import { stripeNotConfigured } from './top-up-service.js';

export interface AutoTopUpOptions {
  limits: TopUpLimits;
  backoffBaseSeconds: number;
  backoffMaxSeconds: number;
  pollIntervalMs: number;
  /** Retry delay of an attempt whose Stripe call failed transiently. */
  retrySeconds: number;
  /** How long a claimed attempt stays with its worker before another may take it over (same idempotency key). */
  claimLeaseMs?: number;
  /** VAT on top of the credit (documents module); NO_TAX while no seller of record is configured. */
  tax?: TaxQuoter;
}

/** Wait after the n-th decline in a row: base x 2^(n-1), capped. */
export function backoffSeconds(consecutiveFailures: number, baseSeconds: number, maxSeconds: number): number {
  const exponent = Math.min(Math.max(consecutiveFailures - 1, 0), 30);
  return Math.min(maxSeconds, baseSeconds * 2 ** exponent);
}

interface RuleRow {
  tenant_id: string;
  enabled: boolean;
  threshold_minor: string;
  mode: AutoTopUpMode;
  amount_minor: string;
  currency: string;
  daily_cap_minor: string;
  stripe_customer_id: string;
  stripe_payment_method_id: string;
  consecutive_failures: number;
  backoff_until_ms: string | null;
  retry_pending: boolean;
}

interface AttemptRow {
  id: string;
  tenant_id: string;
  trigger_version: number;
  status: AutoTopUpAttemptStatus;
  amount_minor: string;
  currency: string;
  stripe_customer_id: string;
  stripe_payment_method_id: string;
  balance_minor: string;
  tries: number;
  payment_intent_id: string | null;
  tax_minor: string;
  tax: TaxRecord | null;
}

/** A decline or refusal as the attempt and the notification record it. */
interface Failure {
  code: string;
  declineCode: string | null;
  message: string;
  paymentIntentId: string | null;
}

/**
 * Auto-top-up: per-tenant rules, the trigger, and the worker that charges.
 *
 * Trigger: the rule's threshold is the ledger's `auto-top-up` balance watch on the tenant's account (set and cleared
 * with the rule, in the same transaction), so the ledger reads it with the account row it locks for every posting and
 * calls the trigger only for postings that end at or below it; postings of one account reach it one at a time, under
 * the row lock. The ledger never reads this module's tables. A debit posting that takes the balance from
 * above the threshold to at or below it (previousBalance > threshold >= balance) records ONE attempt row in that
 * same transaction: exactly one per crossing, however many debits race, and the attempt exists exactly when the
 * posting committed (outbox style). While the balance stays below the threshold, later debits record nothing, except
 * one retry once a decline's backoff window has passed (or the daily cap has room again).
 *
 * Worker: after commit it is poked (and polls as a safety net), claims due attempts with SKIP LOCKED, and creates an
 * off-session PaymentIntent (confirm, off_session) whose Stripe idempotency key is the attempt id: retries after a
 * crash or a timeout replay Stripe's first answer instead of charging again. Success credits through
 * PaymentCreditService (`stripe:pi:<id>`, the webhook's exactly-once path). A decline marks the attempt FAILED,
 * backs the rule off exponentially and emits `auto_top_up.failed` (notification-events), in one transaction.
 */
export class AutoTopUpService {
  /** The ledger's balance watch holding each enabled rule's threshold. */
  static readonly WATCH = 'auto-top-up';
  /** The worker: poked after commits that recorded an attempt, polling as a safety net. */
  private readonly worker: WorkLoop;
  private readonly claimLeaseMs: number;

  constructor(
    private readonly db: ShardedDatabase,
    private readonly ledger: LedgerService,
    private readonly credits: PaymentCreditService,
    private readonly stripe: StripeGateway | null,
    private readonly relay: Pick<OutboxRelay, 'poke'>,
    private readonly options: AutoTopUpOptions,
    private readonly logger: Logger,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {
    ledger.onBalanceWatch(AutoTopUpService.WATCH, (tx, outcome) => this.onPosting(tx, outcome));
    this.claimLeaseMs = options.claimLeaseMs ?? 120_000;
    this.worker = new WorkLoop({
      name: 'auto-top-up worker',
      pollIntervalMs: options.pollIntervalMs,
      logger,
      pass: async () => {
        const handled = await this.runOnce();
        return { handled, more: handled > 0 };
      },
    });
  }

  // ---- Rules --------------------------------------------------------------------------------------------------

  async getMany(tenantIds: readonly string[]): Promise<Array<AutoTopUpRule | null>> {
    const groups = await this.db.groupByShard(tenantIds);
    const rules = new Map<string, AutoTopUpRule>();
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        for (const rule of await this.db.em(shardId).find(AutoTopUpRule, { tenantId: { $in: ids } })) rules.set(rule.tenantId, rule);
      }),
    );
    return tenantIds.map((tenantId) => rules.get(tenantId) ?? null);
  }

  async get(tenantId: string): Promise<AutoTopUpRule | null> {
    return (await this.getMany([tenantId]))[0] ?? null;
  }

  /**
   * Creates or replaces the tenant's rule and enables it. Setting a rule is the tenant acting (often with a new
   * card), so a previous backoff is cleared. If the balance is already at or below the threshold, the next debit
   * starts an attempt. Serializes with postings on the account row.
   */
  /**
   * Starts the flow in which the tenant saves a card for automatic top-ups: a setup-mode Checkout Session on the
   * tenant's own Stripe customer (created for it). setAutoTopUp then accepts the payment method saved there.
   */
  async createPaymentMethodSetup(
    tenantId: string,
    origin: { returnOrigin?: string | null; hostName?: string } = {},
  ): Promise<{ url: string; stripeCustomerId: string; checkoutSessionId: string; expiresAt: Date | null }> {
    if (!this.stripe) throw stripeNotConfigured();
    const returnUrls = resolveReturnUrls(this.stripe.returnUrls, origin.returnOrigin, origin.hostName);
    const currency = await this.ledger.currencyOf(tenantId);
    if (!currency) throw billingError(BillingErrorCode.AccountNotFound, `Billing holds no account for tenant ${tenantId} (yet).`, { tenantId });
    try {
      const stripeCustomerId = await this.stripe.tenantCustomer(tenantId);
      const session = await this.stripe.createSetupSession(tenantId, stripeCustomerId, currency, returnUrls);
      return { url: session.url, stripeCustomerId, checkoutSessionId: session.id, expiresAt: session.expiresAt };
    } catch (error) {
      throw paymentProviderError(error);
    }
  }

  /**
   * The card saved on one of the tenant's setup sessions (createPaymentMethodSetup), read back from Stripe so the tenant
   * can turn automatic top-up on with it: null while the session is still open; PAYMENT_METHOD_SETUP_NOT_FOUND when it
   * is no setup session of this tenant.
   */
  async savedPaymentMethod(tenantId: string, checkoutSessionId: string): Promise<SavedPaymentMethod | null> {
    if (!this.stripe) throw stripeNotConfigured();
    const notFound = () =>
      billingError(BillingErrorCode.PaymentMethodSetupNotFound, 'No card-saving session of this tenant has that id.', { field: 'checkoutSessionId' });
    if (!/^cs_[A-Za-z0-9_]{1,250}$/.test(checkoutSessionId)) throw notFound();
    let outcome;
    try {
      outcome = await this.stripe.setupOutcome(tenantId, checkoutSessionId);
    } catch (error) {
      throw paymentProviderError(error);
    }
    if (outcome.state === 'not-found') throw notFound();
    return outcome.state === 'saved' ? outcome.method : null;
  }

  async set(input: unknown): Promise<AutoTopUpRule> {
    const command = parseSetAutoTopUp(input, this.options.limits);
    if (!this.stripe) throw stripeNotConfigured();
    // Only a card the tenant saved on its own customer may be charged: asked of Stripe, not taken from the input.
    let owned: boolean;
    try {
      owned = await this.stripe.paymentMethodOwnedBy(command.tenantId, command.stripeCustomerId, command.paymentMethodId);
    } catch (error) {
      throw paymentProviderError(error);
    }
    if (!owned) {
      throw billingError(
        BillingErrorCode.PaymentMethodNotOwned,
        'The payment method is not one this tenant saved on its own Stripe customer (createPaymentMethodSetup); nothing was changed.',
        { field: 'paymentMethodId' },
      );
    }
    await this.ledger.withAccountLocked(command.tenantId, async (tx, account) => {
      if (account.currency !== command.amount.currency) {
        throw billingError(ErrorCode.InvalidCurrency, `amount.currency: the account is kept in ${account.currency}; auto-top-up amounts must be too.`, {
          field: 'amount.currency',
        });
      }
      const now = this.clock.now();
      const below = account.balanceMinor <= command.threshold.amountMinor;
      await tx.execute(
        `insert into auto_top_up_rule (tenant_id, enabled, threshold_minor, mode, amount_minor, currency, daily_cap_minor, stripe_customer_id, stripe_payment_method_id,
                                       consecutive_failures, backoff_until, retry_pending, created_at, updated_at)
         values (?, true, ?, ?, ?, ?, ?, ?, ?, 0, null, ?, ?, ?)
         on conflict (tenant_id) do update set enabled = true, threshold_minor = excluded.threshold_minor, mode = excluded.mode, amount_minor = excluded.amount_minor,
           currency = excluded.currency, daily_cap_minor = excluded.daily_cap_minor, stripe_customer_id = excluded.stripe_customer_id,
           stripe_payment_method_id = excluded.stripe_payment_method_id, consecutive_failures = 0, backoff_until = null,
           retry_pending = excluded.retry_pending, updated_at = excluded.updated_at`,
        [
          command.tenantId,
          command.threshold.amountMinor,
          command.mode,
          command.amount.amountMinor,
          command.amount.currency,
          command.dailyCap.amountMinor,
          command.stripeCustomerId,
          command.paymentMethodId,
          below,
          now,
          now,
        ],
        'run',
      );
      enqueueEvent(tx, AutoTopUpChanged, command.tenantId, {
        tenantId: command.tenantId,
        enabled: true,
        currency: command.amount.currency,
        thresholdMinor: command.threshold.amountMinor.toString(),
        mode: command.mode,
        amountMinor: command.amount.amountMinor.toString(),
        dailyCapMinor: command.dailyCap.amountMinor.toString(),
        paymentMethodId: command.paymentMethodId,
        changedAt: now.toISOString(),
      });
      await this.ledger.setBalanceWatch(command.tenantId, AutoTopUpService.WATCH, command.threshold.amountMinor, tx);
    });
    this.relay.poke();
    return (await this.get(command.tenantId))!;
  }

  /** Disables the rule (kept, so its history and settings remain readable); null when the tenant has none. */
  async disable(tenantId: string): Promise<AutoTopUpRule | null> {
    const now = this.clock.now();
    const placed = await this.db.forTenantIfPlaced(tenantId, (em) =>
      em
        .transactional(async (tx) => {
          const [rule] = await tx.execute<
            Pick<RuleRow, 'threshold_minor' | 'mode' | 'amount_minor' | 'currency' | 'daily_cap_minor' | 'stripe_payment_method_id'>[]
          >(
            `update auto_top_up_rule set enabled = false, retry_pending = false, updated_at = ? where tenant_id = ?
          returning tenant_id, threshold_minor, mode, amount_minor, currency, daily_cap_minor, stripe_payment_method_id`,
            [now, tenantId],
          );
          if (!rule) return;
          await this.ledger.setBalanceWatch(tenantId, AutoTopUpService.WATCH, null, tx);
          enqueueEvent(tx, AutoTopUpChanged, tenantId, {
            tenantId,
            enabled: false,
            currency: rule.currency,
            thresholdMinor: String(rule.threshold_minor),
            mode: rule.mode,
            amountMinor: String(rule.amount_minor),
            dailyCapMinor: String(rule.daily_cap_minor),
            paymentMethodId: rule.stripe_payment_method_id,
            changedAt: now.toISOString(),
          });
        })
        .then(() => true),
    );
    if (!placed) return null;
    this.relay.poke();
    return this.get(tenantId);
  }

  /** The tenant's attempts, newest first (tests, operators). */
  async attempts(tenantId: string): Promise<AutoTopUpAttempt[]> {
    const located = await this.db.emForTenant(tenantId);
    return located ? located.em.find(AutoTopUpAttempt, { tenantId }, { orderBy: { createdAt: 'desc', id: 'desc' } }) : [];
  }

  // ---- Trigger ------------------------------------------------------------------------------------------------

  private async onPosting(tx: EntityManager, outcome: PostingOutcome): Promise<void> {
    const balance = outcome.balance.available.amountMinor;
    const previous = outcome.previousBalance.amountMinor;
    // Only debits can cross downwards; a refund never charges the card it was just paid back to.
    if (balance >= previous || outcome.posted.some((entry) => entry.type === LedgerEntryType.REFUND)) return;
    // The ledger calls this only for postings ending at or below the watch's threshold: most debits never get here.
    const [rule] = await tx.execute<RuleRow[]>(
      `select tenant_id, enabled, threshold_minor, mode, amount_minor, currency, daily_cap_minor, stripe_customer_id, stripe_payment_method_id,
              consecutive_failures, floor(extract(epoch from backoff_until) * 1000)::bigint as backoff_until_ms, retry_pending
         from auto_top_up_rule where tenant_id = ? and enabled`,
      [outcome.tenantId],
    );
    if (!rule || rule.currency !== outcome.currency) return;
    const threshold = BigInt(rule.threshold_minor);
    if (balance > threshold) return;
    const crossed = previous > threshold;
    if (!crossed && !rule.retry_pending) return;

    const now = this.clock.now();
    const owe = async (reason: string) => {
      if (!rule.retry_pending)
        await tx.execute('update auto_top_up_rule set retry_pending = true, updated_at = ? where tenant_id = ?', [now, rule.tenant_id], 'run');
      this.logger.debug('auto-top-up held back', { tenant: rule.tenant_id, reason });
    };
    if (rule.backoff_until_ms !== null && Number(rule.backoff_until_ms) > now.getTime()) return owe('backoff');
    const [inFlight] = await tx.execute<{ id: string }[]>(`select id from auto_top_up_attempt where tenant_id = ? and status in (?, ?) limit 1`, [
      rule.tenant_id,
      AutoTopUpAttemptStatus.PENDING,
      AutoTopUpAttemptStatus.PROCESSING,
    ]);
    if (inFlight) return;

    const limit = this.options.limits[rule.currency];
    if (!limit) return owe('no top-up limits for the currency');
    let amount = rule.mode === AutoTopUpMode.FIXED_AMOUNT ? BigInt(rule.amount_minor) : BigInt(rule.amount_minor) - balance;
    if (amount > limit.maxMinor) amount = limit.maxMinor;
    const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const [used] = await tx.execute<{ total: string }[]>(
      `select coalesce(sum(amount_minor), 0) as total from auto_top_up_attempt
        where tenant_id = ? and created_at >= ? and status in (?, ?, ?)`,
      [rule.tenant_id, dayStart, AutoTopUpAttemptStatus.PENDING, AutoTopUpAttemptStatus.PROCESSING, AutoTopUpAttemptStatus.SUCCEEDED],
    );
    const room = BigInt(rule.daily_cap_minor) - BigInt(used?.total ?? 0);
    if (amount > room) amount = room;
    if (amount < limit.minMinor) return owe('daily cap reached');

    const inserted = (await tx.execute(
      `insert into auto_top_up_attempt (id, tenant_id, trigger_version, status, amount_minor, currency, stripe_customer_id, stripe_payment_method_id,
                                        balance_minor, tries, next_try_at, created_at, updated_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
       on conflict (tenant_id, trigger_version) do nothing`,
      [
        uuidv7(),
        rule.tenant_id,
        outcome.balance.version,
        AutoTopUpAttemptStatus.PENDING,
        amount,
        rule.currency,
        rule.stripe_customer_id,
        rule.stripe_payment_method_id,
        balance,
        now,
        now,
        now,
      ],
      'run',
    )) as unknown as { affectedRows: number };
    if (rule.retry_pending)
      await tx.execute('update auto_top_up_rule set retry_pending = false, updated_at = ? where tenant_id = ?', [now, rule.tenant_id], 'run');
    if (inserted.affectedRows > 0) {
      // Wake the worker once this transaction commits (the attempt is invisible before).
      tx.getEventManager().registerSubscriber({ afterTransactionCommit: async () => this.poke() });
      this.logger.info('auto-top-up triggered', {
        tenant: rule.tenant_id,
        amount: Money.of(amount, rule.currency).toString(),
        balance: Money.of(balance, rule.currency).toString(),
        crossed,
      });
    }
  }

  // ---- Worker -------------------------------------------------------------------------------------------------

  start(): void {
    this.worker.start();
  }

  async stop(): Promise<void> {
    await this.worker.stop();
  }

  /** Asks for a pass now (after a commit that recorded an attempt). */
  poke(): void {
    this.worker.poke();
  }

  /** Runs due attempts until none is left (tests, operators); returns how many it ran. */
  drain(): Promise<number> {
    return this.worker.drain();
  }

  /** One pass over every shard: claims and runs each due attempt once. */
  async runOnce(): Promise<number> {
    const counts = await Promise.all(this.db.shardIds.map((shardId) => this.runShard(shardId)));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  private async runShard(shardId: ShardId): Promise<number> {
    let ran = 0;
    for (;;) {
      let attempt: AttemptRow | null;
      try {
        attempt = await this.claim(shardId);
      } catch (error) {
        // A due attempt of a tenant that moved away is refused here (its copy is claimed on the new shard): stop this
        // shard's round; the old copy goes when the move cleans the source.
        if (isTenantMoved(error)) return ran;
        throw error;
      }
      if (!attempt) return ran;
      ran += 1;
      try {
        await this.execute(attempt);
      } catch (error) {
        // Left PROCESSING: claimed again when its lease ends; the idempotency key makes that safe.
        this.logger.error('auto-top-up attempt failed unexpectedly; it will be retried', { tenant: attempt.tenant_id, attempt: attempt.id, error });
      }
    }
  }

  /** Claims one due attempt (PENDING and due, or PROCESSING with an expired lease) for this worker. */
  private async claim(shardId: ShardId): Promise<AttemptRow | null> {
    const now = this.clock.now();
    const [row] = await this.db.em(shardId).execute<AttemptRow[]>(
      `with due as (
         select id from auto_top_up_attempt where status in (?, ?) and next_try_at <= ? order by next_try_at limit 1 for update skip locked
       )
       update auto_top_up_attempt a set status = ?, tries = a.tries + 1, next_try_at = ?, updated_at = ?
         from due where a.id = due.id
       returning a.id, a.tenant_id, a.trigger_version, a.status, a.amount_minor, a.currency, a.stripe_customer_id, a.stripe_payment_method_id,
                 a.balance_minor, a.tries, a.payment_intent_id, a.tax_minor, a.tax`,
      [
        AutoTopUpAttemptStatus.PENDING,
        AutoTopUpAttemptStatus.PROCESSING,
        now,
        AutoTopUpAttemptStatus.PROCESSING,
        new Date(now.getTime() + this.claimLeaseMs),
        now,
      ],
    );
    return row ?? null;
  }

  private async execute(attempt: AttemptRow): Promise<void> {
    const rule = await this.get(attempt.tenant_id);
    if (!rule?.enabled && !attempt.payment_intent_id) {
      await this.finish(attempt, AutoTopUpAttemptStatus.CANCELED, {
        failureCode: 'RULE_DISABLED',
        failureMessage: 'Auto-top-up was disabled before the attempt ran.',
      });
      return;
    }
    if (!this.stripe) {
      await this.fail(attempt, {
        code: BillingErrorCode.StripeNotConfigured,
        declineCode: null,
        message: 'No Stripe account is configured.',
        paymentIntentId: null,
      });
      return;
    }
    // VAT on top, quoted once per attempt and kept with it: a retry charges the same gross (same idempotency key).
    if (!attempt.payment_intent_id && attempt.tax === null) {
      try {
        await this.quoteTax(attempt);
      } catch (error) {
        const retryAt = new Date(this.clock.now().getTime() + this.options.retrySeconds * 1000);
        await this.finish(attempt, AutoTopUpAttemptStatus.PENDING, { nextTryAt: retryAt });
        this.logger.warn('auto-top-up: VAT could not be quoted yet, retrying the attempt later', {
          tenant: attempt.tenant_id,
          attempt: attempt.id,
          retryAt,
          error: (error as Error).message,
        });
        return;
      }
    }
    let result;
    try {
      // An attempt Stripe accepted earlier (still settling): look at its PaymentIntent instead of charging again.
      result = attempt.payment_intent_id
        ? await this.stripe.paymentIntentOutcome(attempt.payment_intent_id)
        : await this.stripe.chargeOffSession({
            tenantId: attempt.tenant_id,
            attemptId: attempt.id,
            amountMinor: BigInt(attempt.amount_minor) + BigInt(attempt.tax_minor),
            currency: attempt.currency,
            customerId: attempt.stripe_customer_id,
            paymentMethodId: attempt.stripe_payment_method_id,
          });
    } catch (error) {
      if (isTransientStripeError(error)) {
        const retryAt = new Date(this.clock.now().getTime() + this.options.retrySeconds * 1000);
        await this.finish(attempt, AutoTopUpAttemptStatus.PENDING, { nextTryAt: retryAt });
        this.logger.warn('auto-top-up: Stripe unavailable, retrying the same attempt later', {
          tenant: attempt.tenant_id,
          attempt: attempt.id,
          retryAt,
          error: (error as Error).message,
        });
        return;
      }
      const stripeError = error as { code?: string; message?: string };
      await this.fail(attempt, {
        code: stripeError.code ?? 'stripe_error',
        declineCode: null,
        message: stripeError.message ?? String(error),
        paymentIntentId: null,
      });
      return;
    }
    if (result.outcome === 'succeeded') {
      await this.credits.creditPayment({
        tenantId: attempt.tenant_id,
        paymentIntentId: result.paymentIntentId,
        amountMinor: result.amountMinor,
        currency: result.currency,
        occurredAt: result.createdAt,
        announcedBy: 'auto-top-up',
        autoTopUpAttemptId: attempt.id,
      });
      return;
    }
    if (result.outcome === 'pending') {
      // Settles later: payment_intent.succeeded credits it (and marks the attempt); look again in an hour.
      await this.finish(attempt, AutoTopUpAttemptStatus.PROCESSING, {
        nextTryAt: new Date(this.clock.now().getTime() + 3_600_000),
        paymentIntentId: result.paymentIntentId,
      });
      return;
    }
    await this.fail(attempt, result);
  }

  /** Stores the VAT quote of an attempt before its first charge (no quote: nothing on top, and it stays that way). */
  private async quoteTax(attempt: AttemptRow): Promise<void> {
    const quote = await (this.options.tax ?? NO_TAX)(attempt.tenant_id, BigInt(attempt.amount_minor), attempt.currency, this.clock.now());
    const record = quote
      ? taxRecord(quote)
      : {
          netMinor: attempt.amount_minor,
          vatMinor: '0',
          grossMinor: attempt.amount_minor,
          currency: attempt.currency,
          category: 'NONE',
          basisPoints: 0,
          vatCase: 'NONE',
          day: '',
        };
    const [row] = await this.db.forTenant(attempt.tenant_id, async (em) => {
      await em.execute(
        'update auto_top_up_attempt set tax_minor = ?, tax = ?::jsonb where id = ? and tenant_id = ? and tax is null',
        [quote?.vatMinor ?? 0n, JSON.stringify(record), attempt.id, attempt.tenant_id],
        'run',
      );
      return em.execute<Array<{ tax_minor: string; tax: TaxRecord }>>('select tax_minor, tax from auto_top_up_attempt where id = ? and tenant_id = ?', [
        attempt.id,
        attempt.tenant_id,
      ]);
    });
    attempt.tax_minor = row!.tax_minor;
    attempt.tax = row!.tax;
  }

  /**
   * A declined (or refused) attempt, in one transaction serialized with the account's postings: the attempt is
   * FAILED, the rule backs off (base x 2^(n-1), capped) and owes a retry after the window, and `auto_top_up.failed`
   * is enqueued for notification. Also used by the webhook for a payment that failed after being accepted.
   */
  async fail(attempt: Pick<AttemptRow, 'id' | 'tenant_id' | 'amount_minor' | 'currency' | 'balance_minor'>, failure: Failure): Promise<boolean> {
    if (!(await this.db.emForTenant(attempt.tenant_id))) return false;
    const failed = await this.ledger.withAccountLocked(attempt.tenant_id, async (tx) => {
      const now = this.clock.now();
      const updated = (await tx.execute(
        `update auto_top_up_attempt set status = ?, failure_code = ?, failure_message = ?, payment_intent_id = coalesce(?, payment_intent_id), completed_at = ?, updated_at = ?
          where id = ? and tenant_id = ? and status in (?, ?)`,
        [
          AutoTopUpAttemptStatus.FAILED,
          failure.code,
          failure.message.slice(0, 500),
          failure.paymentIntentId,
          now,
          now,
          attempt.id,
          attempt.tenant_id,
          AutoTopUpAttemptStatus.PENDING,
          AutoTopUpAttemptStatus.PROCESSING,
        ],
        'run',
      )) as unknown as { affectedRows: number };
      if (updated.affectedRows === 0) return false;
      const [rule] = await tx.execute<{ consecutive_failures: number }[]>('select consecutive_failures from auto_top_up_rule where tenant_id = ? for update', [
        attempt.tenant_id,
      ]);
      const failures = (rule?.consecutive_failures ?? 0) + 1;
      const backoffUntil = new Date(now.getTime() + backoffSeconds(failures, this.options.backoffBaseSeconds, this.options.backoffMaxSeconds) * 1000);
      await tx.execute(
        `update auto_top_up_rule set consecutive_failures = ?, backoff_until = ?, retry_pending = true, last_failure_code = ?, last_failure_message = ?, last_failure_at = ?, updated_at = ?
          where tenant_id = ?`,
        [failures, backoffUntil, failure.code, failure.message.slice(0, 500), now, now, attempt.tenant_id],
        'run',
      );
      enqueueEvent(
        tx,
        AutoTopUpFailed,
        attempt.tenant_id,
        {
          tenantId: attempt.tenant_id,
          attemptId: attempt.id,
          amountMinor: String(attempt.amount_minor),
          currency: attempt.currency,
          balanceMinor: String(attempt.balance_minor),
          failureCode: failure.code,
          declineCode: failure.declineCode,
          message: failure.message.slice(0, 500),
          consecutiveFailures: failures,
          nextAttemptAfter: backoffUntil.toISOString(),
          failedAt: now.toISOString(),
        },
        now,
      );
      this.logger.warn('auto-top-up declined; backing off', {
        tenant: attempt.tenant_id,
        attempt: attempt.id,
        code: failure.code,
        declineCode: failure.declineCode,
        consecutiveFailures: failures,
        backoffUntil,
      });
      return true;
    });
    if (failed) this.relay.poke();
    return failed;
  }

  /** Marks an attempt failed by id (payment_intent.payment_failed after the PaymentIntent was accepted). */
  async failById(tenantId: string, attemptId: string, failure: Failure): Promise<boolean> {
    const located = await this.db.emForTenant(tenantId);
    if (!located) return false;
    const [row] = await located.em.execute<AttemptRow[]>(
      'select id, tenant_id, amount_minor, currency, balance_minor from auto_top_up_attempt where id = ? and tenant_id = ?',
      [attemptId, tenantId],
    );
    return row ? this.fail(row, failure) : false;
  }

  private async finish(
    attempt: AttemptRow,
    status: AutoTopUpAttemptStatus,
    fields: { failureCode?: string; failureMessage?: string; nextTryAt?: Date; paymentIntentId?: string },
  ): Promise<void> {
    const now = this.clock.now();
    const final = status === AutoTopUpAttemptStatus.CANCELED;
    await this.db.forTenantIfPlaced(attempt.tenant_id, (em) =>
      em.execute(
        `update auto_top_up_attempt set status = ?, failure_code = coalesce(?, failure_code), failure_message = coalesce(?, failure_message),
              next_try_at = coalesce(?, next_try_at), payment_intent_id = coalesce(?, payment_intent_id), completed_at = ?, updated_at = ?
        where id = ? and status in (?, ?)`,
        [
          status,
          fields.failureCode ?? null,
          fields.failureMessage ?? null,
          fields.nextTryAt ?? null,
          fields.paymentIntentId ?? null,
          final ? now : null,
          now,
          attempt.id,
          AutoTopUpAttemptStatus.PENDING,
          AutoTopUpAttemptStatus.PROCESSING,
        ],
        'run',
      ),
    );
  }
}
