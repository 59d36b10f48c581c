/**
 * Secrets, tokens and card data never reach a log line (docs/decisions/0026-observability.md). Two nets: fields whose
 * name says they hold a secret are replaced whole, and every string (messages, field values, error messages and stacks)
 * is scrubbed of what looks like a credential wherever it appears: JWTs, bearer credentials, Saldo API keys, Stripe
 * keys and webhook secrets, PEM private keys, and card numbers (13-19 digits passing the Luhn check).
 */

export const REDACTED = '[redacted]';

const SECRET_KEY = /authorization|password|passwd|secret|token|api[-_]?key|cookie|card[-_]?number|^pan$|cvc|cvv|private[-_]?key|signature/i;

const PATTERNS: Array<[RegExp, string | ((match: string) => string)]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  [/\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, REDACTED],
  [/\b(Bearer|Basic)\s+[\w.~+/=-]+/gi, `$1 ${REDACTED}`],
  [/\b(saldo_pk_[\w]{16})_[\w-]{20,}/g, `$1_${REDACTED}`],
  [/\b(sk|rk)_(live|test)_[\w]+/g, REDACTED],
  [/\bwhsec_[\w+/=]+/g, REDACTED],
  [/\b(?:\d[ -]?){12,18}\d\b/g, (match) => (luhn(match.replace(/[ -]/g, '')) ? REDACTED : match)],
];

/** A string with every credential-looking part replaced. Cheap when there is nothing to find (one test per pattern). */
export function scrub(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) {
    pattern.lastIndex = 0;
    if (pattern.test(out)) {
      pattern.lastIndex = 0;
      out = out.replace(pattern, replacement as string);
    }
  }
  return out;
}

/** Log fields made safe and serializable: secret-named fields replaced, strings scrubbed, errors as message + stack. */
export function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in fields) out[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(fields[key], 0);
  return out;
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrub(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { message: scrub(value.message), ...(value.stack ? { stack: scrub(value.stack) } : {}) };
  if (depth >= 4) return '[object]';
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = SECRET_KEY.test(key) ? REDACTED : redactValue((value as Record<string, unknown>)[key], depth + 1);
  return out;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}
