import { divideRoundHalfUp } from '@saldo/money';
import { MICROS_PER_MINOR } from '../shared/unit-price.js';

/** The largest quantity one usage event may carry (GraphQL Int). */
export const MAX_QUANTITY = 2 ** 31 - 1;

/**
 * What one usage event costs, in minor units: quantity x unit price, rounded half up to the minor unit, once per
 * event (never per batch, so a charge does not depend on how events were grouped into batches or on delivery
 * order). 0.5 cent -> 1 cent, 0.4999 cent -> 0 cents. See docs/decisions/0004-prepaid-ledger.md.
 */
export function usageCost(quantity: bigint, unitPriceMicros: bigint): bigint {
  if (quantity <= 0n) throw new RangeError('quantity must be positive');
  if (unitPriceMicros < 0n) throw new RangeError('unit price cannot be negative');
  return divideRoundHalfUp(quantity * unitPriceMicros, MICROS_PER_MINOR);
}
