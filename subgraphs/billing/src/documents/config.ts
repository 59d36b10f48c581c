import { readFileSync } from 'node:fs';
import { z } from '@saldo/config';
import { isValidIban, normalizeIban } from '@saldo/money';
import { breakerConfigFields } from '@saldo/resilience';
import type { IssuerSnapshot, LogoImage } from './model.js';
import { isEuMemberState, isEuVatIdOf } from './vat/eu.js';
import { VatRateTable, parseVatRates } from './vat/rates.js';

const HEX_COLOR = /^#[0-9A-Fa-f]{6}$/;

/** Reads a PNG or JPEG logo; anything else is refused. */
export function readLogo(path: string): LogoImage {
  const data = readFileSync(path);
  if (data[0] === 0x89 && data.toString('ascii', 1, 4) === 'PNG') return { mime: 'image/png', data };
  if (data[0] === 0xff && data[1] === 0xd8) return { mime: 'image/jpeg', data };
  throw new Error(`${path} is neither a PNG nor a JPEG image`);
}

/**
 * The documents settings of billing's configuration: the platform operator as seller of record (ISSUER_*), the VAT
 * rate table, download links and the monthly statement run. The issuer is one group: set none of it and documents are
 * refused with MISSING_ISSUER_DATA (production refuses to start instead); set any of it and every missing or malformed
 * field is listed at start.
 */
