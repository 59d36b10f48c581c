import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Check, Entity, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

export const RATE_CHECKS = {
  product: { name: 'rate_product_check', expression: "product ~ '^[a-z][a-z0-9_]{0,63}$'" },
  price: { name: 'rate_unit_price_micros_check', expression: 'unit_price_micros >= 0' },
  window: { name: 'rate_valid_window_check', expression: 'valid_to is null or valid_to > valid_from' },
} as const;

/**
 * One version of the price of a product in a currency, valid in [validFrom, validTo) (validTo null: open-ended).
 * Platform-wide, so it lives in billing's control database. Versions of one (product, currency) never overlap:
 * publishing a new version ends the previous one where the new one starts (RateService.publish).
 */
@Entity({ tableName: 'rate' })
@Unique({ properties: ['product', 'currency', 'validFrom'] })
@Check(RATE_CHECKS.product)
@Check(RATE_CHECKS.price)
@Check(RATE_CHECKS.window)
export class Rate {
  [OptionalProps]?: 'validTo';

  /** UUIDv7. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'text' })
  product!: string;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  /** Price per unit in millionths of the currency's minor unit (1.25 cents = 1_250_000). */
  @Property({ type: new BigIntType('bigint') })
  unitPriceMicros!: bigint;

  @Property({ type: 'timestamptz' })
  validFrom!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  validTo: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}
