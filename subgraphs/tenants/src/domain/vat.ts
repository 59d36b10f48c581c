/**
 * VAT identification number formats. EU member states follow the VIES formats (the prefix is the
 * country code, except Greece's "EL"); the UK, Switzerland and Norway have their own. For other
 * countries only a generic shape is checked: their tax ids are not VAT ids in the EU sense.
 * This is a format check; existence is checked against VIES by billing when it matters for invoicing.
 */
const FORMATS: Record<string, { prefix: string; body: RegExp }> = {
  AT: { prefix: 'AT', body: /^U\d{8}$/ },
  BE: { prefix: 'BE', body: /^[01]\d{9}$/ },
  BG: { prefix: 'BG', body: /^\d{9,10}$/ },
  CY: { prefix: 'CY', body: /^\d{8}[A-Z]$/ },
  CZ: { prefix: 'CZ', body: /^\d{8,10}$/ },
  DE: { prefix: 'DE', body: /^\d{9}$/ },
  DK: { prefix: 'DK', body: /^\d{8}$/ },
  EE: { prefix: 'EE', body: /^\d{9}$/ },
  GR: { prefix: 'EL', body: /^\d{9}$/ },
  ES: { prefix: 'ES', body: /^[A-Z0-9]\d{7}[A-Z0-9]$/ },
  FI: { prefix: 'FI', body: /^\d{8}$/ },
  FR: { prefix: 'FR', body: /^[A-HJ-NP-Z0-9]{2}\d{9}$/ },
  HR: { prefix: 'HR', body: /^\d{11}$/ },
  HU: { prefix: 'HU', body: /^\d{8}$/ },
  IE: { prefix: 'IE', body: /^(\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W])$/ },
  IT: { prefix: 'IT', body: /^\d{11}$/ },
  LT: { prefix: 'LT', body: /^(\d{9}|\d{12})$/ },
  LU: { prefix: 'LU', body: /^\d{8}$/ },
  LV: { prefix: 'LV', body: /^\d{11}$/ },
  MT: { prefix: 'MT', body: /^\d{8}$/ },
  NL: { prefix: 'NL', body: /^\d{9}B\d{2}$/ },
  PL: { prefix: 'PL', body: /^\d{10}$/ },
  PT: { prefix: 'PT', body: /^\d{9}$/ },
  RO: { prefix: 'RO', body: /^\d{2,10}$/ },
  SE: { prefix: 'SE', body: /^\d{10}01$/ },
  SI: { prefix: 'SI', body: /^\d{8}$/ },
  SK: { prefix: 'SK', body: /^\d{10}$/ },
  GB: { prefix: 'GB', body: /^(\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2})$/ },
  CH: { prefix: 'CHE', body: /^\d{9}(MWST|TVA|IVA)?$/ },
  NO: { prefix: 'NO', body: /^\d{9}(MVA)?$/ },
};

/** Normalizes user input: upper case, no spaces, dots or dashes ("de 123.456.789" -> "DE123456789"). */
export function normalizeVatId(value: string): string {
  return value.toUpperCase().replace(/[\s.-]/g, '');
}

/** True when `vatId` (normalized) is a well-formed VAT id for `country`. */
export function isValidVatId(vatId: string, country: string): boolean {
  const format = FORMATS[country];
  if (!format) return /^[A-Z0-9]{4,20}$/.test(vatId);
  return vatId.startsWith(format.prefix) && format.body.test(vatId.slice(format.prefix.length));
}
