import { LockMode } from '@mikro-orm/core';
import { OverdraftPolicyChanged, enqueueEvent } from '@saldo/events';
import { Money, isCurrencyCode } from '@saldo/money';
import { ErrorCode, SaldoError } from '@saldo/graphql';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardedDatabase } from '@saldo/sharding';
import { Account, OverdraftMode, overdraftFloor } from '../entities/account.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import { parseOverdraftPolicy } from './inputs.js';

export interface BalanceView {
  tenantId: string;
  available: Money;
  version: number;
  updatedAt: Date | null;
}

export interface OverdraftPolicyView {
  tenantId: string;
  mode: OverdraftMode;
  /** How far below zero usage may take the balance (zero under BLOCK). */
  limit: Money;
}

/** Accounts: opening them, their cached balances and their overdraft policy. Money moves only through LedgerService. */
export class AccountService {
  constructor(private readonly db: ShardedDatabase) {}

  /**
   * Opens the tenant's account on its billing shard (placing the tenant first). Idempotent: a second
   * call, or a replayed tenant.created event, finds the account and changes nothing.
   */
  async open(tenantId: string, currency: string): Promise<Account> {
    if (!isCurrencyCode(currency)) throw new SaldoError(ErrorCode.InvalidCurrency, `Unknown currency ${currency}.`);
    const account = await this.db.forTenant(
      tenantId,
      async (em) => {
        const now = new Date();
        await em.execute(
          `insert into account (tenant_id, currency, balance_minor, version, created_at, updated_at)
           values (?, ?, 0, 0, ?, ?) on conflict (tenant_id) do nothing`,
          [tenantId, currency, now, now],
        );
        return em.findOneOrFail(Account, { tenantId });
      },
      { place: true },
    );
    if (account.currency !== currency) {
      throw new SaldoError(ErrorCode.InvalidCurrency, `Account of tenant ${tenantId} is in ${account.currency}, not ${currency}.`);
    }
    return account;
  }

  /** Accounts of many tenants, in input order (null where billing holds none): one directory query, one per shard. */
  async getMany(tenantIds: readonly string[]): Promise<Array<Account | null>> {
    const groups = await this.db.groupByShard(tenantIds);
    const accounts = new Map<string, Account>();
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        // Raw SQL: every federated query of a balance reads accounts here; no entity hydration or identity map for
        // rows nobody modifies (writers lock and load their own).
        const rows = await this.db.em(shardId).execute<AccountRow[]>(ACCOUNTS, [ids]);
        for (const row of rows) accounts.set(row.tenant_id, accountFromRow(row));
      }),
    );
    return tenantIds.map((tenantId) => accounts.get(tenantId) ?? null);
  }

  /**
   * Balances of many tenants: one directory query and one query per shard. A tenant without an account
   * yet (its tenant.created event still in flight) has a zero balance in its currency, version 0.
   */
  async balances(tenants: ReadonlyArray<{ tenantId: string; currency: string }>): Promise<BalanceView[]> {
    const accounts = await this.getMany(tenants.map((tenant) => tenant.tenantId));
    return tenants.map(({ tenantId, currency }, index) => balanceView(accounts[index] ?? null, tenantId, currency));
  }

  /** The account itself, or null when this subgraph has not opened one for the tenant. */
  async find(tenantId: string): Promise<Account | null> {
    const located = await this.db.emForTenant(tenantId);
    return located ? located.em.findOne(Account, { tenantId }) : null;
  }

  /**
   * Sets what happens to usage beyond the balance. `mayExtendCredit` false (tenant users) allows only a policy
   * at least as strict as the current one: a tenant may switch to BLOCK or lower its limit, but extending credit
   * is for the platform or the tenant's partner. Serializes with postings on the account row.
   */
  async setOverdraftPolicy(input: unknown, options: { mayExtendCredit: boolean }): Promise<OverdraftPolicyView> {
    const command = parseOverdraftPolicy(input);
    const notFound = () => billingError(BillingErrorCode.AccountNotFound, `Billing holds no account for tenant ${command.tenantId} (yet).`);
    const view = await this.db.forTenantIfPlaced(command.tenantId, (em) => this.applyOverdraftPolicy(em, command, options, notFound));
    if (!view) throw notFound();
    return view;
  }

  private applyOverdraftPolicy(
    em: EntityManager,
    command: ReturnType<typeof parseOverdraftPolicy>,
    options: { mayExtendCredit: boolean },
    notFound: () => Error,
  ): Promise<OverdraftPolicyView> {
    return em.transactional(async (tx) => {
      const account = await tx.findOne(Account, { tenantId: command.tenantId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!account) throw notFound();
      if (command.limit && command.limit.currency !== account.currency) {
        throw billingError(ErrorCode.InvalidCurrency, `limit.currency: the account is kept in ${account.currency}.`, { field: 'limit.currency' });
      }
      const next = { overdraftMode: command.mode, overdraftLimitMinor: command.mode === OverdraftMode.BLOCK ? 0n : (command.limit?.amountMinor ?? 0n) };
      if (!options.mayExtendCredit && overdraftFloor(next) < overdraftFloor(account)) {
        throw billingError(ErrorCode.Forbidden, "Only the platform or the tenant's partner may extend overdraft credit.");
      }
      account.overdraftMode = next.overdraftMode;
      account.overdraftLimitMinor = next.overdraftLimitMinor;
      // Other subgraphs (usage-forecast's depletion dates) learn the policy from this event, committed with it.
      enqueueEvent(tx, OverdraftPolicyChanged, account.tenantId, {
        tenantId: account.tenantId,
        currency: account.currency,
        mode: account.overdraftMode,
        limitMinor: account.overdraftLimitMinor.toString(),
        changedAt: new Date().toISOString(),
      });
      return overdraftPolicyView(account, account.tenantId, account.currency);
    });
  }
}

export function balanceView(account: Account | null, tenantId: string, currency: string): BalanceView {
  if (!account) return { tenantId, available: Money.zero(currency), version: 0, updatedAt: null };
  return { tenantId, available: Money.of(account.balanceMinor, account.currency), version: account.version, updatedAt: account.updatedAt };
}

/** A tenant without an account yet has the default policy: BLOCK. */
export function overdraftPolicyView(account: Account | null, tenantId: string, currency: string): OverdraftPolicyView {
  if (!account) return { tenantId, mode: OverdraftMode.BLOCK, limit: Money.zero(currency) };
  return { tenantId, mode: account.overdraftMode, limit: Money.of(account.overdraftLimitMinor, account.currency) };
}

const ACCOUNTS = `select tenant_id, currency, balance_minor::text as balance_minor, version, overdraft_mode,
    overdraft_limit_minor::text as overdraft_limit_minor, balance_watches, created_at, updated_at
  from account where tenant_id in (?)`;

interface AccountRow {
  tenant_id: string;
  currency: string;
  balance_minor: string;
  version: number;
  overdraft_mode: OverdraftMode;
  overdraft_limit_minor: string;
  balance_watches: Record<string, string> | string;
  created_at: Date | string;
  updated_at: Date | string;
}

/** A detached Account from a raw row (what em.find would have hydrated). */
function accountFromRow(row: AccountRow): Account {
  return Object.assign(new Account(), {
    tenantId: row.tenant_id,
    currency: row.currency,
    balanceMinor: BigInt(row.balance_minor),
    version: row.version,
    overdraftMode: row.overdraft_mode,
    overdraftLimitMinor: BigInt(row.overdraft_limit_minor),
    balanceWatches: typeof row.balance_watches === 'string' ? (JSON.parse(row.balance_watches) as Record<string, string>) : row.balance_watches,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  });
}
