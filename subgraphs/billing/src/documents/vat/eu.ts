/**
 * The EU member states for VAT purposes (ISO 3166-1 alpha-2), and the prefix their VAT ids carry (Greece: EL).
 * Special territories outside the EU VAT area (Canary Islands, Åland, ...) have no ISO code of their own here and
 * are not distinguished: a customer there is treated by its country's code.
 */
export const EU_VAT_PREFIX: Readonly<Record<string, string>> = Object.freeze({
  AT: 'AT',
  BE: 'BE',
  BG: 'BG',
  CY: 'CY',
  CZ: 'CZ',
  DE: 'DE',
  DK: 'DK',
  EE: 'EE',
  ES: 'ES',
  FI: 'FI',
  FR: 'FR',
  GR: 'EL',
  HR: 'HR',
  HU: 'HU',
  IE: 'IE',
  IT: 'IT',
  LT: 'LT',
  LU: 'LU',
  LV: 'LV',
  MT: 'MT',
  NL: 'NL',
  PL: 'PL',
  PT: 'PT',
  RO: 'RO',
  SE: 'SE',
  SI: 'SI',
  SK: 'SK',
});

export function isEuMemberState(country: string): boolean {
  return Object.hasOwn(EU_VAT_PREFIX, country);
}

/**
 * A VAT id that can carry a reverse charge for a customer in `country`: issued by that member state (its prefix)
 * and of the shape VIES ids have (2 to 13 letters and digits after the prefix). The tenants subgraph checks the
 * country-specific format when the id is entered; this is the invoicing-side guard that the id and the country
 * belong together.
 */
export function isEuVatIdOf(vatId: string | null | undefined, country: string): vatId is string {
  const prefix = EU_VAT_PREFIX[country];
  if (!prefix || !vatId) return false;
  return vatId.startsWith(prefix) && /^[A-Z0-9+*]{2,13}$/.test(vatId.slice(prefix.length));
}
