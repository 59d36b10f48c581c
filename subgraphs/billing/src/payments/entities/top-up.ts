import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Check, Entity, Enum, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/** Where a top-up request stands. */
export enum TopUpStatus {
  /** Recorded; its Checkout Session is not created yet (Stripe failed or the call is in flight). Retry with the same key. */
  PENDING = 'PENDING',
  /** The Checkout Session exists: the payer can pay at checkoutUrl. */
  OPEN = 'OPEN',
  /** Paid and credited to the ledger (exactly once, by the payment intent's key). */
  COMPLETED = 'COMPLETED',
  /** The Checkout Session expired unpaid. */
  EXPIRED = 'EXPIRED',
}

export const TOP_UP_CHECKS = {
  amount: { name: 'top_up_amount_minor_check', expression: 'amount_minor > 0' },
  credit: { name: 'top_up_credit_amount_minor_check', expression: 'credit_amount_minor > 0' },
} as const;

/**
 * One createTopUp request, on the tenant's billing shard, keyed by (tenant, idempotency key): the same key returns
 * the same row and so the same Checkout Session. It binds the key to its amount, holds the quoted conversion when
 * the payer pays in another currency than the account's, and records how the request ended.
 */
@Entity({ tableName: 'top_up' })
@Unique({ properties: ['tenantId', 'idempotencyKey'] })
@Unique({ properties: ['checkoutSessionId'] })
@Check(TOP_UP_CHECKS.amount)
@Check(TOP_UP_CHECKS.credit)
export class TopUp {
  [OptionalProps]?: 'taxMinor' | 'tax' | 'fx' | 'checkoutSessionId' | 'checkoutUrl' | 'paymentIntentId' | 'ledgerEntryId' | 'expiresAt' | 'completedAt';

  /** UUIDv7; sent to Stripe as metadata.topUpId. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  /** The client's key (1-128 of A-Z a-z 0-9 . _ : @ -). */
  @Property({ type: 'text' })
  idempotencyKey!: string;

  @Enum({ items: () => TopUpStatus, type: 'text' })
  status!: TopUpStatus;

  /** What the payer pays, in `currency`. */
  @Property({ type: new BigIntType('bigint') })
  amountMinor!: bigint;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  /** What the account is credited, in its own currency (quoted at creation; equal to amountMinor without conversion). */
  @Property({ type: new BigIntType('bigint') })
  creditAmountMinor!: bigint;

  @Property({ type: 'character', length: 3 })
  creditCurrency!: string;

  /** VAT charged on top of amountMinor (0 when none): the payer pays amountMinor + taxMinor. */
  @Property({ type: new BigIntType('bigint'), default: 0 })
  taxMinor: bigint = 0n;

  /** The VAT quote (TaxRecord) the tax was computed from, null when none was charged. */
  @Property({ type: 'jsonb', nullable: true })
  tax: Record<string, unknown> | null = null;

  /** The quoted conversion (FxRecord) when currency differs from creditCurrency. */
  @Property({ type: 'jsonb', nullable: true })
  fx: Record<string, unknown> | null = null;

  @Property({ type: 'text', nullable: true })
  checkoutSessionId: string | null = null;

  @Property({ type: 'text', nullable: true })
  checkoutUrl: string | null = null;

  @Property({ type: 'text', nullable: true })
  paymentIntentId: string | null = null;

  /** The TOP_UP ledger entry that credited it. */
  @Property({ type: 'uuid', nullable: true })
  ledgerEntryId: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;

  /** When the Checkout Session stops accepting payment. */
  @Property({ type: 'timestamptz', nullable: true })
  expiresAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;
}
