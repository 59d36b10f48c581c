import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Check, Entity, Enum, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/** Kinds of ledger entry; credits are positive, debits negative (LEDGER_ENTRY_CHECKS.amountSign). */
export enum LedgerEntryType {
  /** Money paid in (Stripe, bank transfer): positive. */
  TOP_UP = 'TOP_UP',
  /** Usage charged at the rate valid at its occurredAt: zero or negative. */
  USAGE = 'USAGE',
  /** Money paid back out of the balance (a refunded top-up): negative. */
  REFUND = 'REFUND',
  /** A manual correction by an operator: either sign, never zero. */
  ADJUSTMENT = 'ADJUSTMENT',
  /** Promotional credit: positive. */
  BONUS = 'BONUS',
  /** Credit granted by a credit note (a billing document): positive. */
  CREDIT_NOTE = 'CREDIT_NOTE',
}

export const LEDGER_ENTRY_CHECKS = {
  amountSign: {
    name: 'ledger_entry_amount_sign_check',
    expression:
      "(type in ('TOP_UP', 'BONUS', 'CREDIT_NOTE') and amount_minor > 0) or (type = 'USAGE' and amount_minor <= 0) " +
      "or (type = 'REFUND' and amount_minor < 0) or (type = 'ADJUSTMENT' and amount_minor <> 0)",
  },
  accountVersion: { name: 'ledger_entry_account_version_check', expression: 'account_version > 0' },
  idempotencyKey: {
    name: 'ledger_entry_idempotency_key_check',
    expression: '(char_length(idempotency_key) >= 1) and (char_length(idempotency_key) <= 200)',
  },
} as const;

/**
 * The append-only guard: UPDATE, DELETE and TRUNCATE of ledger_entry raise, unless the transaction opted in with
 * `SET LOCAL saldo.ledger_maintenance = 'on'` (reserved for moving a tenant between shards). Declared on the entity
 * as raw DDL (the migration creates it) so the schema-drift check knows the trigger belongs here. The migration's
 * second trigger, `ledger_entry_no_truncate` (BEFORE TRUNCATE), is invisible to information_schema and so to
 * MikroORM's schema diff: it is not declared here.
 */
const APPEND_ONLY_FUNCTION =
  `create or replace function "ledger_entry_append_only_fn"() returns trigger language plpgsql as $$ begin ` +
  `if current_setting('saldo.ledger_maintenance', true) = 'on' then return coalesce(old, new); end if; ` +
  `raise exception 'ledger_entry is append-only: % refused', tg_op using errcode = 'restrict_violation'; end; $$`;
export const LEDGER_ENTRY_TRIGGERS = [
  {
    name: 'ledger_entry_append_only',
    timing: 'before',
    events: ['update', 'delete'],
    forEach: 'row',
    expression: `${APPEND_ONLY_FUNCTION};\ncreate trigger "ledger_entry_append_only" before update or delete on "ledger_entry" for each row execute function "ledger_entry_append_only_fn"()`,
  },
] as const;

/**
 * One line of a tenant's ledger, on the tenant's billing shard. Append-only: a trigger refuses UPDATE and DELETE
 * (see the migration). Entries of one account form a chain: account_version 1, 2, 3, ... with no gaps, each
 * balance_after_minor = the previous one + amount_minor, and the account's cached balance equals the last one.
 * `idempotency_key` is unique per tenant: `usage:<event id>`, `stripe:<event id>`, ...
 */
@Entity({ tableName: 'ledger_entry', triggers: LEDGER_ENTRY_TRIGGERS.map((trigger) => ({ ...trigger, events: [...trigger.events] })) })
@Unique({ properties: ['tenantId', 'idempotencyKey'] })
@Unique({ properties: ['tenantId', 'accountVersion'] })
@Check(LEDGER_ENTRY_CHECKS.amountSign)
@Check(LEDGER_ENTRY_CHECKS.accountVersion)
@Check(LEDGER_ENTRY_CHECKS.idempotencyKey)
export class LedgerEntry {
  [OptionalProps]?: 'product' | 'quantity' | 'rateId' | 'unitPriceMicros' | 'occurredAt' | 'externalRef' | 'description' | 'metadata';

  /** UUIDv7. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  /** Position in the account's chain: the account's version right after this entry. */
  @Property({ type: 'integer' })
  accountVersion!: number;

  @Enum({ items: () => LedgerEntryType, type: 'text' })
  type!: LedgerEntryType;

  /** Signed minor units: credits positive, debits negative. */
  @Property({ type: new BigIntType('bigint') })
  amountMinor!: bigint;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Property({ type: new BigIntType('bigint') })
  balanceAfterMinor!: bigint;

  @Property({ type: 'text' })
  idempotencyKey!: string;

  /** Usage: the product charged (inbound_minute, sms, ...). */
  @Property({ type: 'text', nullable: true })
  product: string | null = null;

  /** Usage: units of the product. */
  @Property({ type: new BigIntType('bigint'), nullable: true })
  quantity: bigint | null = null;

  /** Usage: the rate version (billing control database) that priced it. */
  @Property({ type: 'uuid', nullable: true })
  rateId: string | null = null;

  /** Usage: the unit price charged, in millionths of a minor unit (a copy: the entry stands on its own). */
  @Property({ type: new BigIntType('bigint'), nullable: true })
  unitPriceMicros: bigint | null = null;

  /** When the thing the entry records happened (usage: the event's occurredAt; top-up: the payment). */
  @Property({ type: 'timestamptz', nullable: true })
  occurredAt: Date | null = null;

  /** The source's own id: usage event id, Stripe payment intent, credit note number, ... */
  @Property({ type: 'text', nullable: true })
  externalRef: string | null = null;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  /** Source-specific details that need no query (Stripe ids, a conversion's rate and source, ...). */
  @Property({ type: 'jsonb', nullable: true })
  metadata: Record<string, unknown> | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}
