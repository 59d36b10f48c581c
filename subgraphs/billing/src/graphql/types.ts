import { Directive, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { MinorUnitsScalar, MoneyType, connectionType, type Connection } from '@saldo/graphql';
import { Money } from '@saldo/money';
import { formatUnitPrice } from '../domain/pricing.js';
import { OverdraftMode } from '../entities/account.js';
import { LedgerEntryType, type LedgerEntry } from '../entities/ledger-entry.js';
import type { Rate } from '../entities/rate.js';
import type { BalanceView, OverdraftPolicyView } from '../services/account-service.js';
import { UsageEventStatus, type RecordUsageResult, type UsageEventResult } from '../services/usage-service.js';

registerEnumType(LedgerEntryType, {
  name: 'LedgerEntryType',
  description: 'Kind of ledger entry. Credits (TOP_UP, BONUS, CREDIT_NOTE) are positive, debits (USAGE, REFUND) negative, ADJUSTMENT either.',
});
registerEnumType(OverdraftMode, { name: 'OverdraftMode', description: 'What happens to usage beyond the balance.' });
registerEnumType(UsageEventStatus, { name: 'UsageEventStatus' });

@ObjectType('Balance', { description: 'A tenant\'s prepaid balance, derived from its ledger.' })
export class BalanceType {
  @Field(() => MoneyType, { description: 'The balance: the sum of the ledger\'s entries. Negative while the tenant uses an overdraft.' })
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

@ObjectType('LedgerEntry', { description: 'One line of a tenant\'s ledger. Entries are never changed or removed.' })
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

  @Field(() => Date, { nullable: true, description: 'When the recorded thing happened (usage: the event\'s occurredAt).' })
  occurredAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The source\'s own reference: usage event id, payment id, credit note number.' })
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

@ObjectType('Rate', { description: 'One version of a product\'s price in a currency, valid from validFrom until validTo.' })
export class RateType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'e.g. inbound_minute, outbound_minute, sms.' })
  product!: string;

  @Field()
  currency!: string;

  @Field({ description: 'Price per unit as an exact decimal of the currency\'s minor units, up to 6 decimals: "1.25" is 1.25 cents = 0.0125 EUR.' })
  unitPriceMinor!: string;

  @Field()
  validFrom!: Date;

  @Field(() => Date, { nullable: true, description: 'End of validity (exclusive); null while open-ended.' })
  validTo!: Date | null;

  @Field()
  createdAt!: Date;

  static from(rate: Rate): RateType {
    const type = new RateType();
    type.id = rate.id;
    type.product = rate.product;
    type.currency = rate.currency;
    type.unitPriceMinor = formatUnitPrice(rate.unitPriceMicros);
    type.validFrom = rate.validFrom;
    type.validTo = rate.validTo;
    type.createdAt = rate.createdAt;
    return type;
  }
}

@ObjectType('UsageEventResult')
export class UsageEventResultType {
  @Field({ description: 'The usage event id, as sent.' })
  id!: string;

  @Field(() => UsageEventStatus, { description: 'ACCEPTED: charged by this call; DUPLICATE: seen before, not charged again.' })
  status!: UsageEventStatus;

  @Field(() => ID, { description: 'The ledger entry that charged the event (for a duplicate, the original one).' })
  entryId!: string;

  @Field(() => MoneyType, { description: 'What the event cost.' })
  cost!: MoneyType;

  static from(result: UsageEventResult): UsageEventResultType {
    const type = new UsageEventResultType();
    type.id = result.id;
    type.status = result.status;
    type.entryId = result.entryId;
    type.cost = MoneyType.from(result.cost);
    return type;
  }
}

@ObjectType('RecordUsagePayload')
export class RecordUsagePayload {
  @Field(() => [UsageEventResultType], { description: 'One per event sent, in the order sent.' })
  results!: UsageEventResultType[];

  @Field(() => Int)
  accepted!: number;

  @Field(() => Int)
  duplicates!: number;

  @Field(() => BalanceType, { description: 'The balance after this call.' })
  balance!: BalanceType;

  static from(result: RecordUsageResult): RecordUsagePayload {
    const type = new RecordUsagePayload();
    type.results = result.results.map(UsageEventResultType.from);
    type.accepted = result.accepted;
    type.duplicates = result.duplicates;
    type.balance = BalanceType.from(result.balance);
    return type;
  }
}

@InputType('UsageEventInput')
export class UsageEventInput {
  @Field(() => ID, { description: 'The metering source\'s id of the event (1-128 of A-Z a-z 0-9 . _ : @ -); an id sent twice is charged once.' })
  id!: string;

  @Field({ description: 'A product on the rate card, e.g. inbound_minute.' })
  product!: string;

  @Field(() => Int, { description: 'Whole units of the product (minutes, messages), at least 1.' })
  quantity!: number;

  @Field({ description: 'When the usage happened; priced at the rate valid then.' })
  occurredAt!: Date;
}

@InputType('RecordUsageInput')
export class RecordUsageInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => [UsageEventInput], { description: 'At most 1,000 events; any invalid event rejects the whole batch.' })
  events!: UsageEventInput[];
}

@InputType('MoneyInput', { description: 'An amount of money: integer minor units and an ISO 4217 currency code.' })
export class MoneyInput {
  @Field(() => MinorUnitsScalar)
  amountMinor!: bigint;

  @Field()
  currency!: string;
}

@InputType('SetOverdraftPolicyInput')
export class SetOverdraftPolicyInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => OverdraftMode)
  mode!: OverdraftMode;

  @Field(() => MoneyInput, { nullable: true, description: 'Required for ALLOW_OVERDRAFT, in the account\'s currency; omit for BLOCK.' })
  limit?: MoneyInput | null;
}

@InputType('PublishRateInput')
export class PublishRateInput {
  @Field({ description: 'Lower-case product name, e.g. inbound_minute. A new name adds a product.' })
  product!: string;

  @Field()
  currency!: string;

  @Field({ description: 'Exact decimal of minor units per unit, up to 6 decimals (e.g. "1.25").' })
  unitPriceMinor!: string;

  @Field(() => Date, { nullable: true, description: 'Start of validity; default now. Must not reprice the past.' })
  validFrom?: Date | null;

  @Field(() => Date, { nullable: true, description: 'End of validity (exclusive); default open-ended.' })
  validTo?: Date | null;
}

/** The tenants subgraph owns Tenant; billing contributes its balance, ledger and overdraft policy. */
@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class BillingTenant {
  @Field(() => ID)
  id!: string;

  @Field()
  @Directive('@external')
  currency!: string;
}
