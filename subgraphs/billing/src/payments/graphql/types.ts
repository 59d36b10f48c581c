import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { MoneyType } from '@saldo/graphql';
import { Money } from '@saldo/money';
import type { FxRecord } from '../domain/fx.js';
import { AutoTopUpMode, type AutoTopUpRule } from '../entities/auto-top-up.js';
import { TopUpStatus, type TopUp } from '../entities/top-up.js';
import { MoneyInput } from '../../shared/graphql.js';

registerEnumType(TopUpStatus, { name: 'TopUpStatus', description: 'Where a Stripe Checkout top-up stands.' });
registerEnumType(AutoTopUpMode, { name: 'AutoTopUpMode', description: 'How much an automatic top-up charges.' });

@ObjectType('ExchangeRate', {
  description: 'A conversion as it was (or will be) applied: amount in `to` = amount in `from` x rate, rounded half up to the minor unit.',
})
export class ExchangeRateType {
  @Field()
  from!: string;

  @Field()
  to!: string;

  @Field({ description: 'Exact decimal, up to 12 places, e.g. "0.925".' })
  rate!: string;

  @Field({ description: 'Where the rate came from (the static table, a provider and its fixing).' })
  source!: string;

  @Field(() => Date, { nullable: true })
  asOf!: Date | null;

  static fromRecord(record: FxRecord): ExchangeRateType {
    const type = new ExchangeRateType();
    type.from = record.from;
    type.to = record.to;
    type.rate = record.rate;
    type.source = record.source;
    type.asOf = record.asOf ? new Date(record.asOf) : null;
    return type;
  }
}

/** createTopUp's and createPaymentMethodSetup's returnOrigin. */
export const RETURN_ORIGIN_DESCRIPTION =
  "The origin the payer started from (e.g. the portal's location.origin): Checkout returns there. Omitted: the configured return URLs. " +
  "Accepted: the platform's own origin, or the partner's custom domain this request came through (https); anything else is refused with RETURN_ORIGIN_NOT_ALLOWED.";

@ObjectType('SavedPaymentMethod', {
  description: 'A card the tenant saved on its own Stripe customer (createPaymentMethodSetup): pass its two ids to setAutoTopUp.',
})
export class SavedPaymentMethodType {
  @Field({ description: 'The Stripe customer it is saved on (cus_...).' })
  stripeCustomerId!: string;

  @Field({ description: 'The saved payment method (pm_...).' })
  paymentMethodId!: string;

  @Field(() => String, { nullable: true, description: 'Card brand, e.g. visa.' })
  brand!: string | null;

  @Field(() => String, { nullable: true })
  last4!: string | null;

  @Field(() => Int, { nullable: true })
  expMonth!: number | null;

  @Field(() => Int, { nullable: true })
  expYear!: number | null;
}

@ObjectType('PaymentMethodSetup', {
  description:
    "A Stripe Checkout Session (setup mode) on the tenant's own Stripe customer: the tenant saves a card there, and setAutoTopUp accepts only " +
    'payment methods saved this way (others are refused with PAYMENT_METHOD_NOT_OWNED).',
})
export class PaymentMethodSetupType {
  @Field({ description: "Stripe's page where the tenant enters the card." })
  url!: string;

  @Field({ description: "The tenant's Stripe customer the card is saved on (cus_...): pass it to setAutoTopUp." })
  stripeCustomerId!: string;

  @Field()
  checkoutSessionId!: string;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;
}

@ObjectType('TopUp', { description: 'A top-up through Stripe Checkout. The balance is credited when Stripe reports the payment (webhook), once.' })
export class TopUpType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  tenantId!: string;

  @Field({ description: 'The idempotency key it was created with: sending it again returns this top-up.' })
  idempotencyKey!: string;

  @Field(() => TopUpStatus)
  status!: TopUpStatus;

  @Field(() => MoneyType, { description: 'The price of the credit, before VAT (what was asked for).' })
  amount!: MoneyType;

  @Field(() => MoneyType, { description: 'VAT charged on top of amount (zero where none applies: reverse charge, outside the EU, or documents off).' })
  tax!: MoneyType;

  @Field(() => MoneyType, { description: 'What the payer pays: amount + tax.' })
  total!: MoneyType;

  @Field(() => MoneyType, {
    description: "What the balance is credited, in the account's currency (converted at exchangeRate when the payer pays in another currency).",
  })
  credit!: MoneyType;

  @Field(() => ExchangeRateType, { nullable: true, description: "The quoted conversion; null when the payer pays in the account's currency." })
  exchangeRate!: ExchangeRateType | null;

  @Field(() => String, { nullable: true, description: 'Stripe Checkout page to send the payer to; null until the session exists.' })
  checkoutUrl!: string | null;

  @Field(() => String, { nullable: true, description: 'The Stripe Checkout Session id.' })
  sessionId!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the Checkout Session stops accepting payment.' })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;

  static from(topUp: TopUp): TopUpType {
    const type = new TopUpType();
    type.id = topUp.id;
    type.tenantId = topUp.tenantId;
    type.idempotencyKey = topUp.idempotencyKey;
    type.status = topUp.status;
    type.amount = MoneyType.from(Money.of(topUp.amountMinor, topUp.currency));
    type.tax = MoneyType.from(Money.of(topUp.taxMinor, topUp.currency));
    type.total = MoneyType.from(Money.of(topUp.amountMinor + topUp.taxMinor, topUp.currency));
    type.credit = MoneyType.from(Money.of(topUp.creditAmountMinor, topUp.creditCurrency));
    type.exchangeRate = topUp.fx ? ExchangeRateType.fromRecord(topUp.fx as unknown as FxRecord) : null;
    type.checkoutUrl = topUp.checkoutUrl;
    type.sessionId = topUp.checkoutSessionId;
    type.createdAt = topUp.createdAt;
    type.expiresAt = topUp.expiresAt;
    type.completedAt = topUp.completedAt;
    return type;
  }
}

