import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { Severity } from './usage-anomaly.js';

export type FraudCaseStatus = 'OPEN' | 'CONFIRMED' | 'DISMISSED';

/** One scored reason a case was opened or raised. */
export interface FraudSignalRecord {
  kind: string;
  score: number;
  detail: string;
  at: string;
}

/**
 * A suspected fraud on a tenant, on the tenant's shard. At most one OPEN case per tenant (new signals raise it);
 * operators resolve it as CONFIRMED or DISMISSED.
 */
@Entity({ tableName: 'fraud_case' })
@Index({
  name: 'fraud_case_one_open_per_tenant',
  expression: 'create unique index "fraud_case_one_open_per_tenant" on "fraud_case" ("tenant_id") where "status" = \'OPEN\'',
})
@Index({ properties: ['status', 'id'] })
export class FraudCase {
  /** UUIDv7, the pagination key. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'uuid', nullable: true })
  partnerId: string | null = null;

  @Property({ type: 'text' })
  status!: FraudCaseStatus;

  /** 0-100. */
  @Property({ type: 'double precision' })
  score!: number;

  @Property({ type: 'text' })
  severity!: Severity;

  @Property({ type: 'jsonb' })
  signals!: FraudSignalRecord[];

  /** The partner's policy suspended the tenant's usage when the case opened. */
  @Property({ type: 'boolean' })
  usageSuspended!: boolean;

  @Property({ type: 'timestamptz' })
  openedAt!: Date;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  resolvedAt: Date | null = null;

  /** Who resolved it (the operator's subject). */
  @Property({ type: 'text', nullable: true })
  resolvedBy: string | null = null;

  @Property({ type: 'text', nullable: true })
  note: string | null = null;
}
