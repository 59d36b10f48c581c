import { parseConfig, z, type Env } from '@saldo/config';
import { subgraphConfigSchema } from '@saldo/subgraph';
import { checkPaymentsConfig, paymentsConfigFields } from './payments/index.js';

/** Billing's settings: the shared subgraph settings plus each module's own (payments: Stripe, top-ups, auto-top-up). */
export const billingConfigSchema = subgraphConfigSchema.extend(paymentsConfigFields).superRefine(checkPaymentsConfig);
export type BillingConfig = z.output<typeof billingConfigSchema>;

export function loadBillingConfig(env: Env): BillingConfig {
  return parseConfig('billing', billingConfigSchema, env);
}