@ObjectType('AutoTopUpFailure')
export class AutoTopUpFailureType {
  @Field({ description: "Stripe's code, e.g. card_declined or authentication_required." })
  code!: string;

  @Field()
  message!: string;

  @Field()
  at!: Date;
}

@ObjectType('AutoTopUp', { description: 'Automatic top-up: when usage takes the balance to or below `threshold`, the saved card is charged once.' })
export class AutoTopUpType {
  @Field()
  enabled!: boolean;

  @Field(() => MoneyType)
  threshold!: MoneyType;

  @Field(() => AutoTopUpMode)
  mode!: AutoTopUpMode;

  @Field(() => MoneyType, { description: 'FIXED_AMOUNT: the amount charged; TOP_UP_TO: the balance to reach.' })
  amount!: MoneyType;

  @Field(() => MoneyType, { description: 'Most that automatic top-ups charge per UTC day.' })
  dailyCap!: MoneyType;

  @Field()
  stripeCustomerId!: string;

  @Field()
  paymentMethodId!: string;

  @Field(() => Int, { description: 'Declines in a row; reset by a successful automatic top-up or by setting the rule again.' })
  consecutiveFailures!: number;

  @Field(() => Date, { nullable: true, description: 'After a decline: no new attempt before this instant.' })
  backoffUntil!: Date | null;

  @Field(() => AutoTopUpFailureType, { nullable: true })
  lastFailure!: AutoTopUpFailureType | null;

  @Field()
  updatedAt!: Date;

  static from(rule: AutoTopUpRule): AutoTopUpType {
    const type = new AutoTopUpType();
    type.enabled = rule.enabled;
    type.threshold = MoneyType.from(Money.of(rule.thresholdMinor, rule.currency));
    type.mode = rule.mode;
    type.amount = MoneyType.from(Money.of(rule.amountMinor, rule.currency));
    type.dailyCap = MoneyType.from(Money.of(rule.dailyCapMinor, rule.currency));
    type.stripeCustomerId = rule.stripeCustomerId;
    type.paymentMethodId = rule.stripePaymentMethodId;
    type.consecutiveFailures = rule.consecutiveFailures;
    type.backoffUntil = rule.backoffUntil;
    if (rule.lastFailureCode && rule.lastFailureAt) {
      const failure = new AutoTopUpFailureType();
      failure.code = rule.lastFailureCode;
      failure.message = rule.lastFailureMessage ?? '';
      failure.at = rule.lastFailureAt;
      type.lastFailure = failure;
    } else {
      type.lastFailure = null;
    }
    type.updatedAt = rule.updatedAt;
    return type;
  }
}

@InputType('CreateTopUpInput')
export class CreateTopUpInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => MoneyInput, {
    description:
      "The credit to buy, priced in the payment currency; within the currency's limits. VAT is charged on top where it applies (TopUp.tax, TopUp.total). Another currency than the account's is converted at a stored rate.",
  })
  amount!: MoneyInput;

  @Field({ description: "The client's key for this top-up (1-128 of A-Z a-z 0-9 . _ : @ -): sending it again returns the same top-up and Checkout Session." })
  idempotencyKey!: string;

  @Field(() => String, { nullable: true, description: RETURN_ORIGIN_DESCRIPTION })
  returnOrigin?: string | null;
}

@InputType('SetAutoTopUpInput')
export class SetAutoTopUpInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => MoneyInput, { description: 'Charge when the balance falls to or below this (account currency).' })
  threshold!: MoneyInput;

  @Field(() => AutoTopUpMode)
  mode!: AutoTopUpMode;

  @Field(() => MoneyInput, { description: 'FIXED_AMOUNT: the amount to charge; TOP_UP_TO: the balance to reach.' })
  amount!: MoneyInput;

  @Field(() => MoneyInput, { description: 'Most to charge automatically per UTC day.' })
  dailyCap!: MoneyInput;

  @Field({ description: 'The Stripe customer holding the saved payment method (cus_...).' })
  stripeCustomerId!: string;

  @Field({ description: 'The saved payment method to charge off-session (pm_...).' })
  paymentMethodId!: string;
}
