import { formatScaledDecimal, parseScaledDecimal } from '@saldo/money';

/**
 * Rate prices are exact decimals of the currency's minor unit per unit of product, stored as integers in
 * millionths of a minor unit ("micros"): 1.25 cents per minute is 1_250_000. Six decimals of a minor unit is
 * eight of a euro, finer than any per-minute or per-message price; never a float, never NUMERIC parsing.
 */
export const PRICE_SCALE = 6;
export const MICROS_PER_MINOR = 10n ** BigInt(PRICE_SCALE);

/** 1,000,000 minor units (10,000 EUR) per unit: with quantities up to 2^31-1 a charge stays below 2^53. */
export const MAX_UNIT_PRICE_MICROS = 10n ** 12n;

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
