import { z } from 'zod';
import { ErrorCode, normalizeUrl, uuidSchema } from '@saldo/graphql';
import { TENANT_KINDS, WEBHOOK_EVENT_TYPES } from './kinds.js';

const coded = (code: ErrorCode) => ({ params: { code } });

export const LIMITS = {
  recipients: 20,
  thresholds: 5,
  endpointsPerOwner: 20,
  url: 2048,
  description: 300,
  maxOverlapSeconds: 7 * 24 * 3600,
  maxRunwayDays: 90,
} as const;

const EMAIL = z.email();

const email = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .refine((value) => EMAIL.safeParse(value).success, { message: 'must be an email address', ...coded(ErrorCode.InvalidEmail) });

const kinds = (allowed: readonly string[], what: string) =>
  z.array(
    z.string().refine((kind) => allowed.includes(kind), { message: `must be one of the ${what}: ${allowed.join(', ')}`, ...coded(ErrorCode.UnknownEventType) }),
  );

export const settingsInputSchema = z.object({
  language: z
    .enum(['EN', 'DE'])
    .transform((value) => value.toLowerCase() as 'en' | 'de')
    .optional(),
  recipients: z
    .array(email)
    .max(LIMITS.recipients, `at most ${LIMITS.recipients} recipients`)
    .transform((list) => [...new Set(list.map((address) => address.toLowerCase()))])
    .optional(),
  lowBalanceThresholds: z
    .array(z.object({ amountMinor: z.bigint().positive('a threshold must be above zero'), currency: z.string() }))
    .max(LIMITS.thresholds, `at most ${LIMITS.thresholds} thresholds`)
    .optional(),
  runwayDaysThreshold: z.number().int().min(1).max(LIMITS.maxRunwayDays).nullable().optional(),
  emailKinds: kinds(TENANT_KINDS, 'notification kinds').optional(),
  liveKinds: kinds(TENANT_KINDS, 'notification kinds').optional(),
});
export type SettingsInput = z.output<typeof settingsInputSchema>;

const url = z
  .string()
  .trim()
  .max(LIMITS.url, `must be at most ${LIMITS.url} characters`)
  .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
    message: 'must be an absolute http(s) URL',
    ...coded(ErrorCode.InvalidUrl),
  })
  // Stored as its WHATWG serialisation: what is stored is what every client parses.
  .transform(normalizeUrl);

const eventTypes = kinds(WEBHOOK_EVENT_TYPES, 'webhook event types').transform((list) => [...new Set(list)]);

export const createEndpointSchema = z
  .object({
    tenantId: uuidSchema.nullish(),
    partnerId: uuidSchema.nullish(),
    url,
    description: z
      .string()
      .trim()
      .max(LIMITS.description)
      .nullish()
      .transform((value) => value ?? null),
    eventTypes: eventTypes.nullish().transform((value) => value ?? []),
  })
  .refine((value) => Boolean(value.tenantId) !== Boolean(value.partnerId), { message: 'give exactly one of tenantId and partnerId', path: ['tenantId'] });

export const updateEndpointSchema = z.object({
  url: url.optional(),
  description: z.string().trim().max(LIMITS.description).nullable().optional(),
  eventTypes: eventTypes.optional(),
  enabled: z.boolean().optional(),
});

export const overlapSchema = z.number().int().min(0).max(LIMITS.maxOverlapSeconds, `at most ${LIMITS.maxOverlapSeconds} seconds`);
