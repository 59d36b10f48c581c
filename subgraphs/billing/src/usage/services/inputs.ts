import { z } from 'zod';
import { ErrorCode, uuidSchema } from '@saldo/graphql';
import { BillingErrorCode, coded } from '../../shared/errors.js';
import { EVENT_ID_PATTERN, currencySchema, instantSchema } from '../../shared/inputs.js';
import { parseUnitPrice } from '../../shared/unit-price.js';
import { MAX_QUANTITY } from '../pricing.js';

/** Product names: lower-case identifiers, as on the rate card (inbound_minute, outbound_minute, sms). */
export const PRODUCT_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
export const MAX_USAGE_BATCH = 1000;
/** How far in the future an occurredAt may lie (clock skew between the metering source and billing). */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;
export const productSchema = z.string().refine((value) => PRODUCT_PATTERN.test(value), {
  message: 'must be a product name like inbound_minute (lower-case letters, digits, underscores)',
  ...coded(BillingErrorCode.UnknownProduct),
});

const quantitySchema = z
  .union([z.number(), z.bigint()])
  .refine(
    (value) => (typeof value === 'bigint' ? value > 0n && value <= BigInt(MAX_QUANTITY) : Number.isInteger(value) && value > 0 && value <= MAX_QUANTITY),
    {
      message: `must be a whole number of units from 1 to ${MAX_QUANTITY}`,
      ...coded(BillingErrorCode.InvalidQuantity),
    },
  )
  .transform((value) => BigInt(value));

export function usageBatchSchema(now: () => Date) {
  return z.object({
    tenantId: uuidSchema,
    events: z
      .array(
        z.object({
          id: z.string().refine((value) => EVENT_ID_PATTERN.test(value), {
            message: 'must be 1-128 letters, digits or . _ : @ - starting with a letter or digit',
            ...coded(ErrorCode.InvalidId),
          }),
          product: productSchema,
          quantity: quantitySchema,
          occurredAt: instantSchema.refine((value) => value.getTime() <= now().getTime() + FUTURE_TOLERANCE_MS, {
            message: `must not lie more than ${FUTURE_TOLERANCE_MS / 60_000} minutes in the future`,
            ...coded(BillingErrorCode.OccurredAtInFuture),
          }),
        }),
      )
      .min(1, 'must contain at least one event')
      .max(MAX_USAGE_BATCH, `must contain at most ${MAX_USAGE_BATCH} events`),
  });
}
export type UsageBatch = z.output<ReturnType<typeof usageBatchSchema>>;
export type UsageEventCommand = UsageBatch['events'][number];

export const publishRateSchema = z
  .object({
    product: productSchema,
    currency: currencySchema,
    unitPriceMinor: z.string().transform((value, ctx) => {
      try {
        return parseUnitPrice(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message, params: { code: BillingErrorCode.InvalidPrice } });
        return z.NEVER;
      }
    }),
    validFrom: instantSchema.nullish().transform((value) => value ?? null),
    validTo: instantSchema.nullish().transform((value) => value ?? null),
  })
  .superRefine((value, ctx) => {
    if (value.validTo && value.validFrom && value.validTo.getTime() <= value.validFrom.getTime()) {
      ctx.addIssue({ code: 'custom', path: ['validTo'], message: 'must be later than validFrom', params: { code: BillingErrorCode.RateWindowConflict } });
    }
  });
export type PublishRateCommand = z.output<typeof publishRateSchema>;
