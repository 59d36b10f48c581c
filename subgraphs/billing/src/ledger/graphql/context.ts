import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import type { Account } from '../entities/account.js';
import type { AccountService } from '../services/account-service.js';
import type { LedgerService, TransactionsPage, TransactionsQuery } from '../services/ledger-service.js';

/** The ledger module's services, as billing's composed services carry them. */
export interface LedgerServices {
  accounts: AccountService;
  ledger: LedgerService;
}

export type LedgerContext = SubgraphContext<LedgerServices>;

/** Every account read in one request (balance, overdraft policy) is one batched read: one query per shard. */
export function accountLoader(ctx: LedgerContext): Loader<string, Account | null> {
  return ctx.loader<string, Account | null>('account', (tenantIds) => ctx.services.accounts.getMany(tenantIds));
}

/** Every Tenant.transactions page in one request: one query per shard and distinct (first, type, from, to). */
export function transactionsLoader(ctx: LedgerContext): Loader<TransactionsQuery, TransactionsPage> {
  return ctx.loader<TransactionsQuery, TransactionsPage>('transactions', (queries) => ctx.services.ledger.transactions(queries), {
    cacheKeyFn: (query) =>
      JSON.stringify([
        query.tenantId,
        query.first,
        query.beforeVersion ?? null,
        query.type ?? null,
        query.from ?? null,
        query.to ?? null,
      ]) as unknown as TransactionsQuery,
  });
}
