import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** A partner's fraud policy (control database): suspend its tenants' usage while a critical case is open. */
@Entity({ tableName: 'fraud_policy' })
export class FraudPolicy {
  @PrimaryKey({ type: 'uuid' })
  partnerId!: string;

  @Property({ type: 'boolean' })
  suspendOnCritical!: boolean;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}
