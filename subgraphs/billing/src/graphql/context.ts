import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import type { AccountService, BalanceView } from '../services/account-service.js';

export interface BillingServices {
  accounts: AccountService;
}

export type BillingContext = SubgraphContext<BillingServices>;

type BalanceKey = { tenantId: string; currency: string };

/** Every Tenant.balance in one request is one batched read (one query per shard). */
export function balanceLoader(ctx: BillingContext): Loader<BalanceKey, BalanceView> {
  return ctx.loader<BalanceKey, BalanceView>('balance', (keys) => ctx.services.accounts.balances(keys), {
    cacheKeyFn: (key) => key.tenantId as unknown as BalanceKey,
  });
}
