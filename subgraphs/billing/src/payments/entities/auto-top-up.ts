import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/** How much an auto-top-up charges. */
export enum AutoTopUpMode {
  /** Always the rule's amount. */
  FIXED_AMOUNT = 'FIXED_AMOUNT',
  /** Whatever brings the balance back to the rule's target. */
  TOP_UP_TO = 'TOP_UP_TO',
}

export const AUTO_TOP_UP_RULE_CHECKS = {
  threshold: { name: 'auto_top_up_rule_threshold_minor_check', expression: 'threshold_minor >= 0' },
  amount: { name: 'auto_top_up_rule_amount_minor_check', expression: 'amount_minor > 0' },
  dailyCap: { name: 'auto_top_up_rule_daily_cap_minor_check', expression: 'daily_cap_minor > 0' },
  failures: { name: 'auto_top_up_rule_consecutive_failures_check', expression: 'consecutive_failures >= 0' },
} as const;

/**
 * A tenant's auto-top-up rule (at most one), on its billing shard. Amounts are in the account's currency. When a
 * posting takes the balance from above `threshold` to at or below it, one attempt is recorded in that posting's
 * transaction; a worker charges the saved card off-session. Declines back off: `backoffUntil` grows exponentially
 * with `consecutiveFailures`, and no attempt starts before it.
 */
@Entity({ tableName: 'auto_top_up_rule' })
@Check(AUTO_TOP_UP_RULE_CHECKS.threshold)
@Check(AUTO_TOP_UP_RULE_CHECKS.amount)
@Check(AUTO_TOP_UP_RULE_CHECKS.dailyCap)
@Check(AUTO_TOP_UP_RULE_CHECKS.failures)
export class AutoTopUpRule {
  [OptionalProps]?: 'consecutiveFailures' | 'backoffUntil' | 'retryPending' | 'lastFailureCode' | 'lastFailureMessage' | 'lastFailureAt';

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'boolean' })
  enabled!: boolean;

  /** An attempt starts when the balance falls to or below this. */
  @Property({ type: new BigIntType('bigint') })
  thresholdMinor!: bigint;

  @Enum({ items: () => AutoTopUpMode, type: 'text' })
  mode!: AutoTopUpMode;

  /** FIXED_AMOUNT: the amount charged; TOP_UP_TO: the balance to reach. */
  @Property({ type: new BigIntType('bigint') })
  amountMinor!: bigint;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  /** Most that auto-top-ups may charge per UTC day (attempts pending, in flight or succeeded count). */
  @Property({ type: new BigIntType('bigint') })
  dailyCapMinor!: bigint;

  @Property({ type: 'text' })
  stripeCustomerId!: string;

  @Property({ type: 'text' })
  stripePaymentMethodId!: string;

  @Property({ type: 'integer', default: 0 })
  consecutiveFailures: number = 0;

  /** No attempt starts before this (set after a decline). */
  @Property({ type: 'timestamptz', nullable: true })
  backoffUntil: Date | null = null;

  /**
   * The balance is at or below the threshold and still owes an attempt (the last one was declined, the daily cap
   * or the backoff window held it back, or the rule was set below the threshold): the next debit after the backoff
   * window starts one even though it crosses nothing.
   */
  @Property({ type: 'boolean', default: false })
  retryPending: boolean = false;

  @Property({ type: 'text', nullable: true })
  lastFailureCode: string | null = null;

  @Property({ type: 'text', nullable: true })
  lastFailureMessage: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  lastFailureAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}

/** Where an auto-top-up attempt stands. */
export enum AutoTopUpAttemptStatus {
  /** Recorded with the posting that crossed the threshold; waiting for the worker. */
  PENDING = 'PENDING',
  /** Claimed by a worker (its lease ends at nextTryAt; an expired lease is claimed again, same idempotency key). */
  PROCESSING = 'PROCESSING',
  /** Charged and credited. */
  SUCCEEDED = 'SUCCEEDED',
  /** Declined or refused by Stripe; the rule backs off. */
  FAILED = 'FAILED',
  /** The rule was disabled or removed before the attempt ran: nothing was charged. */
  CANCELED = 'CANCELED',
}

export const AUTO_TOP_UP_ATTEMPT_CHECKS = {
  amount: { name: 'auto_top_up_attempt_amount_minor_check', expression: 'amount_minor > 0' },
} as const;

/**
 * One auto-top-up charge, written in the transaction of the posting that triggered it (outbox style: it exists
 * exactly when that posting committed), unique per (tenant, triggering account version). Its id is the Stripe
 * idempotency key of its PaymentIntent, so however often the worker retries it, Stripe charges at most once.
 */
@Entity({ tableName: 'auto_top_up_attempt' })
@Unique({ properties: ['tenantId', 'triggerVersion'] })
@Index({ properties: ['tenantId', 'createdAt'] })
@Index({
  name: 'auto_top_up_attempt_due_index',
  expression: `create index "auto_top_up_attempt_due_index" on "auto_top_up_attempt" ("next_try_at") where "status" in ('PENDING', 'PROCESSING')`,
})
@Check(AUTO_TOP_UP_ATTEMPT_CHECKS.amount)
export class AutoTopUpAttempt {
  [OptionalProps]?: 'taxMinor' | 'tax' | 'tries' | 'paymentIntentId' | 'failureCode' | 'failureMessage' | 'ledgerEntryId' | 'completedAt';

  /** UUIDv7; the PaymentIntent's idempotency key and metadata.autoTopUpAttemptId. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  /** The account version right after the posting that crossed the threshold: one attempt per crossing. */
  @Property({ type: 'integer' })
  triggerVersion!: number;

  @Enum({ items: () => AutoTopUpAttemptStatus, type: 'text' })
  status!: AutoTopUpAttemptStatus;

  @Property({ type: new BigIntType('bigint') })
  amountMinor!: bigint;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  /** VAT charged on top of amountMinor (0 when none): the payer pays amountMinor + taxMinor. */
  @Property({ type: new BigIntType('bigint'), default: 0 })
  taxMinor: bigint = 0n;

  /** The VAT quote (TaxRecord) the tax was computed from, null when none was charged. */
  @Property({ type: 'jsonb', nullable: true })
  tax: Record<string, unknown> | null = null;

  /** The rule's customer and payment method when the attempt was recorded: a retry charges the same card. */
  @Property({ type: 'text' })
  stripeCustomerId!: string;

  @Property({ type: 'text' })
  stripePaymentMethodId!: string;

  /** The balance right after the triggering posting. */
  @Property({ type: new BigIntType('bigint') })
  balanceMinor!: bigint;

  @Property({ type: 'integer', default: 0 })
  tries: number = 0;

  /** PENDING: due from; PROCESSING: the claim's lease end. */
  @Property({ type: 'timestamptz' })
  nextTryAt!: Date;

  @Property({ type: 'text', nullable: true })
  paymentIntentId: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureCode: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureMessage: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  ledgerEntryId: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;
}
