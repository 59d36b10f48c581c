import { PrimaryKeyProp } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * A tenant's usage of one product on one UTC calendar day, in integer units of the product
 * (minutes, messages). Lives on the shard the tenant is placed on in this subgraph's directory.
 * Rows only ever grow: UsageService adds to them with an atomic upsert.
 */
@Entity({ tableName: 'daily_usage' })
export class DailyUsage {
  [PrimaryKeyProp]?: ['tenantId', 'day', 'product'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  /** ISO yyyy-mm-dd (a PostgreSQL `date`, always a UTC day). */
  @PrimaryKey({ type: 'date' })
  day!: string;

  /** e.g. inbound_minute, outbound_minute, sms. */
  @PrimaryKey({ type: 'text' })
  product!: string;

  @Property({ type: 'bigint' })
  quantity!: bigint;
}
