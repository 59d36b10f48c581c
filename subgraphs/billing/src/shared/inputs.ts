import { z } from 'zod';
import { ErrorCode } from '@saldo/graphql';
import { isCurrencyCode } from '@saldo/money';
import { coded } from './errors.js';

/**
 * Usage event ids are the metering source's own ids (a call id, a message id, a UUID): 1-128 characters of
 * letters, digits and . _ : @ -, starting with a letter or digit. Anything else is INVALID_ID.
 */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export const currencySchema = z
  .string()
  .transform((value) => value.trim().toUpperCase())
  .refine((value) => isCurrencyCode(value), { message: 'must be an ISO 4217 currency code', ...coded(ErrorCode.InvalidCurrency) });

/** A Date or an ISO 8601 string with a time zone; anything else (an invalid Date included) is BAD_USER_INPUT. */
export const instantSchema = z
  .union([z.date(), z.iso.datetime({ offset: true }).transform((value) => new Date(value))])
  .refine((value) => !Number.isNaN(value.getTime()), { message: 'must be a valid date-time' });

/** A MoneyInput: integer minor units (bigint or safe integer) and an ISO 4217 code. */
export const moneyInputSchema = z.object({
  amountMinor: z.union([z.bigint(), z.number().int()]).transform((value): bigint => BigInt(value)),
  currency: currencySchema,
});
