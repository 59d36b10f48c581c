/**
 * IBAN (ISO 13616): two letters, two check digits, up to 30 letters and digits, and the MOD 97 check (the account
 * number moved behind the country, letters as 10-35, remainder 1). Spaces are ignored; the country's length is not
 * checked (the MOD 97 check catches typing errors either way).
 */
export function normalizeIban(value: string): string {
  return value.replace(/\s+/g, '').toUpperCase();
}

export function isValidIban(value: string): boolean {
  const iban = normalizeIban(value);
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$/.test(iban)) return false;
  const digits = `${iban.slice(4)}${iban.slice(0, 4)}`.replace(/[A-Z]/g, (letter) => String(letter.charCodeAt(0) - 55));
  let remainder = 0;
  for (const char of digits) remainder = (remainder * 10 + Number(char)) % 97;
  return remainder === 1;
}
