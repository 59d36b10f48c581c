import { OptionalProps } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** The tenant's automatic top-up rule as billing last announced it (auto_top_up.changed). */
export interface AutoTopUpSnapshot {
  enabled: boolean;
  thresholdMinor: string;
  mode: 'FIXED_AMOUNT' | 'TOP_UP_TO';
  amountMinor: string;
  dailyCapMinor: string;
  paymentMethodId: string;
}

/**
 * What usage-forecast knows about a tenant beyond its usage, kept from events (never read from another subgraph's
 * tables): when it was created and by which partner (tenant.created), its balance (balance.changed, newest version
 * wins), overdraft limit and auto-top-up rule (billing's account settings events), its last top-up, and the last
 * depletion date it was warned about (forecast.depletion_soon is sent once per date).
 */
@Entity({ tableName: 'tenant_profile' })
export class TenantProfile {
  [OptionalProps]?:
    | 'partnerId'
    | 'createdAt'
    | 'currency'
    | 'balanceMinor'
    | 'balanceVersion'
    | 'balanceAt'
    | 'overdraftLimitMinor'
    | 'autoTopUp'
    | 'lastTopUpAt'
    | 'lastTopUpMinor'
    | 'lastTopUpBalanceMinor'
    | 'warnedDepletionDate'
    | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'uuid', nullable: true })
  partnerId: string | null = null;

  /** When the tenant was created (tenant.created's occurredAt). */
  @Property({ type: 'timestamptz', nullable: true })
  createdAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  currency: string | null = null;

  @Property({ type: 'bigint', nullable: true })
  balanceMinor: bigint | null = null;

  @Property({ type: 'integer' })
  balanceVersion: number = 0;

  @Property({ type: 'timestamptz', nullable: true })
  balanceAt: Date | null = null;

  /** How far below zero usage may go (0 under BLOCK). */
  @Property({ type: 'bigint' })
  overdraftLimitMinor: bigint = 0n;

  @Property({ type: 'jsonb', nullable: true })
  autoTopUp: AutoTopUpSnapshot | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  lastTopUpAt: Date | null = null;

  @Property({ type: 'bigint', nullable: true })
  lastTopUpMinor: bigint | null = null;

  /** The balance right after that top-up: what usage spent since is this minus the current balance. */
  @Property({ type: 'bigint', nullable: true })
  lastTopUpBalanceMinor: bigint | null = null;

  @Property({ type: 'date', nullable: true })
  warnedDepletionDate: string | null = null;

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
