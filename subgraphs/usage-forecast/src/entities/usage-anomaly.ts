import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

export type AnomalyGranularity = 'HOUR' | 'DAY';
export type Severity = 'MEDIUM' | 'HIGH' | 'CRITICAL';

/** Usage of a tenant in one hour or day that left its seasonal profile; one row per (tenant, granularity, period). */
@Entity({ tableName: 'usage_anomaly' })
@Unique({ properties: ['tenantId', 'granularity', 'periodStart'] })
@Index({ properties: ['tenantId', 'id'] })
export class UsageAnomaly {
  /** UUIDv7: time-ordered, the pagination key (newest first). */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'text' })
  granularity!: AnomalyGranularity;

  @Property({ type: 'timestamptz' })
  periodStart!: Date;

  @Property({ type: 'double precision' })
  observed!: number;

  @Property({ type: 'double precision' })
  expected!: number;

  @Property({ type: 'double precision' })
  score!: number;

  @Property({ type: 'text' })
  severity!: Severity;

  @Property({ type: 'timestamptz' })
  detectedAt!: Date;
}
