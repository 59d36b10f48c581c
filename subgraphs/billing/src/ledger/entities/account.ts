import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Check, Entity, Enum, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** What happens to usage beyond the balance. */
export enum OverdraftMode {
  /** Reject a debit that would take the balance below zero (INSUFFICIENT_BALANCE). */
  BLOCK = 'BLOCK',
  /** Allow the balance to go negative down to minus the account's overdraft limit. */
  ALLOW_OVERDRAFT = 'ALLOW_OVERDRAFT',
}

export const ACCOUNT_CHECKS = {
  overdraftLimit: { name: 'account_overdraft_limit_minor_check', expression: 'overdraft_limit_minor >= 0' },
} as const;

/**
 * A tenant's prepaid account: one per tenant, one currency, on the tenant's billing shard.
 * `balanceMinor` is the cached balance: the sum of the tenant's ledger entries, maintained by LedgerService in
 * the same transaction that appends them. `version` counts the entries (the last entry's account_version), so
 * readers and writers can detect a stale copy. Writers serialize on this row (SELECT ... FOR UPDATE).
 */
@Entity({ tableName: 'account' })
@Check(ACCOUNT_CHECKS.overdraftLimit)
export class Account {
  [OptionalProps]?: 'balanceMinor' | 'version' | 'createdAt' | 'updatedAt' | 'overdraftMode' | 'overdraftLimitMinor' | 'balanceWatches';

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Property({ type: new BigIntType('bigint'), defaultRaw: '0' })
  balanceMinor: bigint = 0n;

  @Property({ type: 'integer' })
  version: number = 0;

  @Enum({ items: () => OverdraftMode, type: 'text', default: OverdraftMode.BLOCK })
  overdraftMode: OverdraftMode = OverdraftMode.BLOCK;

  /** How far below zero the balance may go under ALLOW_OVERDRAFT (minor units, >= 0); ignored under BLOCK. */
  @Property({ type: new BigIntType('bigint'), defaultRaw: '0' })
  overdraftLimitMinor: bigint = 0n;

  /**
   * Balance watches other modules registered through LedgerService.setBalanceWatch: name -> threshold in minor units
   * (a decimal string). A posting that leaves the balance at or below a threshold calls that watch's handler inside its
   * transaction (auto-top-up is one). Kept on the account row so postings read them with the lock they take anyway.
   */
  @Property({ type: 'jsonb', defaultRaw: `'{}'` })
  balanceWatches: Record<string, string> = {};

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}

/** The lowest balance a debit may leave: 0 under BLOCK, -limit under ALLOW_OVERDRAFT. */
export function overdraftFloor(account: { overdraftMode: OverdraftMode; overdraftLimitMinor: bigint }): bigint {
  return account.overdraftMode === OverdraftMode.ALLOW_OVERDRAFT ? -account.overdraftLimitMinor : 0n;
}
