import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** A declined or refused automatic top-up of a tenant (auto_top_up.failed): fraud signals count them. */
@Entity({ tableName: 'payment_failure' })
@Index({ properties: ['tenantId', 'failedAt'] })
export class PaymentFailure {
  @PrimaryKey({ type: 'uuid' })
  attemptId!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'timestamptz' })
  failedAt!: Date;

  @Property({ type: 'text' })
  failureCode!: string;

  @Property({ type: 'text', nullable: true })
  declineCode: string | null = null;
}
