import { divideRoundHalfUp, formatScaledDecimal, parseScaledDecimal } from '@saldo/money';

/**
 * Rate prices are exact decimals of the currency's minor unit per unit of product, stored as integers in
 * millionths of a minor unit ("micros"): 1.25 cents per minute is 1_250_000. Six decimals of a minor unit is
 * eight of a euro, finer than any per-minute or per-message price; never a float, never NUMERIC parsing.
 */
export const PRICE_SCALE = 6;
export const MICROS_PER_MINOR = 10n ** BigInt(PRICE_SCALE);

/** 1,000,000 minor units (10,000 EUR) per unit: with quantities up to 2^31-1 a charge stays below 2^53. */
export const MAX_UNIT_PRICE_MICROS = 10n ** 12n;

/** The largest quantity one usage event may carry (GraphQL Int). */
export const MAX_QUANTITY = 2 ** 31 - 1;

/** "1.25" -> 1_250_000n; RangeError for anything negative, too precise, too large or not a plain decimal. */
export function parseUnitPrice(decimal: string): bigint {
  const micros = parseScaledDecimal(decimal, PRICE_SCALE);
  if (micros < 0n) throw new RangeError('a unit price cannot be negative');
  if (micros > MAX_UNIT_PRICE_MICROS) throw new RangeError(`a unit price cannot exceed ${formatUnitPrice(MAX_UNIT_PRICE_MICROS)} minor units`);
  return micros;
}

/** 1_250_000n -> "1.25" (minor units per unit, no trailing zeros). */
export function formatUnitPrice(micros: bigint): string {
  return formatScaledDecimal(micros, PRICE_SCALE);
}

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
