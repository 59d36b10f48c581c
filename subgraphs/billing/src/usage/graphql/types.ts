import { Directive, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { MoneyType } from '@saldo/graphql';
import { BalanceType } from '../../ledger/index.js';
import { formatUnitPrice } from '../../shared/unit-price.js';
import type { Rate } from '../entities/rate.js';
import { UsageEventStatus, type RecordUsageResult, type UsageEventResult } from '../services/usage-service.js';

registerEnumType(UsageEventStatus, { name: 'UsageEventStatus' });

@ObjectType('Rate', { description: "One version of a product's price in a currency, valid from validFrom until validTo." })
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
  // Demand control: as many as events sent, at most a full batch (MAX_USAGE_BATCH).
  @Directive('@listSize(assumedSize: 1000)')
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
  @Field(() => ID, { description: "The metering source's id of the event (1-128 of A-Z a-z 0-9 . _ : @ -); an id sent twice is charged once." })
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
