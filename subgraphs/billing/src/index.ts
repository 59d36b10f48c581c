export { billingSubgraph, buildBillingSchema } from './definition.js';
export { loadBillingConfig, billingConfigSchema, type BillingConfig } from './config.js';
export type { BillingServices } from './graphql/context.js';
export { Account } from './entities/account.js';
