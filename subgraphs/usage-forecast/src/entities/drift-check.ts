import { PrimaryKeyProp } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** One hourly drift check of a model version: rolling 24-hour forecast error and input PSI. */
@Entity({ tableName: 'drift_check' })
export class DriftCheck {
  [PrimaryKeyProp]?: ['modelVersion', 'windowEnd'];

  @PrimaryKey({ type: 'integer' })
  modelVersion!: number;

  /** End (exclusive) of the 24 hours checked. */
  @PrimaryKey({ type: 'timestamptz' })
  windowEnd!: Date;

  /** WAPE of the version's forecasts over the window, across tenants. */
  @Property({ type: 'double precision' })
  rollingWape!: number;

  /** sum actual / sum forecast - 1 over the window. */
  @Property({ type: 'double precision' })
  bias!: number;

  /** Population stability index of the inputs against the version's training reference. */
  @Property({ type: 'double precision' })
  psi!: number;

  @Property({ type: 'integer' })
  tenants!: number;

  @Property({ type: 'boolean' })
  flagged!: boolean;

  @Property({ type: 'timestamptz' })
  checkedAt!: Date;
}
