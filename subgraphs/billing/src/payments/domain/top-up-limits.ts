import { Money, isCurrencyCode, minorUnitExponent, parseScaledDecimal } from '@saldo/money';

/** Bounds of one top-up (manual or automatic), in minor units of the currency paid in. */
export interface TopUpLimit {
  minMinor: bigint;
  maxMinor: bigint;
}

export type TopUpLimits = Readonly<Record<string, TopUpLimit>>;

function limit(currency: string, min: string, max: string): [string, TopUpLimit] {
  const exponent = minorUnitExponent(currency as Parameters<typeof minorUnitExponent>[0]);
  return [currency, { minMinor: parseScaledDecimal(min, exponent), maxMinor: parseScaledDecimal(max, exponent) }];
}

/**
 * Defaults, in major units: 5.00 to 10,000.00 in the euro-sized currencies (well above Stripe's own minimum charge,
 * so card fees stay a small share; the maximum keeps one mistyped amount from charging a fortune), the equivalent in
 * the Nordic crowns, zloty and yen. TOPUP_LIMITS overrides or adds currencies; a currency without limits cannot be
 * paid in.
 */
export const DEFAULT_TOPUP_LIMITS: TopUpLimits = Object.fromEntries([
  limit('EUR', '5.00', '10000.00'),
  limit('USD', '5.00', '10000.00'),
  limit('GBP', '5.00', '10000.00'),
  limit('CHF', '5.00', '10000.00'),
  limit('CAD', '5.00', '10000.00'),
  limit('AUD', '5.00', '10000.00'),
  limit('SEK', '50.00', '100000.00'),
  limit('NOK', '50.00', '100000.00'),
  limit('DKK', '40.00', '75000.00'),
  limit('PLN', '20.00', '40000.00'),
  limit('JPY', '500', '1500000'),
]);

/** Parses `EUR:5.00-10000.00,JPY:500-1500000` (major units, at most the currency's decimals). */
export function parseTopUpLimits(value: string): Record<string, TopUpLimit> {
  const limits: Record<string, TopUpLimit> = {};
  for (const part of value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)) {
    const match = /^([A-Z]{3}):([0-9.]+)-([0-9.]+)$/.exec(part);
    if (!match) throw new RangeError(`"${part}" is not CUR:min-max in major units (e.g. EUR:5.00-10000.00)`);
    const [, currency = '', min = '', max = ''] = match;
    if (!isCurrencyCode(currency)) throw new RangeError(`"${part}": unknown currency ${currency}`);
    let parsed: [string, TopUpLimit];
    try {
      parsed = limit(currency, min, max);
    } catch (error) {
      throw new RangeError(`"${part}": ${(error as Error).message} (${currency} has ${minorUnitExponent(currency)} decimals)`);
    }
    if (parsed[1].minMinor <= 0n || parsed[1].maxMinor < parsed[1].minMinor) throw new RangeError(`"${part}": needs 0 < min <= max`);
    limits[currency] = parsed[1];
  }
  return limits;
}

/** "5.00 EUR - 10000.00 EUR", for messages. */
export function describeLimit(currency: string, limit: TopUpLimit): string {
  return `${Money.of(limit.minMinor, currency).toString()} to ${Money.of(limit.maxMinor, currency).toString()}`;
}