export const documentsConfigFields = {
  /** The partner-logo fetches' circuit breakers (one per logo host): failures in a row that open one, time before a trial. */
  ...breakerConfigFields('LOGO', { failureThreshold: 3, halfOpenAfterMs: 60_000 }),
  ISSUER_LEGAL_NAME: z.string().min(2).max(200).optional(),
  ISSUER_ADDRESS_LINE1: z.string().min(2).max(200).optional(),
  ISSUER_ADDRESS_LINE2: z.string().max(200).optional(),
  ISSUER_POSTAL_CODE: z
    .string()
    .regex(/^[A-Za-z0-9 -]{3,10}$/, 'must be a postal code')
    .optional(),
  ISSUER_CITY: z.string().min(2).max(100).optional(),
  /** ISO 3166-1 alpha-2 of an EU member state (the VAT rules are those of an EU seller). */
  ISSUER_COUNTRY: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be an ISO 3166 country code')
    .default('DE'),
  /** USt-IdNr. (VAT id); at least one of it and the tax number. */
  ISSUER_VAT_ID: z
    .string()
    .regex(/^[A-Z]{2}[A-Z0-9]{2,13}$/, 'must be a VAT id like DE123456789')
    .optional(),
  /** Steuernummer, e.g. 37/123/45678. */
  ISSUER_TAX_NUMBER: z
    .string()
    .regex(/^[0-9/ -]{8,20}$/, 'must be a tax number like 37/123/45678')
    .optional(),
  /** Handelsregister entry, e.g. "HRB 234567 B, Amtsgericht Charlottenburg". */
  ISSUER_REGISTRATION: z.string().min(3).max(200).optional(),
  ISSUER_MANAGING_DIRECTORS: z.string().min(3).max(200).optional(),
  ISSUER_EMAIL: z.email('must be an e-mail address').optional(),
  ISSUER_PHONE: z
    .string()
    .regex(/^\+?[0-9 ()/-]{6,30}$/, 'must be a phone number')
    .optional(),
  ISSUER_CONTACT_NAME: z.string().min(2).max(100).optional(),
  ISSUER_WEBSITE: z.url().optional(),
  ISSUER_IBAN: z.string().refine(isValidIban, 'must be an IBAN with a valid check sum').optional(),
  ISSUER_BIC: z
    .string()
    .regex(/^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/, 'must be a BIC')
    .optional(),
  ISSUER_BANK_NAME: z.string().min(2).max(100).optional(),
  /** The issuer's logo (PNG or JPEG file), shown on documents unless the tenant's branding brings its own. */
  ISSUER_LOGO_PATH: z
    .string()
    .optional()
    .transform((path, ctx) => {
      if (!path) return null;
      try {
        return readLogo(path);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  ISSUER_DISPLAY_NAME: z.string().min(1).max(100).optional(),
  ISSUER_PRIMARY_COLOR: z.string().regex(HEX_COLOR, 'must be #RRGGBB').default('#0F766E'),
  ISSUER_ACCENT_COLOR: z.string().regex(HEX_COLOR, 'must be #RRGGBB').default('#F59E0B'),
  /** Standard VAT rates `DE=19@2007-01-01,DE=16@2020-07-01,...`; a country named here replaces its built-in history. */
  VAT_RATES: z
    .string()
    .optional()
    .transform((value, ctx) => {
      try {
        return VatRateTable.withOverrides(value ? parseVatRates(value) : []);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** The gateway's public origin: download links point there (the gateway forwards /documents/ to billing). */
  PUBLIC_ORIGIN: z.url().default('http://localhost:4000'),
  /** Signs download links (HMAC-SHA256); at least 32 characters. Unset outside production: a random key per process. */
  DOCUMENT_URL_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** How long a download link works. */
  DOCUMENT_URL_TTL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(300),
  /**
   * How long the PDF link in `document.issued` works. The notifier fetches it when it mails the document (the PDF
   * becomes the attachment), also on a retry up to its retry window (3 days) later, so it lives longer than a link
   * handed to a caller of the graph. 0: events carry no link (the mail points to the portal).
   */
  DOCUMENT_EVENT_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(7 * 86_400),
  /** When the monthly statement run starts (cron, Europe/Berlin): statements for the previous month. */
  STATEMENT_RUN_CRON: z
    .string()
    .regex(/^(\S+\s+){4}\S+$/, 'must be a five-field cron expression')
    .default('0 3 1 * *'),
  /** Statements issued concurrently per billing instance during the run. */
  STATEMENT_RUN_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
};

const ISSUER_REQUIRED = [
  'ISSUER_LEGAL_NAME',
  'ISSUER_ADDRESS_LINE1',
  'ISSUER_POSTAL_CODE',
  'ISSUER_CITY',
  'ISSUER_EMAIL',
  'ISSUER_PHONE',
  'ISSUER_CONTACT_NAME',
  'ISSUER_IBAN',
] as const;
const ISSUER_KEYS = Object.keys(documentsConfigFields).filter(
  (key) => key.startsWith('ISSUER_') && !['ISSUER_COUNTRY', 'ISSUER_PRIMARY_COLOR', 'ISSUER_ACCENT_COLOR'].includes(key),
);

type DocumentsSettings = z.output<ReturnType<typeof z.object<typeof documentsConfigFields>>> & { NODE_ENV?: string };

/** Cross-field rules of the documents settings (added to billing's superRefine). */
export function checkDocumentsConfig(value: DocumentsSettings, ctx: z.RefinementCtx): void {
  const anySet = ISSUER_KEYS.some((key) => value[key as keyof DocumentsSettings] != null);
  if (!anySet) {
    if (value.NODE_ENV === 'production')
      ctx.addIssue({ code: 'custom', path: ['ISSUER_LEGAL_NAME'], message: 'the seller of record (ISSUER_*) is required in production' });
  } else {
    for (const key of ISSUER_REQUIRED) if (value[key] == null) ctx.addIssue({ code: 'custom', path: [key], message: 'is required once any ISSUER_* is set' });
    if (!value.ISSUER_VAT_ID && !value.ISSUER_TAX_NUMBER)
      ctx.addIssue({ code: 'custom', path: ['ISSUER_VAT_ID'], message: 'ISSUER_VAT_ID or ISSUER_TAX_NUMBER is required (§ 14 Abs. 4 Nr. 2 UStG)' });
  }
  if (!isEuMemberState(value.ISSUER_COUNTRY)) ctx.addIssue({ code: 'custom', path: ['ISSUER_COUNTRY'], message: 'must be an EU member state' });
  if (value.ISSUER_VAT_ID && !isEuVatIdOf(value.ISSUER_VAT_ID, value.ISSUER_COUNTRY)) {
    ctx.addIssue({ code: 'custom', path: ['ISSUER_VAT_ID'], message: `must be a VAT id of ${value.ISSUER_COUNTRY}` });
  }
  if (value.NODE_ENV === 'production' && !value.DOCUMENT_URL_SECRET)
    ctx.addIssue({
      code: 'custom',
      path: ['DOCUMENT_URL_SECRET'],
      message: 'is required in production (download links must survive restarts and work across instances)',
    });
}

/** The platform operator as seller of record, or null when the configuration names none. */
export function platformIssuer(value: DocumentsSettings): IssuerSnapshot | null {
  if (
    !value.ISSUER_LEGAL_NAME ||
    !value.ISSUER_ADDRESS_LINE1 ||
    !value.ISSUER_POSTAL_CODE ||
    !value.ISSUER_CITY ||
    !value.ISSUER_EMAIL ||
    !value.ISSUER_PHONE ||
    !value.ISSUER_CONTACT_NAME ||
    !value.ISSUER_IBAN
  )
    return null;
  return {
    id: 'platform',
    legalName: value.ISSUER_LEGAL_NAME,
    address: {
      line1: value.ISSUER_ADDRESS_LINE1,
      line2: value.ISSUER_ADDRESS_LINE2 ?? null,
      postalCode: value.ISSUER_POSTAL_CODE,
      city: value.ISSUER_CITY,
      country: value.ISSUER_COUNTRY,
    },
    vatId: value.ISSUER_VAT_ID ?? null,
    taxNumber: value.ISSUER_TAX_NUMBER ?? null,
    registration: value.ISSUER_REGISTRATION ?? null,
    managingDirectors: value.ISSUER_MANAGING_DIRECTORS ?? null,
    email: value.ISSUER_EMAIL,
    phone: value.ISSUER_PHONE,
    contactName: value.ISSUER_CONTACT_NAME,
    website: value.ISSUER_WEBSITE ?? null,
    bank: {
      iban: normalizeIban(value.ISSUER_IBAN),
      bic: value.ISSUER_BIC ?? null,
      bankName: value.ISSUER_BANK_NAME ?? null,
      accountHolder: value.ISSUER_LEGAL_NAME,
    },
    branding: {
      displayName: value.ISSUER_DISPLAY_NAME ?? value.ISSUER_LEGAL_NAME,
      primaryColor: value.ISSUER_PRIMARY_COLOR.toUpperCase(),
      accentColor: value.ISSUER_ACCENT_COLOR.toUpperCase(),
      logo: value.ISSUER_LOGO_PATH,
      supportEmail: value.ISSUER_EMAIL,
    },
  };
}
