import { z } from 'zod';
import { ErrorCode, uuidSchema, validateInput } from '@saldo/graphql';
import { BillingErrorCode, coded } from '../../shared/errors.js';
import { EVENT_ID_PATTERN, moneyInputSchema } from '../../shared/inputs.js';
import { describeLimit, type TopUpLimits } from '../domain/top-up-limits.js';
import { AutoTopUpMode } from '../entities/auto-top-up.js';

/** Client idempotency keys: 1-128 of A-Z a-z 0-9 . _ : @ -, starting with a letter or digit (a UUID fits). */
export const IDEMPOTENCY_KEY_PATTERN = EVENT_ID_PATTERN;
/** Stripe ids as Saldo accepts them from clients. */
const CUSTOMER_ID = /^cus_[A-Za-z0-9]{1,250}$/;
const PAYMENT_METHOD_ID = /^pm_[A-Za-z0-9_]{1,250}$/;
/** Thresholds and targets: up to 10,000,000.00 in a two-decimal currency. */
export const MAX_RULE_AMOUNT_MINOR = 1_000_000_000n;

function checkLimits(ctx: z.RefinementCtx, path: (string | number)[], amountMinor: bigint, currency: string, limits: TopUpLimits, label = 'a top-up'): void {
  const limit = limits[currency];
  if (!limit) {
    ctx.addIssue({
      code: 'custom',
      path: [...path.slice(0, -1), 'currency'],
      message: `top-ups are not offered in ${currency} (no TOPUP_LIMITS entry)`,
      params: { code: ErrorCode.InvalidCurrency },
    });
    return;
  }
  if (amountMinor <= 0n) {
    ctx.addIssue({ code: 'custom', path, message: 'must be a positive number of minor units', params: { code: BillingErrorCode.InvalidAmount } });
  } else if (amountMinor < limit.minMinor) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `${label} in ${currency} must be ${describeLimit(currency, limit)}`,
      params: { code: BillingErrorCode.AmountTooSmall },
    });
  } else if (amountMinor > limit.maxMinor) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `${label} in ${currency} must be ${describeLimit(currency, limit)}`,
      params: { code: BillingErrorCode.AmountTooLarge },
    });
  }
}

export function createTopUpSchema(limits: TopUpLimits) {
  return z
    .object({
      tenantId: uuidSchema,
      amount: moneyInputSchema,
      idempotencyKey: z.string().refine((value) => IDEMPOTENCY_KEY_PATTERN.test(value), {
        message: 'must be 1-128 letters, digits or . _ : @ - starting with a letter or digit',
        ...coded(ErrorCode.InvalidId),
      }),
      /** Checked against the request's origin by resolveReturnUrls (RETURN_ORIGIN_NOT_ALLOWED). */
      returnOrigin: z.string().max(300).nullish(),
    })
    .superRefine((value, ctx) => checkLimits(ctx, ['amount', 'amountMinor'], value.amount.amountMinor, value.amount.currency, limits));
}
export type CreateTopUpCommand = z.output<ReturnType<typeof createTopUpSchema>>;

/** Validates a createTopUp input: INVALID_ID, INVALID_CURRENCY, INVALID_AMOUNT, AMOUNT_TOO_SMALL, AMOUNT_TOO_LARGE. */
export function parseCreateTopUp(input: unknown, limits: TopUpLimits): CreateTopUpCommand {
  return validateInput(createTopUpSchema(limits), input);
}

export function setAutoTopUpSchema(limits: TopUpLimits) {
  return z
    .object({
      tenantId: uuidSchema,
      threshold: moneyInputSchema,
      mode: z.enum(AutoTopUpMode),
      /** FIXED_AMOUNT: the amount charged; TOP_UP_TO: the balance to reach. */
      amount: moneyInputSchema,
      dailyCap: moneyInputSchema,
      stripeCustomerId: z
        .string()
        .refine((value) => CUSTOMER_ID.test(value), { message: 'must be a Stripe customer id (cus_...)', ...coded(ErrorCode.InvalidId) }),
      paymentMethodId: z
        .string()
        .refine((value) => PAYMENT_METHOD_ID.test(value), { message: 'must be a Stripe payment method id (pm_...)', ...coded(ErrorCode.InvalidId) }),
    })
    .superRefine((value, ctx) => {
      const currency = value.amount.currency;
      for (const field of ['threshold', 'dailyCap'] as const) {
        if (value[field].currency !== currency) {
          ctx.addIssue({ code: 'custom', path: [field, 'currency'], message: `must be ${currency} like amount`, params: { code: ErrorCode.InvalidCurrency } });
          return;
        }
      }
      const threshold = value.threshold.amountMinor;
      if (threshold < 0n || threshold > MAX_RULE_AMOUNT_MINOR) {
        ctx.addIssue({
          code: 'custom',
          path: ['threshold', 'amountMinor'],
          message: `must be 0 to ${MAX_RULE_AMOUNT_MINOR} minor units`,
          params: { code: BillingErrorCode.InvalidAmount },
        });
      }
      const limit = limits[currency];
      if (value.mode === AutoTopUpMode.FIXED_AMOUNT) {
        checkLimits(ctx, ['amount', 'amountMinor'], value.amount.amountMinor, currency, limits, 'an automatic top-up');
      } else if (!limit) {
        checkLimits(ctx, ['amount', 'amountMinor'], value.amount.amountMinor, currency, limits);
      } else if (value.amount.amountMinor > MAX_RULE_AMOUNT_MINOR) {
        ctx.addIssue({
          code: 'custom',
          path: ['amount', 'amountMinor'],
          message: `must be at most ${MAX_RULE_AMOUNT_MINOR} minor units`,
          params: { code: BillingErrorCode.InvalidAmount },
        });
      } else if (value.amount.amountMinor - threshold < limit.minMinor) {
        // Every charge is target - balance >= target - threshold: it must reach the currency's minimum top-up.
        ctx.addIssue({
          code: 'custom',
          path: ['amount', 'amountMinor'],
          message: `the target balance must exceed the threshold by at least the minimum top-up (${describeLimit(currency, limit)})`,
          params: { code: BillingErrorCode.AmountTooSmall },
        });
      }
      if (!limit) return;
      const smallestCharge = value.mode === AutoTopUpMode.FIXED_AMOUNT ? value.amount.amountMinor : limit.minMinor;
      if (value.dailyCap.amountMinor < smallestCharge) {
        ctx.addIssue({
          code: 'custom',
          path: ['dailyCap', 'amountMinor'],
          message: 'must allow at least one automatic top-up a day',
          params: { code: BillingErrorCode.AmountTooSmall },
        });
      } else if (value.dailyCap.amountMinor > MAX_RULE_AMOUNT_MINOR) {
        ctx.addIssue({
          code: 'custom',
          path: ['dailyCap', 'amountMinor'],
          message: `must be at most ${MAX_RULE_AMOUNT_MINOR} minor units`,
          params: { code: BillingErrorCode.InvalidAmount },
        });
      }
    });
}
export type SetAutoTopUpCommand = z.output<ReturnType<typeof setAutoTopUpSchema>>;

/** Validates a setAutoTopUp input (INVALID_ID, INVALID_CURRENCY, INVALID_AMOUNT, AMOUNT_TOO_SMALL, AMOUNT_TOO_LARGE). */
export function parseSetAutoTopUp(input: unknown, limits: TopUpLimits): SetAutoTopUpCommand {
  return validateInput(setAutoTopUpSchema(limits), input);
}
