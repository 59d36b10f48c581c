import { parseConfig, z, type Env } from '@saldo/config';
import { subgraphConfigSchema } from '@saldo/subgraph';
import { checkDocumentsConfig, documentsConfigFields } from './documents/index.js';
import { checkPaymentsConfig, paymentsConfigFields } from './payments/index.js';

/** Billing's settings: the shared subgraph settings plus each module's own (payments: Stripe, top-ups, auto-top-up; documents: the seller of record, VAT rates, download links, the statement run). */
export const billingConfigSchema = subgraphConfigSchema.extend({ ...paymentsConfigFields, ...documentsConfigFields }).superRefine((value, ctx) => {
  checkPaymentsConfig(value, ctx);
  checkDocumentsConfig(value, ctx);
});
export type BillingConfig = z.output<typeof billingConfigSchema>;

export function loadBillingConfig(env: Env): BillingConfig {
  return parseConfig('billing', billingConfigSchema, env);
}
