import { PrimaryKeyProp } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * A tenant's usage in one UTC hour, products summed: what hourly anomaly checks, fraud bursts and the drift
 * monitor's rolling 24 hours read. Written with the daily aggregates from the same usage.recorded events.
 */
@Entity({ tableName: 'hourly_usage' })
export class HourlyUsage {
  [PrimaryKeyProp]?: ['tenantId', 'hour'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  /** Start of the UTC hour. */
  @PrimaryKey({ type: 'timestamptz' })
  hour!: Date;

  @Property({ type: 'bigint' })
  quantity!: bigint;
}
