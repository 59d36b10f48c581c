import type { Language } from './i18n';

const locale = (language: Language) => (language === 'de' ? 'de-DE' : 'en-GB');

/** Fraction digits of a currency (ISO 4217 exponent) as Intl knows it. */
function exponent(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/**
 * Integer minor units to a localized amount, exactly: the decimal string is built from the integer (never a float
 * division) and formatted as a string, which Intl.NumberFormat treats as an exact decimal.
 */
export function formatMoney(amountMinor: number, currency: string, language: Language): string {
  const digits = exponent(currency);
  const minor = BigInt(amountMinor);
  const negative = minor < 0n;
  const absolute = (negative ? -minor : minor).toString().padStart(digits + 1, '0');
  const decimal = digits === 0 ? absolute : `${absolute.slice(0, -digits)}.${absolute.slice(-digits)}`;
  const format = new Intl.NumberFormat(locale(language), { style: 'currency', currency }).format as (value: string) => string;
  return format(`${negative ? '-' : ''}${decimal}`);
}

/** A UTC calendar day (yyyy-mm-dd) as a localized date. */
export function formatDay(day: string, language: Language, options: Intl.DateTimeFormatOptions = { dateStyle: 'medium' }): string {
  return new Intl.DateTimeFormat(locale(language), { ...options, timeZone: 'UTC' }).format(new Date(`${day}T00:00:00Z`));
}

export function formatTime(iso: string, language: Language): string {
  return new Intl.DateTimeFormat(locale(language), { timeStyle: 'medium' }).format(new Date(iso));
}

export function formatDateTime(iso: string, language: Language): string {
  return new Intl.DateTimeFormat(locale(language), { dateStyle: 'short', timeStyle: 'medium' }).format(new Date(iso));
}

export function formatNumber(value: number, language: Language): string {
  return new Intl.NumberFormat(locale(language), { maximumFractionDigits: 0 }).format(value);
}

export function formatPercent(value: number, language: Language): string {
  return new Intl.NumberFormat(locale(language), { style: 'percent', maximumFractionDigits: 0 }).format(value);
}

/** A typed amount ("50", "50.5", "1.234,56" is not accepted: one decimal separator, no grouping) to integer minor units. */
export function parseMoney(text: string, currency: string): number | null {
  const digits = exponent(currency);
  const match = /^\s*(\d{1,9})(?:[.,](\d*))?\s*$/.exec(text);
  if (!match) return null;
  const fraction = match[2] ?? '';
  if (fraction.length > digits) return null;
  const minor = BigInt(match[1]!) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
  return minor > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(minor);
}

/** Integer minor units as a plain decimal for an input field ("50.00"). */
export function minorToInput(amountMinor: number, currency: string): string {
  const digits = exponent(currency);
  const text = BigInt(amountMinor)
    .toString()
    .padStart(digits + 1, '0');
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}
