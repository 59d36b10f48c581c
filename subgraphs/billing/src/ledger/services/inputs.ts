import { z } from 'zod';
import { ErrorCode, uuidSchema, validateInput } from '@saldo/graphql';
import { BillingErrorCode } from '../../shared/errors.js';
import { moneyInputSchema } from '../../shared/inputs.js';
import { OverdraftMode } from '../entities/account.js';

/** Largest overdraft limit (minor units): 10,000,000.00 in a two-decimal currency. */
export const MAX_OVERDRAFT_LIMIT_MINOR = 1_000_000_000n;

const overdraftPolicySchema = z
  .object({
    tenantId: uuidSchema,
    mode: z.enum(OverdraftMode),
    limit: moneyInputSchema.nullish().transform((value) => value ?? null),
  })
  .superRefine((value, ctx) => {
    if (value.mode === OverdraftMode.BLOCK && value.limit && value.limit.amountMinor !== 0n) {
      ctx.addIssue({
        code: 'custom',
        path: ['limit'],
        message: 'applies only to ALLOW_OVERDRAFT; omit it for BLOCK',
        params: { code: ErrorCode.BadUserInput },
      });
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
