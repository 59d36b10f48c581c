import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * A tenant's prepaid account: one per tenant, one currency, on the tenant's billing shard.
 * `balanceMinor` is the cached balance (derived from the ledger once it exists) and `version`
 * increases with every change, so readers and writers can detect a stale copy.
 */
@Entity({ tableName: 'account' })
export class Account {
  [OptionalProps]?: 'balanceMinor' | 'version' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Property({ type: new BigIntType('bigint'), defaultRaw: '0' })
  balanceMinor: bigint = 0n;

  @Property({ type: 'integer' })
  version: number = 0;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
