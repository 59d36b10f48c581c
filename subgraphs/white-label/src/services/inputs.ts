import { z } from 'zod';
import { ErrorCode, normalizeEmbeddableUrl } from '@saldo/graphql';
import { BRANDING_FIELDS, type BrandingField, type BrandingValues } from '../domain/branding.js';

/** Limits on branding values; longer input is STRING_TOO_LONG, not silently cut. */
export const LIMITS = { displayName: 100, url: 2048, email: 254 } as const;

const coded = (code: ErrorCode) => ({ params: { code } });

// Control characters (newlines, NUL, ...) have no place in a name shown in page titles and e-mails.
const CONTROL_CHARACTERS = /\p{Cc}/u;

const displayNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(LIMITS.displayName, `must be at most ${LIMITS.displayName} characters`)
  .refine((value) => !CONTROL_CHARACTERS.test(value), { message: 'must not contain control characters' });

/** #RRGGBB, stored upper case so that equal colors compare equal. */
const colorSchema = z
  .string()
  .trim()
  .refine((value) => /^#[0-9a-f]{6}$/i.test(value), { message: 'must be a hex color like #0F766E', ...coded(ErrorCode.InvalidColor) })
  .transform((value) => value.toUpperCase());

/** An absolute https URL without credentials; portals embed it, so plain http would be mixed content. */
export function isHttpsUrl(value: string): boolean {
  if (/\s/.test(value) || !URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' && url.hostname.length > 0 && url.username === '' && url.password === '';
}

const logoUrlSchema = z
  .string()
  .trim()
  .max(LIMITS.url, `must be at most ${LIMITS.url} characters`)
  .refine(isHttpsUrl, { message: 'must be an absolute https:// URL', ...coded(ErrorCode.InvalidUrl) })
  // Stored normalised (docs/security.md, attack 9): quotes and brackets cannot break out of an attribute or url(...).
  .transform(normalizeEmbeddableUrl);

const emailFormat = z.email();

const supportEmailSchema = z
  .string()
  .trim()
  .max(LIMITS.email, `must be at most ${LIMITS.email} characters`)
  .refine((value) => emailFormat.safeParse(value).success, { message: 'must be an email address', ...coded(ErrorCode.InvalidEmail) });

/** Omitted (undefined) leaves a field unchanged; null clears it, so the level inherits it again. */
const change = <S extends z.ZodType>(schema: S) => schema.nullable().optional();

export const brandingInputSchema = z.object({
  displayName: change(displayNameSchema),
  primaryColor: change(colorSchema),
  accentColor: change(colorSchema),
  logoUrl: change(logoUrlSchema),
  supportEmail: change(supportEmailSchema),
});
export type BrandingChanges = z.output<typeof brandingInputSchema>;

/** The fields a validated input changes, each with its new value (null = clear); omitted fields are absent. */
export function changedValues(changes: BrandingChanges): Partial<BrandingValues> {
  const values: Partial<BrandingValues> = {};
  for (const field of BRANDING_FIELDS) {
    const value = changes[field];
    if (value !== undefined) values[field] = value;
  }
  return values;
}

export function fieldNames(values: Partial<BrandingValues>): BrandingField[] {
  return BRANDING_FIELDS.filter((field) => field in values);
}
