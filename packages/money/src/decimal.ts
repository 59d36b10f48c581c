/**
 * Exact decimal helpers on bigint. Money never touches a float: fractional quantities (a price of 1.25 cents per
 * minute, say) are integers scaled by a power of ten, and every division says how it rounds.
 */

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/**
 * Parses a plain decimal string ("1.25", "-0.5", "3") into an integer scaled by 10^scale ("1.25", 6 ->
 * 1_250_000n). Refuses more fractional digits than `scale` instead of rounding them, and anything that is not a
 * plain decimal (exponents, spaces, "1.", ".5", "+1") with a RangeError.
 */
export function parseScaledDecimal(value: string, scale: number): bigint {
  assertScale(scale);
  const match = DECIMAL.exec(value);
  if (!match) throw new RangeError(`"${value}" is not a plain decimal number`);
  const [, sign, whole = '0', fraction = ''] = match;
  if (fraction.length > scale) throw new RangeError(`"${value}" has more than ${scale} decimal places`);
  const magnitude = BigInt(whole) * 10n ** BigInt(scale) + BigInt(fraction.padEnd(scale, '0') || '0');
  return sign ? -magnitude : magnitude;
}

/** Formats an integer scaled by 10^scale as a decimal string without trailing zeros (1_250_000n, 6 -> "1.25"). */
export function formatScaledDecimal(value: bigint, scale: number): string {
  assertScale(scale);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const whole = scale === 0 ? digits : digits.slice(0, -scale);
  const fraction = scale === 0 ? '' : digits.slice(-scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/**
 * numerator / denominator rounded half up, i.e. to the nearest integer with exact halves rounded away from zero
 * (2.5 -> 3, -2.5 -> -3, 2.4999 -> 2). The denominator must be positive.
 */
export function divideRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  const quotient = (magnitude * 2n + denominator) / (denominator * 2n);
  return negative ? -quotient : quotient;
}

function assertScale(scale: number): void {
  if (!Number.isInteger(scale) || scale < 0 || scale > 18) throw new RangeError(`scale must be an integer 0..18, got ${scale}`);
}
