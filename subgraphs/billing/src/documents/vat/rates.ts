import { isEuMemberState } from './eu.js';

/**
 * A standard VAT rate of one country from one day on (inclusive), until the next entry of that country.
 * Rates are integers in hundredths of a percent (19 % = 1900, 25.5 % = 2550): never a float.
 */
export interface VatRateEntry {
  country: string;
  /** Hundredths of a percent. */
  basisPoints: number;
  /** ISO date (YYYY-MM-DD), the first day the rate applies. */
  validFrom: string;
}

/**
 * The built-in standard rates of the EU member states with the changes of recent years. It is configuration, not
 * law: operators keep it current with VAT_RATES (entries there replace a country's history whole).
 */
export const DEFAULT_VAT_RATES_TEXT = [
  'AT=20@1984-01-01',
  'BE=21@1996-01-01',
  'BG=20@2007-01-01',
  'CY=19@2014-01-13',
  'CZ=21@2013-01-01',
  'DE=19@2007-01-01',
  'DE=16@2020-07-01',
  'DE=19@2021-01-01',
  'DK=25@1992-01-01',
  'EE=20@2009-07-01',
  'EE=22@2024-01-01',
  'EE=24@2025-07-01',
  'ES=21@2012-09-01',
  'FI=24@2013-01-01',
  'FI=25.5@2024-09-01',
  'FR=20@2014-01-01',
  'GR=24@2016-06-01',
  'HR=25@2012-03-01',
  'HU=27@2012-01-01',
  'IE=23@2012-01-01',
  'IE=21@2020-09-01',
  'IE=23@2021-03-01',
  'IT=22@2013-10-01',
  'LT=21@2009-09-01',
  'LU=17@2015-01-01',
  'LU=16@2023-01-01',
  'LU=17@2024-01-01',
  'LV=21@2012-07-01',
  'MT=18@2004-05-01',
  'NL=21@2012-10-01',
  'PL=23@2011-01-01',
  'PT=23@2011-01-01',
  'RO=19@2017-01-01',
  'RO=21@2025-08-01',
  'SE=25@1990-07-01',
  'SI=22@2013-07-01',
  'SK=20@2011-01-01',
  'SK=23@2025-01-01',
].join(',');

const ENTRY = /^([A-Z]{2})=(\d{1,2}(?:\.\d{1,2})?)@(\d{4}-\d{2}-\d{2})$/;

/** Parses `DE=19@2007-01-01,DE=16@2020-07-01,...`; throws listing every malformed entry. */
export function parseVatRates(text: string): VatRateEntry[] {
  const problems: string[] = [];
  const entries: VatRateEntry[] = [];
  for (const raw of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = ENTRY.exec(raw);
    if (!match) {
      problems.push(`"${raw}" is not COUNTRY=RATE@YYYY-MM-DD (rate in percent, up to two decimals)`);
      continue;
    }
    const [, country, rate, validFrom] = match as unknown as [string, string, string, string];
    if (!isEuMemberState(country)) problems.push(`"${raw}": ${country} is not an EU member state`);
    if (Number.isNaN(Date.parse(`${validFrom}T00:00:00Z`)) || new Date(`${validFrom}T00:00:00Z`).toISOString().slice(0, 10) !== validFrom) {
      problems.push(`"${raw}": ${validFrom} is not a calendar date`);
    }
    const [whole, fraction = ''] = rate.split('.');
    entries.push({ country, basisPoints: Number(whole) * 100 + Number(fraction.padEnd(2, '0')), validFrom });
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const key = `${entry.country}@${entry.validFrom}`;
    if (seen.has(key)) problems.push(`${entry.country} has two rates from ${entry.validFrom}`);
    seen.add(key);
  }
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  return entries;
}

/** Standard VAT rates by country over time: the rate valid on a given day. */
export class VatRateTable {
  private readonly byCountry = new Map<string, VatRateEntry[]>();

  constructor(entries: readonly VatRateEntry[]) {
    for (const entry of entries) {
      const list = this.byCountry.get(entry.country) ?? [];
      list.push(entry);
      this.byCountry.set(entry.country, list);
    }
    for (const list of this.byCountry.values()) list.sort((a, b) => (a.validFrom < b.validFrom ? -1 : 1));
  }

  /** The built-in table, with `overrides` replacing the history of every country they name. */
  static withOverrides(overrides: readonly VatRateEntry[] = []): VatRateTable {
    const replaced = new Set(overrides.map((entry) => entry.country));
    return new VatRateTable([...parseVatRates(DEFAULT_VAT_RATES_TEXT).filter((entry) => !replaced.has(entry.country)), ...overrides]);
  }

  /** The rate (hundredths of a percent) valid in `country` on `day` (YYYY-MM-DD), or null when none is known. */
  rateOn(country: string, day: string): number | null {
    const list = this.byCountry.get(country);
    if (!list) return null;
    let found: VatRateEntry | null = null;
    for (const entry of list) {
      if (entry.validFrom <= day) found = entry;
      else break;
    }
    return found?.basisPoints ?? null;
  }

  countries(): string[] {
    return [...this.byCountry.keys()].sort();
  }
}
