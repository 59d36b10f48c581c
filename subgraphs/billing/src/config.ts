import { parseConfig, type Env } from '@saldo/config';
import { subgraphConfigSchema } from '@saldo/subgraph';

/** Billing's settings: the shared subgraph settings; ledger, Stripe and rates settings join here. */
export const billingConfigSchema = subgraphConfigSchema.extend({});
export type BillingConfig = ReturnType<typeof billingConfigSchema.parse>;

export function loadBillingConfig(env: Env): BillingConfig {
  return parseConfig('billing', billingConfigSchema, env);
}
