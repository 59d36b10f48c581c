import { z } from 'zod';
import { uuidSchema } from '@saldo/graphql';
import { isIsoDay, utcDay } from '../domain/days.js';
import { ForecastErrorCode } from '../errors.js';

/** Window sizes for daily totals: one day up to a (leap) year. */
export const DAYS = { default: 30, min: 1, max: 366 } as const;

export const PRODUCT_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** Tenant ids compare as lower-case text here (directory cache, result maps), as PostgreSQL prints uuids. */
export const tenantIdSchema = uuidSchema.transform((value) => value.toLowerCase());

export const daysSchema = z
  .number('must be an integer')
  .int('must be an integer')
  .min(DAYS.min, `must be between ${DAYS.min} and ${DAYS.max}`)
  .max(DAYS.max, `must be between ${DAYS.min} and ${DAYS.max}`);

/** A UTC calendar day: an ISO yyyy-mm-dd string, or a Date (its UTC day). */
export const daySchema = z.preprocess(
  (value) => (value instanceof Date && !Number.isNaN(value.getTime()) ? utcDay(value) : value),
  z.string('must be a yyyy-mm-dd day').refine(isIsoDay, 'must be a calendar day written yyyy-mm-dd'),
);

export const productSchema = z
  .string('must be a product name')
  .regex(PRODUCT_PATTERN, 'must be lower-case letters, digits and underscores, starting with a letter (at most 64)');

/** Integer units of a product: a non-negative safe integer, as number or bigint; carried on as bigint. */
export const quantitySchema = z
  .custom<number | bigint>(
    (value) =>
      (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) ||
      (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)),
    'must be a non-negative safe integer',
  )
  .transform((value) => BigInt(value));

export const usageRecordSchema = z.object({
  tenantId: tenantIdSchema,
  day: daySchema,
  product: productSchema,
  quantity: quantitySchema,
});
export type UsageRecordCommand = z.output<typeof usageRecordSchema>;

export const usageRecordsSchema = z.array(usageRecordSchema);

export const dailyTotalsSchema = z.object({
  tenantIds: z.array(tenantIdSchema),
  days: daysSchema,
});

/** Arguments of Tenant.usage / Query.tenantUsage; null days means the default window. */
export const usageArgsSchema = z.object({
  tenantId: tenantIdSchema,
  days: daysSchema.nullish().transform((value) => value ?? DAYS.default),
});

/** Forecast windows: today plus up to 89 days (depletion is looked for as far). */
export const FORECAST_DAYS = { default: 7, min: 1, max: 90 } as const;

export const forecastArgsSchema = z.object({
  tenantId: tenantIdSchema,
  days: z
    .number('must be an integer')
    .int('must be an integer')
    .refine((days) => days >= FORECAST_DAYS.min && days <= FORECAST_DAYS.max, {
      message: `must be between ${FORECAST_DAYS.min} and ${FORECAST_DAYS.max}`,
      params: { code: ForecastErrorCode.DaysOutOfRange },
    })
    .nullish()
    .transform((value) => value ?? FORECAST_DAYS.default),
});

export const anomaliesArgsSchema = z.object({
  tenantId: tenantIdSchema,
  since: z
    .date()
    .nullish()
    .transform((value) => value ?? null),
});

export const resolveFraudCaseSchema = z.object({
  id: uuidSchema.transform((value) => value.toLowerCase()),
  resolution: z.enum(['CONFIRMED', 'DISMISSED']),
  note: z
    .string()
    .max(2000, 'must be at most 2000 characters')
    .nullish()
    .transform((value) => value ?? null),
});
