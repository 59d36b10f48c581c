import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';
import { MoneyType } from '@saldo/graphql';
import type { BalanceView } from '../services/account-service.js';

@ObjectType('Balance', { description: 'A tenant\'s prepaid balance, derived from its ledger.' })
export class BalanceType {
  @Field(() => MoneyType, { description: 'Spendable amount now.' })
  available!: MoneyType;

  @Field({ description: 'ISO 4217 currency of the account.' })
  currency!: string;

  @Field(() => Int, { description: 'Increases with every balance change; compare to detect stale copies.' })
  version!: number;

  @Field(() => Date, { nullable: true, description: 'When the balance last changed; null before the account exists.' })
  updatedAt!: Date | null;

  static from(view: BalanceView): BalanceType {
    const type = new BalanceType();
    type.available = MoneyType.from(view.available);
    type.currency = view.available.currency;
    type.version = view.version;
    type.updatedAt = view.updatedAt;
    return type;
  }
}

/** The tenants subgraph owns Tenant; billing contributes its balance. */
@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class BillingTenant {
  @Field(() => ID)
  id!: string;

  @Field()
  @Directive('@external')
  currency!: string;
}
