import { z } from 'zod';
import { ErrorCode, uuidSchema, validateInput } from '@saldo/graphql';
import { isCurrencyCode } from '@saldo/money';
import { MAX_QUANTITY, parseUnitPrice } from '../domain/pricing.js';
import { OverdraftMode } from '../entities/account.js';
import { BillingErrorCode, coded } from '../errors.js';

/** Product names: lower-case identifiers, as on the rate card (inbound_minute, outbound_minute, sms). */
export const PRODUCT_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
/**
 * Usage event ids are the metering source's own ids (a call id, a message id, a UUID): 1-128 characters of
 * letters, digits and . _ : @ -, starting with a letter or digit. Anything else is INVALID_ID.
 */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
export const MAX_USAGE_BATCH = 1000;
/** How far in the future an occurredAt may lie (clock skew between the metering source and billing). */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;
/** Largest overdraft limit (minor units): 10,000,000.00 in a two-decimal currency. */
export const MAX_OVERDRAFT_LIMIT_MINOR = 1_000_000_000n;

export const currencySchema = z
  .string()
  .transform((value) => value.trim().toUpperCase())
  .refine((value) => isCurrencyCode(value), { message: 'must be an ISO 4217 currency code', ...coded(ErrorCode.InvalidCurrency) });

export const productSchema = z.string().refine((value) => PRODUCT_PATTERN.test(value), {
  message: 'must be a product name like inbound_minute (lower-case letters, digits, underscores)',
  ...coded(BillingErrorCode.UnknownProduct),
});

/** A Date or an ISO 8601 string with a time zone; anything else (an invalid Date included) is BAD_USER_INPUT. */
export const instantSchema = z.union([z.date(), z.iso.datetime({ offset: true }).transform((value) => new Date(value))]).refine(
  (value) => !Number.isNaN(value.getTime()),
  { message: 'must be a valid date-time' },
);

const quantitySchema = z
  .union([z.number(), z.bigint()])
  .refine((value) => (typeof value === 'bigint' ? value > 0n && value <= BigInt(MAX_QUANTITY) : Number.isInteger(value) && value > 0 && value <= MAX_QUANTITY), {
    message: `must be a whole number of units from 1 to ${MAX_QUANTITY}`,
    ...coded(BillingErrorCode.InvalidQuantity),
  })
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
    unitPriceMinor: z
      .string()
      .transform((value, ctx) => {
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

const moneyInputSchema = z.object({
  amountMinor: z.union([z.bigint(), z.number().int()]).transform((value): bigint => BigInt(value)),
  currency: currencySchema,
});

const overdraftPolicySchema = z
  .object({
    tenantId: uuidSchema,
    mode: z.enum(OverdraftMode),
    limit: moneyInputSchema.nullish().transform((value) => value ?? null),
  })
  .superRefine((value, ctx) => {
    if (value.mode === OverdraftMode.BLOCK && value.limit && value.limit.amountMinor !== 0n) {
      ctx.addIssue({ code: 'custom', path: ['limit'], message: 'applies only to ALLOW_OVERDRAFT; omit it for BLOCK', params: { code: ErrorCode.BadUserInput } });
    }
    if (value.mode === OverdraftMode.ALLOW_OVERDRAFT && !value.limit) {
      ctx.addIssue({ code: 'custom', path: ['limit'], message: 'is required for ALLOW_OVERDRAFT', params: { code: ErrorCode.BadUserInput } });
    }
    if (value.limit && (value.limit.amountMinor < 0n || value.limit.amountMinor > MAX_OVERDRAFT_LIMIT_MINOR)) {
      ctx.addIssue({
        code: 'custom',
        path: ['limit', 'amountMinor'],
        message: `must be between 0 and ${MAX_OVERDRAFT_LIMIT_MINOR} minor units`,
        params: { code: BillingErrorCode.InvalidAmount },
      });
    }
  });
export interface OverdraftPolicyCommand {
  tenantId: string;
  mode: OverdraftMode;
  limit: { amountMinor: bigint; currency: string } | null;
}

/** Validates a setOverdraftPolicy input (BAD_USER_INPUT, INVALID_ID, INVALID_CURRENCY, INVALID_AMOUNT). */
export function parseOverdraftPolicy(input: unknown): OverdraftPolicyCommand {
  return validateInput(overdraftPolicySchema, input);
}
