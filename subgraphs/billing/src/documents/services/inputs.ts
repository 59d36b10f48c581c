import { z } from 'zod';
import { ErrorCode, uuidSchema, validateInput } from '@saldo/graphql';
import { BillingErrorCode, coded } from '../../shared/errors.js';
import { EVENT_ID_PATTERN, moneyInputSchema } from '../../shared/inputs.js';
import type { CreditNoteInput } from './document-service.js';

const creditNoteSchema = z.object({
  documentId: uuidSchema,
  amount: moneyInputSchema.refine((money) => money.amountMinor > 0n && money.amountMinor <= 10n ** 15n, {
    message: 'must be a positive amount of minor units',
    path: ['amountMinor'],
    ...coded(BillingErrorCode.InvalidAmount),
  }),
  reason: z.string().trim().min(3, 'must be at least 3 characters').max(500, 'must be at most 500 characters'),
  idempotencyKey: z.string().refine((value) => EVENT_ID_PATTERN.test(value), {
    message: 'must be 1-128 letters, digits or . _ : @ - starting with a letter or digit',
    ...coded(ErrorCode.InvalidId),
  }),
});

/** Validates issueCreditNote's input: INVALID_ID, INVALID_CURRENCY, INVALID_AMOUNT, BAD_USER_INPUT (reason). */
export function parseCreditNoteInput(input: unknown): CreditNoteInput {
  return validateInput(creditNoteSchema, input);
}

/** YYYY-MM */
export const periodSchema = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, { message: 'must be a month, YYYY-MM', ...coded(BillingErrorCode.InvalidPeriod) });
