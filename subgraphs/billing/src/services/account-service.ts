import { Money, isCurrencyCode } from '@saldo/money';
import { ErrorCode, SaldoError } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { Account } from '../entities/account.js';

export interface BalanceView {
  tenantId: string;
  available: Money;
  version: number;
  updatedAt: Date | null;
}

/** Accounts and their cached balances. The ledger (append-only entries) builds on this. */
export class AccountService {
  constructor(private readonly db: ShardedDatabase) {}

  /**
   * Opens the tenant's account on its billing shard (placing the tenant first). Idempotent: a second
   * call, or a replayed tenant.created event, finds the account and changes nothing.
   */
  async open(tenantId: string, currency: string): Promise<Account> {
    if (!isCurrencyCode(currency)) throw new SaldoError(ErrorCode.InvalidCurrency, `Unknown currency ${currency}.`);
    const { em } = await this.db.placeTenant(tenantId);
    const now = new Date();
    await em.execute(
      `insert into account (tenant_id, currency, balance_minor, version, created_at, updated_at)
       values (?, ?, 0, 0, ?, ?) on conflict (tenant_id) do nothing`,
      [tenantId, currency, now, now],
    );
    const account = await em.findOneOrFail(Account, { tenantId });
    if (account.currency !== currency) {
      throw new SaldoError(ErrorCode.InvalidCurrency, `Account of tenant ${tenantId} is in ${account.currency}, not ${currency}.`);
    }
    return account;
  }

  /**
   * Balances of many tenants: one directory query and one query per shard. A tenant without an account
   * yet (its tenant.created event still in flight) has a zero balance in its currency, version 0.
   */
  async balances(tenants: ReadonlyArray<{ tenantId: string; currency: string }>): Promise<BalanceView[]> {
    const groups = await this.db.groupByShard(tenants.map((tenant) => tenant.tenantId));
    const accounts = new Map<string, Account>();
    await Promise.all(
      [...groups].map(async ([shardId, tenantIds]) => {
        for (const account of await this.db.em(shardId).find(Account, { tenantId: { $in: tenantIds } })) {
          accounts.set(account.tenantId, account);
        }
      }),
    );
    return tenants.map(({ tenantId, currency }) => {
      const account = accounts.get(tenantId);
      if (account) {
        return { tenantId, available: Money.of(account.balanceMinor, account.currency), version: account.version, updatedAt: account.updatedAt };
      }
      return { tenantId, available: Money.zero(currency), version: 0, updatedAt: null };
    });
  }

  /** The account itself, or null when this subgraph has not opened one for the tenant. */
  async find(tenantId: string): Promise<Account | null> {
    const located = await this.db.emForTenant(tenantId);
    return located ? located.em.findOne(Account, { tenantId }) : null;
  }
}
