import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { MoneyType, connectionType, type Connection } from '@saldo/graphql';
import { Money } from '@saldo/money';
import { MoneyInput } from '../../shared/graphql.js';
import { formatUnitPrice } from '../../shared/unit-price.js';
import { OverdraftMode } from '../entities/account.js';
import { LedgerEntryType, type LedgerEntry } from '../entities/ledger-entry.js';
import type { BalanceView, OverdraftPolicyView } from '../services/account-service.js';

registerEnumType(LedgerEntryType, {
  name: 'LedgerEntryType',
  description: 'Kind of ledger entry. Credits (TOP_UP, BONUS, CREDIT_NOTE) are positive, debits (USAGE, REFUND) negative, ADJUSTMENT either.',
});
registerEnumType(OverdraftMode, { name: 'OverdraftMode', description: 'What happens to usage beyond the balance.' });

@ObjectType('Balance', { description: "A tenant's prepaid balance, derived from its ledger." })
export class BalanceType {
  @Field(() => MoneyType, { description: "The balance: the sum of the ledger's entries. Negative while the tenant uses an overdraft." })
  available!: MoneyType;

  @Field({ description: 'ISO 4217 currency of the account.' })
  currency!: string;

  @Field(() => Int, { description: 'Number of ledger entries so far; increases with every balance change, so a higher version is a newer balance.' })
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

@ObjectType('OverdraftPolicy', { description: 'How far usage may take the balance: to zero (BLOCK) or down to minus `limit`.' })
export class OverdraftPolicyType {
  @Field(() => OverdraftMode)
  mode!: OverdraftMode;

  @Field(() => MoneyType, { description: 'How far below zero usage may take the balance; zero under BLOCK.' })
  limit!: MoneyType;

  static from(view: OverdraftPolicyView): OverdraftPolicyType {
    const type = new OverdraftPolicyType();
    type.mode = view.mode;
    type.limit = MoneyType.from(view.limit);
    return type;
  }
}

@ObjectType('LedgerEntry', { description: "One line of a tenant's ledger. Entries are never changed or removed." })
export class LedgerEntryGql {
  @Field(() => ID)
  id!: string;

  @Field(() => LedgerEntryType)
  type!: LedgerEntryType;

  @Field(() => MoneyType, { description: 'Signed: credits positive, debits negative.' })
  amount!: MoneyType;

  @Field(() => MoneyType, { description: 'The balance right after this entry.' })
  balanceAfter!: MoneyType;

  @Field(() => Int, { description: 'The account version this entry produced (1 for the first entry, no gaps).' })
  version!: number;

  @Field(() => String, { nullable: true, description: 'Usage: the product charged.' })
  product!: string | null;

  @Field(() => Int, { nullable: true, description: 'Usage: units of the product.' })
  quantity!: number | null;

  @Field(() => String, { nullable: true, description: 'Usage: the unit price charged, as an exact decimal of minor units (e.g. "1.25").' })
  unitPriceMinor!: string | null;

  @Field(() => ID, { nullable: true, description: 'Usage: the rate version that priced it.' })
  rateId!: string | null;

  @Field(() => Date, { nullable: true, description: "When the recorded thing happened (usage: the event's occurredAt)." })
  occurredAt!: Date | null;

  @Field(() => String, { nullable: true, description: "The source's own reference: usage event id, payment id, credit note number." })
  externalRef!: string | null;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field({ description: 'When the entry was posted.' })
  postedAt!: Date;

  static from(entry: LedgerEntry): LedgerEntryGql {
    const type = new LedgerEntryGql();
    type.id = entry.id;
    type.type = entry.type;
    type.amount = MoneyType.from(Money.of(entry.amountMinor, entry.currency));
    type.balanceAfter = MoneyType.from(Money.of(entry.balanceAfterMinor, entry.currency));
    type.version = entry.accountVersion;
    type.product = entry.product;
    type.quantity = entry.quantity === null ? null : Number(entry.quantity);
    type.unitPriceMinor = entry.unitPriceMicros === null ? null : formatUnitPrice(entry.unitPriceMicros);
    type.rateId = entry.rateId;
    type.occurredAt = entry.occurredAt;
    type.externalRef = entry.externalRef;
    type.description = entry.description;
    type.postedAt = entry.createdAt;
    return type;
  }
}

export const LedgerEntryConnection = connectionType('LedgerEntry', LedgerEntryGql);
export type LedgerEntryConnection = Connection<LedgerEntryGql>;

@InputType('SetOverdraftPolicyInput')
export class SetOverdraftPolicyInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => OverdraftMode)
  mode!: OverdraftMode;

  @Field(() => MoneyInput, { nullable: true, description: "Required for ALLOW_OVERDRAFT, in the account's currency; omit for BLOCK." })
  limit?: MoneyInput | null;
}
