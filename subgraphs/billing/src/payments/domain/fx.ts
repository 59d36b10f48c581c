import { divideRoundHalfUp, formatScaledDecimal, isCurrencyCode, minorUnitExponent, parseScaledDecimal } from '@saldo/money';

/**
 * Exchange rates are exact decimals with up to 12 places, held as integers scaled by 10^12 ("0.925" is
 * 925_000_000_000n): never a float, and fine enough for any currency pair (1 JPY = 0.006123 EUR keeps every digit).
 */
export const RATE_SCALE = 12;
const RATE_UNIT = 10n ** BigInt(RATE_SCALE);
/** 10^6 of the target currency per unit of the source: generous for every real pair, small enough for exact JSON. */
const MAX_RATE_SCALED = 10n ** 6n * RATE_UNIT;

/** A rate as it was used: `amount in to = amount in from x rate`. Stored on every converted ledger entry. */
export interface ExchangeRate {
  from: string;
  to: string;
  /** rate x 10^12, exact. */
  rateScaled: bigint;
  /** Where the rate came from (configuration, a provider's name and fixing). */
  source: string;
  /** When the rate was fixed, when the source says so. */
  asOf: Date | null;
}

/** Pluggable source of exchange rates; `null` when it has no rate for the pair. */
export interface ExchangeRateProvider {
  rate(from: string, to: string, at: Date): Promise<ExchangeRate | null>;
}

/** "USD/EUR" -> rate x 10^12. */
export type ExchangeRateTable = Readonly<Record<string, bigint>>;

/**
 * The built-in static table: illustrative mid-market rates between EUR, USD, GBP and CHF, one entry per direction
 * (an inverse is not derived: 1/0.925 is not a finite decimal, and a real table quotes both sides anyway). Replace it
 * with EXCHANGE_RATES (or another provider) in production.
 */
export const DEFAULT_EXCHANGE_RATES: ExchangeRateTable = parseExchangeRateTable(
  [
    'EUR/USD=1.0811',
    'USD/EUR=0.925',
    'EUR/GBP=0.8547',
    'GBP/EUR=1.17',
    'EUR/CHF=0.9390',
    'CHF/EUR=1.0650',
    'USD/GBP=0.7906',
    'GBP/USD=1.2649',
    'USD/CHF=0.8686',
    'CHF/USD=1.1513',
    'GBP/CHF=1.0987',
    'CHF/GBP=0.9102',
  ].join(','),
);

/** Parses `USD/EUR=0.925,EUR/USD=1.0811` (RangeError on anything else: unknown currencies, >12 decimals, rate <= 0). */
export function parseExchangeRateTable(value: string): ExchangeRateTable {
  const table: Record<string, bigint> = {};
  for (const part of value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)) {
    const match = /^([A-Z]{3})\/([A-Z]{3})=(.+)$/.exec(part);
    if (!match) throw new RangeError(`"${part}" is not FROM/TO=rate (e.g. USD/EUR=0.925)`);
    const [, from = '', to = '', rate = ''] = match;
    if (!isCurrencyCode(from) || !isCurrencyCode(to)) throw new RangeError(`"${part}": unknown currency`);
    if (from === to) throw new RangeError(`"${part}": a currency does not convert to itself`);
    let scaled: bigint;
    try {
      scaled = parseScaledDecimal(rate, RATE_SCALE);
    } catch (error) {
      throw new RangeError(`"${part}": ${(error as Error).message}`);
    }
    if (scaled <= 0n || scaled > MAX_RATE_SCALED) throw new RangeError(`"${part}": the rate must be positive and at most 1000000`);
    if (table[`${from}/${to}`] !== undefined) throw new RangeError(`"${part}": ${from}/${to} appears twice`);
    table[`${from}/${to}`] = scaled;
  }
  return table;
}

/** A provider over a fixed table (the default): the same rate whatever `at`, labelled with `source`. */
export class StaticExchangeRateProvider implements ExchangeRateProvider {
  constructor(
    private readonly table: ExchangeRateTable,
    private readonly source: string = 'static',
    private readonly asOf: Date | null = null,
  ) {}

  async rate(from: string, to: string): Promise<ExchangeRate | null> {
    const rateScaled = this.table[`${from}/${to}`];
    return rateScaled === undefined ? null : { from, to, rateScaled, source: this.source, asOf: this.asOf };
  }
}

/** "0.925" from 925_000_000_000n. */
export function formatRate(rateScaled: bigint): string {
  return formatScaledDecimal(rateScaled, RATE_SCALE);
}

/**
 * Converts an amount of `rate.from` minor units into `rate.to` minor units: amount x rate, adjusted for the two
 * currencies' minor-unit exponents, rounded HALF UP to the target's minor unit once (exact halves away from zero),
 * in bigint arithmetic only. 50.00 USD at 0.925 -> 46.25 EUR; 10.01 USD at 0.925 = 9.25925 -> 9.26 EUR;
 * 1,000 JPY at 0.006123 = 6.123 EUR -> 6.12 EUR.
 */
export function convertMinor(amountMinor: bigint, rate: Pick<ExchangeRate, 'from' | 'to' | 'rateScaled'>): bigint {
  if (!isCurrencyCode(rate.from) || !isCurrencyCode(rate.to)) throw new RangeError(`unknown currency in ${rate.from}/${rate.to}`);
  const shift = minorUnitExponent(rate.to) - minorUnitExponent(rate.from);
  const numerator = amountMinor * rate.rateScaled * 10n ** BigInt(Math.max(shift, 0));
  const denominator = RATE_UNIT * 10n ** BigInt(Math.max(-shift, 0));
  return divideRoundHalfUp(numerator, denominator);
}

/** What a converted entry records (ledger_entry.metadata.fx): enough to recompute the amount exactly. */
export interface FxRecord {
  from: string;
  to: string;
  /** Exact decimal, e.g. "0.925". */
  rate: string;
  source: string;
  asOf: string | null;
  originalAmountMinor: string;
  originalCurrency: string;
  convertedAmountMinor: string;
  rounding: 'HALF_UP';
}

export function fxRecord(rate: ExchangeRate, originalAmountMinor: bigint, convertedAmountMinor: bigint): FxRecord {
  return {
    from: rate.from,
    to: rate.to,
    rate: formatRate(rate.rateScaled),
    source: rate.source,
    asOf: rate.asOf?.toISOString() ?? null,
    originalAmountMinor: originalAmountMinor.toString(),
    originalCurrency: rate.from,
    convertedAmountMinor: convertedAmountMinor.toString(),
    rounding: 'HALF_UP',
  };
}

/** Reads a rate back from an FxRecord (refunds convert at the rate their payment was credited at). */
export function rateFromRecord(record: Pick<FxRecord, 'from' | 'to' | 'rate' | 'source' | 'asOf'>): ExchangeRate {
  return {
    from: record.from,
    to: record.to,
    rateScaled: parseScaledDecimal(record.rate, RATE_SCALE),
    source: record.source,
    asOf: record.asOf ? new Date(record.asOf) : null,
  };
}
