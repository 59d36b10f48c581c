/**
 * Leitweg-ID (KoSIT "Format-Spezifikation Leitweg-ID" 2.0): the buyer reference German public buyers require on an
 * XRechnung. Coarse address (2-12 digits), optional fine address (up to 30 letters and digits), check digits (2),
 * separated by hyphens; the check digits follow ISO/IEC 7064 MOD 97-10 over coarse and fine address (letters A-Z count
 * as 10-35), as for an IBAN.
 */
const SHAPE = /^(\d{2,12})(?:-([A-Za-z0-9]{1,30}))?-(\d{2})$/;

function mod97(digits: string): number {
  let remainder = 0;
  for (const char of digits) remainder = (remainder * 10 + Number(char)) % 97;
  return remainder;
}

const toDigits = (value: string) => value.toUpperCase().replace(/[A-Z]/g, (letter) => String(letter.charCodeAt(0) - 55));

/** Normalized (fine address upper case) when `value` is a well-formed Leitweg-ID with correct check digits, else null. */
export function parseLeitwegId(value: string): string | null {
  const trimmed = value.trim();
  if (trimmed.length > 46) return null;
  const match = SHAPE.exec(trimmed);
  if (!match) return null;
  const [, coarse, fine = '', check] = match as unknown as [string, string, string | undefined, string];
  if (mod97(toDigits(`${coarse}${fine}${check}`)) !== 1) return null;
  return fine ? `${coarse}-${fine.toUpperCase()}-${check}` : `${coarse}-${check}`;
}

/** The check digits for a coarse and fine address (used to build valid ids in tests and demo data). */
export function leitwegCheckDigits(coarse: string, fine = ''): string {
  return String(98 - mod97(toDigits(`${coarse}${fine}00`))).padStart(2, '0');
}
