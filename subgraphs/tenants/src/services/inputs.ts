import { z } from 'zod';
import { ErrorCode, uuidSchema } from '@saldo/graphql';
import { isCurrencyCode, isValidIban, normalizeIban } from '@saldo/money';
import { isCountryCode } from '../domain/countries.js';
import { isValidVatId, normalizeVatId } from '../domain/vat.js';

/** Limits on free text; longer input is STRING_TOO_LONG, not silently cut. */
export const LIMITS = { name: 200, legalName: 300, addressLine: 200, postalCode: 20, city: 100, region: 100, reason: 500, email: 254 } as const;

const coded = (code: ErrorCode) => ({ params: { code } });

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const optionalText = (max: number) =>
  text(max)
    .nullish()
    .transform((value) => value ?? null);

const countrySchema = z
  .string()
  .transform((value) => value.trim().toUpperCase())
  .refine(isCountryCode, { message: 'must be an ISO 3166-1 alpha-2 country code', ...coded(ErrorCode.InvalidCountry) });

const currencySchema = z
  .string()
  .transform((value) => value.trim().toUpperCase())
  .refine(isCurrencyCode, { message: 'must be an ISO 4217 currency code', ...coded(ErrorCode.InvalidCurrency) });

const addressSchema = z
  .object({
    line1: text(LIMITS.addressLine),
    line2: optionalText(LIMITS.addressLine),
    postalCode: text(LIMITS.postalCode),
    city: text(LIMITS.city),
    region: optionalText(LIMITS.region),
  })
  .nullish()
  .transform((value) => value ?? null);

const vatIdSchema = z
  .string()
  .max(40, 'must be at most 40 characters')
  .transform(normalizeVatId)
  .nullish()
  .transform((value) => (value === '' || value === undefined ? null : value));

/** VAT ids are checked against the tenant's country, so the check sits on the whole object. */
function vatMatchesCountry(value: { vatId: string | null; country: string }, ctx: z.RefinementCtx): void {
  if (value.vatId && !isValidVatId(value.vatId, value.country)) {
    ctx.addIssue({ code: 'custom', path: ['vatId'], message: `is not a valid VAT id for ${value.country}`, params: { code: ErrorCode.InvalidVatId } });
  }
}

export const createTenantSchema = z
  .object({
    name: text(LIMITS.name),
    legalName: optionalText(LIMITS.legalName),
    address: addressSchema,
    country: countrySchema,
    vatId: vatIdSchema,
    currency: currencySchema,
    partnerId: uuidSchema.nullish().transform((value) => value ?? null),
  })
  .superRefine(vatMatchesCountry);
export type CreateTenantCommand = z.output<typeof createTenantSchema>;

export const updateTenantSchema = z.object({
  name: text(LIMITS.name).optional(),
  legalName: optionalText(LIMITS.legalName).optional(),
  address: addressSchema.optional(),
  country: countrySchema.optional(),
  vatId: vatIdSchema.optional(),
});
export type UpdateTenantCommand = z.output<typeof updateTenantSchema>;

export const suspensionReasonSchema = text(LIMITS.reason);

export const createPartnerSchema = z.object({
  name: text(LIMITS.name),
  legalName: optionalText(LIMITS.legalName),
  country: countrySchema,
  contactEmail: z
    .email('must be an email address')
    .max(LIMITS.email)
    .nullish()
    .transform((value) => value ?? null),
});
export type CreatePartnerCommand = z.output<typeof createPartnerSchema>;

/** EU member states: a seller of record must be one (billing applies the VAT rules of an EU seller). */
const EU = new Set([
  'AT',
  'BE',
  'BG',
  'CY',
  'CZ',
  'DE',
  'DK',
  'EE',
  'ES',
  'FI',
  'FR',
  'GR',
  'HR',
  'HU',
  'IE',
  'IT',
  'LT',
  'LU',
  'LV',
  'MT',
  'NL',
  'PL',
  'PT',
  'RO',
  'SE',
  'SI',
  'SK',
]);

export const sellerProfileInputSchema = z
  .object({
    legalName: text(LIMITS.legalName),
    address: z.object({
      line1: text(LIMITS.addressLine),
      line2: optionalText(LIMITS.addressLine),
      postalCode: text(LIMITS.postalCode),
      city: text(LIMITS.city),
    }),
    country: countrySchema,
    vatId: vatIdSchema,
    taxNumber: z
      .string()
      .trim()
      .regex(/^[0-9/ -]{8,20}$/, 'must be a tax number like 37/123/45678')
      .nullish()
      .transform((value) => value ?? null),
    registration: optionalText(LIMITS.legalName),
    managingDirectors: optionalText(LIMITS.legalName),
    email: z.email('must be an email address').max(LIMITS.email),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9 ()/-]{6,30}$/, 'must be a phone number'),
    contactName: text(LIMITS.name),
    website: z
      .url('must be a URL')
      .max(LIMITS.legalName)
      .nullish()
      .transform((value) => value ?? null),
    iban: z.string().refine(isValidIban, 'must be an IBAN with a valid check sum').transform(normalizeIban),
    bic: z
      .string()
      .trim()
      .toUpperCase()
      .regex(/^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/, 'must be a BIC')
      .nullish()
      .transform((value) => value ?? null),
    bankName: optionalText(LIMITS.name),
  })
  .superRefine(vatMatchesCountry)
  .superRefine((value, ctx) => {
    if (!EU.has(value.country))
      ctx.addIssue({
        code: 'custom',
        path: ['country'],
        message: 'a seller of record must be established in an EU member state',
        params: { code: ErrorCode.InvalidCountry },
      });
    if (!value.vatId && !value.taxNumber)
      ctx.addIssue({ code: 'custom', path: ['vatId'], message: 'a VAT id or a tax number is required (§ 14 Abs. 4 Nr. 2 UStG)' });
  });
export type SellerProfileCommand = z.output<typeof sellerProfileInputSchema>;
