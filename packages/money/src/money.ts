import { isCurrencyCode, minorUnitExponent, type CurrencyCode } from './currencies.js';

/**
 * An amount of money: integer minor units (bigint, never a float) and an ISO 4217 currency.
 * Arithmetic refuses to mix currencies; conversions are a separate, rate-recording step.
 */
export class Money {
  private constructor(
    readonly amountMinor: bigint,
    readonly currency: CurrencyCode,
  ) {}

  static of(amountMinor: bigint | number | string, currency: string): Money {
    if (!isCurrencyCode(currency)) throw new RangeError(`Unknown currency ${currency}`);
    return new Money(toMinorUnits(amountMinor), currency);
  }

  static zero(currency: string): Money {
    return Money.of(0n, currency);
  }

  plus(other: Money): Money {
    this.assertSameCurrency(other);
    return new Money(this.amountMinor + other.amountMinor, this.currency);
  }

  minus(other: Money): Money {
    this.assertSameCurrency(other);
    return new Money(this.amountMinor - other.amountMinor, this.currency);
  }

  isNegative(): boolean {
    return this.amountMinor < 0n;
  }

  equals(other: Money): boolean {
    return this.currency === other.currency && this.amountMinor === other.amountMinor;
  }

  /** Decimal string in major units, e.g. "12.50" for 1250 EUR minor units; exact, no floating point. */
  toDecimalString(): string {
    const exponent = minorUnitExponent(this.currency);
    const negative = this.amountMinor < 0n;
    const digits = (negative ? -this.amountMinor : this.amountMinor).toString().padStart(exponent + 1, '0');
    const whole = exponent === 0 ? digits : digits.slice(0, -exponent);
    const fraction = exponent === 0 ? '' : `.${digits.slice(-exponent)}`;
    return `${negative ? '-' : ''}${whole}${fraction}`;
  }

  toString(): string {
    return `${this.toDecimalString()} ${this.currency}`;
  }

  private assertSameCurrency(other: Money): void {
    if (other.currency !== this.currency) {
      throw new RangeError(`Currency mismatch: ${this.currency} vs ${other.currency}`);
    }
  }
}

function toMinorUnits(value: bigint | number | string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`Minor units must be a safe integer, got ${value}`);
    return BigInt(value);
  }
  if (!/^-?\d+$/.test(value)) throw new RangeError(`Minor units must be an integer, got "${value}"`);
  return BigInt(value);
}
