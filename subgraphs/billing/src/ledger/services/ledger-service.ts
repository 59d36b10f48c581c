import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { BalanceChanged, OUTBOX_INSERT, TransactionPosted, outboxRow, toEnvelope, type EventEnvelope, type OutboxRelay, type OutboxRow } from '@saldo/events';
import { ErrorCode, isUuid } from '@saldo/graphql';
import { Money, isCurrencyCode } from '@saldo/money';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase, ShardId } from '@saldo/sharding';
import { OverdraftMode, overdraftFloor } from '../entities/account.js';
import { LedgerEntry, LedgerEntryType } from '../entities/ledger-entry.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import { balanceAlertEvents } from './balance-alerts.js';
import { ACTIVE_TENANT_STATUS } from './tenant-status.js';
import type { BalanceView } from './account-service.js';
import { SYSTEM_CLOCK, type Clock } from '../../shared/clock.js';

/** Most entries one posting may append (a usage batch is one posting). */
export const MAX_ENTRIES_PER_POSTING = 1000;
/** Largest absolute amount of one entry: 10^15 minor units keeps every sum exact in JSON (2^53). */
export const MAX_ENTRY_AMOUNT_MINOR = 10n ** 15n;
const MAX_KEY_LENGTH = 200;

/** Which signs each entry type allows (mirrored by the ledger_entry_amount_sign_check constraint). */
const SIGN_RULES: Record<LedgerEntryType, { allows: (amount: bigint) => boolean; rule: string }> = {
  [LedgerEntryType.TOP_UP]: { allows: (amount) => amount > 0n, rule: 'positive' },
  [LedgerEntryType.BONUS]: { allows: (amount) => amount > 0n, rule: 'positive' },
  [LedgerEntryType.CREDIT_NOTE]: { allows: (amount) => amount > 0n, rule: 'positive' },
  [LedgerEntryType.USAGE]: { allows: (amount) => amount <= 0n, rule: 'zero or negative' },
  [LedgerEntryType.REFUND]: { allows: (amount) => amount < 0n, rule: 'negative' },
  [LedgerEntryType.ADJUSTMENT]: { allows: (amount) => amount !== 0n, rule: 'non-zero' },
};

/** One entry to append. Amounts are signed minor units of the account's currency: credits > 0, debits < 0. */
export interface PostingEntryInput {
  type: LedgerEntryType;
  amountMinor: bigint;
  /**
   * Unique per tenant, forever: a second posting with the same key is a duplicate and appends nothing.
   * Namespace it by source: `usage:<event id>`, `stripe:pi:<payment intent>`, `stripe:re:<refund>`, `adjustment:<uuid>`.
   */
  idempotencyKey: string;
  product?: string | null;
  quantity?: bigint | null;
  rateId?: string | null;
  unitPriceMicros?: bigint | null;
  occurredAt?: Date | null;
  externalRef?: string | null;
  description?: string | null;
  metadata?: Record<string, unknown> | null;
}

export interface PostingRequest {
  tenantId: string;
  /** The currency the amounts are in; INVALID_CURRENCY when the account keeps another one. Omit to skip the check. */
  currency?: string;
  entries: readonly PostingEntryInput[];
  /**
   * 'enforce' (default): a posting whose new entries lower the balance below the account's overdraft floor
   * (0 under BLOCK, -limit under ALLOW_OVERDRAFT) is rejected with INSUFFICIENT_BALANCE and writes nothing.
   * 'ignore': for debits that must be booked whatever the balance (a refund Stripe already paid out, a chargeback).
   */
  overdraft?: 'enforce' | 'ignore';
  /**
   * Events announcing the posting beyond the ledger's own (`transaction.posted`, `balance.changed`), built from its
   * outcome (`outboxRow(...)`): written by the same statement as the entries, after the ledger's own events. Not
   * called when every entry was a duplicate (nothing was posted).
   */
  announce?: (outcome: PostingOutcome) => OutboxRow[];
  /**
   * Runs inside the posting's transaction once entries, balance and events are written, before commit: write
   * related rows through `tx` (or enqueue more events with `enqueueEvent(tx, ...)`). Throwing rolls the whole
   * posting back. Not called when every entry was a duplicate (nothing was posted).
   */
  withinTransaction?: (tx: EntityManager, outcome: PostingOutcome) => void | Promise<void>;
  /**
   * Usage: refuse the whole posting with TENANT_SUSPENDED (nothing written, duplicates included) unless the tenant's
   * status (tenant_status, kept from the tenants subgraph's events) is ACTIVE. Read with the account row lock, so it
   * costs no round trip and a posting never overlaps the status change it raced with.
   */
  refuseUnlessActive?: boolean;
}

/** The optimistic write met a key of an earlier posting: the posting is redone with the duplicate lookup. */
class KeySeenBefore extends Error {}
/** currencyOf found no account on the tenant's shard (billing has not opened it yet). */
class NoAccountHere extends Error {}

export interface PostingOutcome {
  tenantId: string;
  currency: string;
  /** Entries this call appended, in account-version order. */
  posted: LedgerEntry[];
  /** Entries that already existed for keys of this request (appended by an earlier posting), by key. */
  duplicates: Map<string, LedgerEntry>;
  previousBalance: Money;
  /** The account after the posting (unchanged when everything was a duplicate). */
  balance: BalanceView;
}

/** Runs inside every posting transaction that appended entries. */
export type PostingHook = (tx: EntityManager, outcome: PostingOutcome) => void | Promise<void>;

/**
 * Runs inside a posting's transaction, under the account row lock, when the posting left the balance at or below
 * the threshold of the watch it was registered for (`LedgerService.onBalanceWatch`). Throwing rolls the posting back.
 */
export type BalanceWatchHandler = (tx: EntityManager, outcome: PostingOutcome, thresholdMinor: bigint) => void | Promise<void>;

/** Names a module gives its watch: lower-case words and dashes (`auto-top-up`). */
const WATCH_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** The account as a caller holding its row lock sees it (`LedgerService.withAccountLocked`). */
export interface LockedAccount {
  tenantId: string;
  currency: string;
  balanceMinor: bigint;
  version: number;
}

/**
 * Told, right after a posting committed, the events it wrote (before the relay publishes them). For live views in
 * this process (the balance feed): the bus delivers the same events again later, which a listener must tolerate.
 */
export type CommitListener = (events: readonly EventEnvelope[]) => void;

export interface TransactionsQuery {
  tenantId: string;
  first: number;
  /** Only entries older than this account version (the cursor of the last entry seen). */
  beforeVersion?: number | null;
  type?: LedgerEntryType | null;
  /** Posted at or after. */
  from?: Date | null;
  /** Posted before. */
  to?: Date | null;
}

export interface TransactionsPage {
  entries: LedgerEntry[];
  hasNextPage: boolean;
}

export interface LedgerCheck {
  tenantId: string;
  cachedBalanceMinor: bigint;
  cachedVersion: number;
  /** Sum of every entry's amount. */
  ledgerSumMinor: bigint;
  entries: number;
  /** balance_after_minor of the entry with the highest account_version (0 without entries). */
  lastBalanceAfterMinor: bigint;
  maxVersion: number;
  /** Cached balance = sum = last balance_after, version = entry count = highest version (no gaps). */
  consistent: boolean;
}

/**
 * The ledger: the one write path for money. `post` appends entries to a tenant's account idempotently (a key
 * seen before appends nothing and is reported as a duplicate), serializes writers of one account on its row
 * (SELECT ... FOR UPDATE), keeps the cached balance and version in step, and enqueues `transaction.posted` and
 * `balance.changed`, all in ONE transaction on the tenant's billing shard. Usage ingestion, Stripe top-ups and
 * webhooks, refunds, adjustments and auto-top-up all post through it.
 */
/** Told of every committed posting that appended entries (the ledger's Prometheus metrics, see module.ts). */
export type PostingObserver = (entries: number, seconds: number) => void;

export class LedgerService {
  private readonly hooks: PostingHook[] = [];
  private observer: PostingObserver | undefined;
  private readonly watchHandlers = new Map<string, BalanceWatchHandler>();
  private readonly commitListeners = new Set<CommitListener>();
  /** Account currencies never change, so they are cached once read (bounded like the shard directory's cache). */
  private readonly currencies = new Map<string, string>();
  private static readonly CURRENCY_CACHE_LIMIT = 100_000;

  constructor(
    private readonly db: ShardedDatabase,
    private readonly relay: Pick<OutboxRelay, 'poke'>,
    private readonly clock: Clock = SYSTEM_CLOCK,
    private readonly logger?: Logger,
  ) {}

  /** Registers a hook that runs inside every posting transaction that appended entries; returns its removal. */
  addPostingHook(hook: PostingHook): () => void {
    this.hooks.push(hook);
    return () => {
      const index = this.hooks.indexOf(hook);
      if (index >= 0) this.hooks.splice(index, 1);
    };
  }

  /**
   * Registers what runs when a posting leaves a balance at or below the threshold of the named watch: inside the
   * posting's transaction, under the account row lock, after entries, balance and events are written. Watches are
   * set per account with `setBalanceWatch` and kept on the account row, so postings learn them with the row lock they
   * take anyway (no extra read); a posting that ends above every threshold calls nothing. Returns its removal.
   */
  onBalanceWatch(name: string, handler: BalanceWatchHandler): () => void {
    if (!WATCH_NAME.test(name)) throw new Error(`balance watch name "${name}": lower-case letters, digits and dashes`);
    if (this.watchHandlers.has(name)) throw new Error(`balance watch "${name}" already has a handler`);
    this.watchHandlers.set(name, handler);
    return () => {
      if (this.watchHandlers.get(name) === handler) this.watchHandlers.delete(name);
    };
  }

  /**
   * Sets the named watch of the tenant's account to `thresholdMinor` (minor units of the account's currency), or
   * clears it with null. Within `tx` (a transaction on the tenant's shard, e.g. from `withAccountLocked`) it commits
   * with the caller's other writes; otherwise on its own. ACCOUNT_NOT_FOUND when billing holds no account.
   */
  async setBalanceWatch(tenantId: string, name: string, thresholdMinor: bigint | null, tx?: EntityManager): Promise<void> {
    if (!WATCH_NAME.test(name)) throw new Error(`balance watch name "${name}": lower-case letters, digits and dashes`);
    const set = async (em: EntityManager) => {
      const [row] = await em.execute<{ tenant_id: string }[]>(
        `update account set balance_watches = case when ?::bigint is null then balance_watches - ?::text
                                                   else balance_watches || jsonb_build_object(?::text, ?::bigint::text) end
          where tenant_id = ? returning tenant_id`,
        [thresholdMinor, name, name, thresholdMinor, tenantId],
      );
      if (!row) throw accountNotFound(tenantId);
    };
    // Within the caller's transaction its own forTenant retries the whole unit after a move; alone, this one is retried.
    if (tx) return set(tx);
    const done = await this.db.forTenantIfPlaced(tenantId, async (em) => {
      await set(em);
      return true;
    });
    if (!done) throw accountNotFound(tenantId);
  }

  /**
   * Runs `work` in one transaction on the tenant's shard holding the account row lock (SELECT ... FOR UPDATE), so it
   * serializes with the account's postings: what another module writes there commits before the next posting reads
   * the account, or after it. ACCOUNT_NOT_FOUND when billing holds no account.
   */
  async withAccountLocked<T>(tenantId: string, work: (tx: EntityManager, account: LockedAccount) => Promise<T>): Promise<T> {
    const located = await this.db.forTenantIfPlaced(tenantId, (em) =>
      em.transactional(async (tx) => {
        const [row] = await tx.execute<{ tenant_id: string; currency: string; balance_minor: string; version: number }[]>(
          'select tenant_id, currency, balance_minor, version from account where tenant_id = ? for update',
          [tenantId],
        );
        if (!row) throw accountNotFound(tenantId);
        return { value: await work(tx, { tenantId: row.tenant_id, currency: row.currency, balanceMinor: BigInt(row.balance_minor), version: row.version }) };
      }),
    );
    if (!located) throw accountNotFound(tenantId);
    return located.value;
  }

  /** Registers a listener for committed postings' events; returns its removal. */
  addCommitListener(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** Reports each committed posting's entry count and duration (one observer; metrics). */
  observePostings(observer: PostingObserver): void {
    this.observer = observer;
  }

  async post(request: PostingRequest): Promise<PostingOutcome> {
    this.validate(request);
    const started = this.observer ? performance.now() : 0;
    // A posting refused because the tenant moved shards meanwhile (never applied there) runs again on the new shard.
    const posting = await this.db.forTenantIfPlaced(request.tenantId, async (em) => {
      try {
        // Optimistic: almost every posting brings only new keys, so the write goes ahead without looking for
        // duplicates; if the unique index turns one away, everything rolls back and the posting is redone with the lookup.
        return await this.postInTransaction(em, request, false);
      } catch (error) {
        if (!(error instanceof KeySeenBefore)) throw error;
        return this.postInTransaction(em, request, true);
      }
    });
    if (!posting) throw accountNotFound(request.tenantId);
    if (posting.outcome.posted.length > 0) {
      this.relay.poke();
      this.tellCommitListeners(posting.events);
      this.observer?.(posting.outcome.posted.length, (performance.now() - started) / 1000);
    }
    return posting.outcome;
  }

  private tellCommitListeners(events: readonly OutboxRow[]): void {
    if (this.commitListeners.size === 0) return;
    const envelopes = events.map(toEnvelope);
    for (const listener of this.commitListeners) {
      // The posting is committed whatever a listener does: its failure is logged, not the caller's (the bus
      // delivers the events again anyway).
      try {
        listener(envelopes);
      } catch (error) {
        this.logger?.error('commit listener failed', { tenant: envelopes[0]?.key, error });
      }
    }
  }

  /**
   * One posting, one transaction, four round trips on the usual path: lock the account row, write entries + balance
   * + events in one statement, commit (plus BEGIN). Under the row lock no other writer of this account runs.
   */
  private postInTransaction(em: EntityManager, request: PostingRequest, lookUpDuplicates: boolean): Promise<{ outcome: PostingOutcome; events: OutboxRow[] }> {
    return em.transactional(async (tx) => {
      const account = await this.lockAccount(tx, request);

      // Under the row lock the lookup is authoritative: a key it does not find cannot appear before we commit.
      const duplicates = lookUpDuplicates ? await this.findByKeys(tx, account.tenantId, request.entries) : new Map<string, LedgerEntry>();
      const fresh = request.entries.filter((entry) => !duplicates.has(entry.idempotencyKey));
      const previousBalance = Money.of(account.balanceMinor, account.currency);
      if (fresh.length === 0) {
        const unchanged: PostingOutcome = {
          tenantId: account.tenantId,
          currency: account.currency,
          posted: [],
          duplicates,
          previousBalance,
          balance: balanceOf(account),
        };
        return { outcome: unchanged, events: [] };
      }

      const net = fresh.reduce((sum, entry) => sum + entry.amountMinor, 0n);
      const floor = overdraftFloor(account);
      if ((request.overdraft ?? 'enforce') === 'enforce' && net < 0n && account.balanceMinor + net < floor) {
        throw billingError(
          BillingErrorCode.InsufficientBalance,
          `Insufficient balance: the posting needs ${Money.of(-net, account.currency).toString()}, ` +
            `the balance is ${previousBalance.toString()} and may not fall below ${Money.of(floor, account.currency).toString()}.`,
          { currency: account.currency, balanceMinor: account.balanceMinor.toString(), requiredMinor: (-net).toString(), floorMinor: floor.toString() },
        );
      }

      const now = this.clock.now();
      const posted = appendable(account, fresh, now);
      const last = posted.at(-1)!;
      const outcome: PostingOutcome = {
        tenantId: account.tenantId,
        currency: account.currency,
        posted,
        duplicates,
        previousBalance,
        balance: balanceOf({ ...account, balanceMinor: last.balanceAfterMinor, version: last.accountVersion, updatedAt: now }),
      };
      const events = [
        outboxRow(TransactionPosted, account.tenantId, transactionPostedPayload(outcome), now),
        outboxRow(
          BalanceChanged,
          account.tenantId,
          {
            tenantId: account.tenantId,
            currency: account.currency,
            balanceMinor: last.balanceAfterMinor.toString(),
            previousBalanceMinor: previousBalance.amountMinor.toString(),
            version: last.accountVersion,
            changedAt: now.toISOString(),
            entry: entryPayload(last),
          },
          now,
        ),
        ...balanceAlertEvents(
          {
            tenantId: account.tenantId,
            currency: account.currency,
            previousMinor: previousBalance.amountMinor,
            balanceMinor: last.balanceAfterMinor,
            version: last.accountVersion,
            at: now,
          },
          account.alertThresholdsMinor,
        ),
        ...(request.announce?.(outcome) ?? []),
      ];

      // Entries, the account's balance and version, and the events: one statement. The entries' insert skips keys
      // an earlier posting holds (unique index), so fewer rows than expected means a duplicate got past an
      // optimistic write (redo with the lookup) or, after the lookup, a write without the row lock (refuse to guess).
      const [written] = await tx.execute<{ inserted: number }[]>(
        `with entries as (${ENTRY_INSERT} returning 1),
              account_update as (update account set balance_minor = ?, version = ?, updated_at = ? where tenant_id = ? returning 1),
              events as (${OUTBOX_INSERT} returning 1)
         select (select count(*) from entries)::integer as inserted, (select count(*) from account_update)::integer as accounts,
                (select count(*) from events)::integer as events`,
        [
          account.tenantId,
          account.currency,
          now,
          JSON.stringify(posted.map(insertable)),
          last.balanceAfterMinor,
          last.accountVersion,
          now,
          account.tenantId,
          JSON.stringify(events),
        ],
      );
      if (written?.inserted !== posted.length) {
        if (!lookUpDuplicates) throw new KeySeenBefore();
        throw new Error(`ledger of tenant ${account.tenantId} changed under its lock (${written?.inserted}/${posted.length} entries inserted)`);
      }

      await request.withinTransaction?.(tx, outcome);
      for (const hook of this.hooks) await hook(tx, outcome);
      await this.runWatches(tx, outcome, account.balanceWatches);
      return { outcome, events };
    });
  }

  /** The handlers of the watches this posting reached: balance at or below their thresholds. */
  private async runWatches(tx: EntityManager, outcome: PostingOutcome, watches: Record<string, string> | null): Promise<void> {
    if (!watches) return;
    const balance = outcome.balance.available.amountMinor;
    for (const [name, threshold] of Object.entries(watches)) {
      const thresholdMinor = BigInt(threshold);
      if (balance > thresholdMinor) continue;
      await this.watchHandlers.get(name)?.(tx, outcome, thresholdMinor);
    }
  }

  /**
   * Locks the account row for the posting (SELECT ... FOR UPDATE) and checks the posting's currency against it;
   * the balance watches come with the row.
   */
  private async lockAccount(tx: EntityManager, request: PostingRequest) {
    const [row] = await tx.execute<AccountRow[]>(
      `select a.tenant_id, a.currency, a.balance_minor, a.version, a.overdraft_mode, a.overdraft_limit_minor,
              floor(extract(epoch from a.updated_at) * 1000)::bigint as updated_at_ms, nullif(a.balance_watches, '{}'::jsonb) as balance_watches,
              b.thresholds_minor as alert_thresholds_minor, s.status as tenant_status
         from account a left join balance_alert_rule b on b.tenant_id = a.tenant_id and b.currency = a.currency
         left join tenant_status s on s.tenant_id = a.tenant_id
        where a.tenant_id = ? for update of a`,
      [request.tenantId],
    );
    if (!row) throw accountNotFound(request.tenantId);
    // No status known yet (the tenant's events still in flight) is not a suspension: tenants start ACTIVE.
    if (request.refuseUnlessActive && row.tenant_status !== null && row.tenant_status !== ACTIVE_TENANT_STATUS) {
      throw billingError(BillingErrorCode.TenantSuspended, `Tenant ${row.tenant_id} is suspended: its usage is refused until it is reactivated.`, {
        tenantId: row.tenant_id,
        status: row.tenant_status,
      });
    }
    const account = {
      tenantId: row.tenant_id,
      currency: row.currency,
      balanceMinor: BigInt(row.balance_minor),
      version: row.version,
      overdraftMode: row.overdraft_mode,
      overdraftLimitMinor: BigInt(row.overdraft_limit_minor),
      updatedAt: new Date(Number(row.updated_at_ms)),
      balanceWatches: row.balance_watches,
      alertThresholdsMinor: (row.alert_thresholds_minor ?? []).map((threshold) => BigInt(threshold)),
    };
    this.rememberCurrency(account.tenantId, account.currency);
    if (request.currency !== undefined && request.currency !== account.currency) {
      throw billingError(ErrorCode.InvalidCurrency, `The account of tenant ${account.tenantId} is kept in ${account.currency}, not ${request.currency}.`, {
        field: 'currency',
      });
    }
    return account;
  }

  /**
   * Entries already holding keys of `entries`, by key. One index probe per key (a lateral lookup on the
   * (tenant_id, idempotency_key) unique index), whatever the planner's statistics say about the tenant's other entries.
   */
  private async findByKeys(
    tx: EntityManager,
    tenantId: string,
    entries: ReadonlyArray<Pick<PostingEntryInput, 'idempotencyKey'>>,
  ): Promise<Map<string, LedgerEntry>> {
    const seen = await tx.execute<LedgerEntryRow[]>(
      `select ${ENTRY_COLUMNS} from unnest(array[?]::text[]) as k(key)
         cross join lateral (select * from ledger_entry e where e.tenant_id = ? and e.idempotency_key = k.key limit 1) e`,
      [entries.map((entry) => entry.idempotencyKey), tenantId],
    );
    return new Map(seen.map((row) => [row.idempotency_key, entryFromRow(row)]));
  }

  /** The tenant's entry holding an idempotency key (the one that posted it), or null (also without an account). */
  async entryByKey(tenantId: string, idempotencyKey: string): Promise<LedgerEntry | null> {
    const located = await this.db.emForTenant(tenantId);
    if (!located) return null;
    const found = await this.findByKeys(located.em, tenantId, [{ idempotencyKey }]);
    return found.get(idempotencyKey) ?? null;
  }

  /**
   * Tenants on a shard whose account existed before `before` (opened then, or with a posting by then), in tenant id
   * order after `afterTenantId`, at most `limit`: for walking every account of a period in pages (monthly statements).
   */
  async accountsOpenedBefore(shardId: ShardId, before: Date, afterTenantId: string, limit: number): Promise<string[]> {
    const rows = await this.db.em(shardId).execute<{ tenant_id: string }[]>(
      `select a.tenant_id from account a
        where a.tenant_id > ? and (a.created_at < ? or exists (select 1 from ledger_entry e where e.tenant_id = a.tenant_id and e.account_version = 1 and e.created_at < ?))
        order by a.tenant_id limit ?`,
      [afterTenantId, before, before, limit],
    );
    return rows.map((row) => row.tenant_id);
  }

  /** The account's currency (cached: it never changes), or undefined when billing holds no account. */
  async currencyOf(tenantId: string): Promise<string | undefined> {
    const cached = this.currencies.get(tenantId);
    if (cached) return cached;
    // Through forTenantIfPlaced, not a bare lookup: a read that located the tenant before a move and reaches the old
    // shard after its cleanup finds no account there; failing, it is run again on the tenant's shard (see runOnShard).
    let currency: string | undefined;
    try {
      currency = await this.db.forTenantIfPlaced(tenantId, async (em) => {
        const [row] = await em.execute<{ currency: string }[]>('select currency from account where tenant_id = ?', [tenantId]);
        if (!row) throw new NoAccountHere();
        return row.currency;
      });
    } catch (error) {
      if (!(error instanceof NoAccountHere)) throw error;
    }
    if (currency) this.rememberCurrency(tenantId, currency);
    return currency;
  }

  private rememberCurrency(tenantId: string, currency: string): void {
    if (this.currencies.size >= LedgerService.CURRENCY_CACHE_LIMIT) this.currencies.clear();
    this.currencies.set(tenantId, currency);
  }

  /**
   * Pages of many tenants' entries, newest first: one directory lookup plus one query per shard for the whole
   * batch, whatever the number of tenants (a lateral join walks each tenant's (tenant_id, account_version) index).
   * Queries must share first/type/from/to (a DataLoader groups them); cursors may differ per tenant.
   */
  async transactions(queries: readonly TransactionsQuery[]): Promise<TransactionsPage[]> {
    const pages = new Map<TransactionsQuery, TransactionsPage>();
    const groups = new Map<string, TransactionsQuery[]>();
    for (const query of queries) {
      const signature = JSON.stringify([query.first, query.type ?? null, query.from?.toISOString() ?? null, query.to?.toISOString() ?? null]);
      groups.set(signature, [...(groups.get(signature) ?? []), query]);
    }
    for (const group of groups.values()) {
      const { first, type, from, to } = group[0]!;
      const byShard = await this.db.groupByShard(group.map((query) => query.tenantId));
      await Promise.all(
        [...byShard].map(async ([shardId, tenantIds]) => {
          const members = group.filter((query) => tenantIds.includes(query.tenantId));
          const rows = await this.pageRows(shardId, members, first, type ?? null, from ?? null, to ?? null);
          for (const query of members) {
            const own = rows.filter((row) => row.tenantId === query.tenantId);
            pages.set(query, { entries: own.slice(0, first), hasNextPage: own.length > first });
          }
        }),
      );
    }
    return queries.map((query) => pages.get(query) ?? { entries: [], hasNextPage: false });
  }

  private async pageRows(
    shardId: ShardId,
    queries: readonly TransactionsQuery[],
    first: number,
    type: LedgerEntryType | null,
    from: Date | null,
    to: Date | null,
  ): Promise<LedgerEntry[]> {
    const em = this.db.em(shardId);
    const filters: string[] = [];
    // No cursor is version 0 (versions start at 1): raw SQL parameters cannot carry arrays with nulls.
    const params: unknown[] = [queries.map((query) => query.tenantId), queries.map((query) => query.beforeVersion ?? 0)];
    if (type) {
      filters.push('and e.type = ?');
      params.push(type);
    }
    if (from) {
      filters.push('and e.created_at >= ?');
      params.push(from);
    }
    if (to) {
      filters.push('and e.created_at < ?');
      params.push(to);
    }
    params.push(first + 1);
    const rows = await em.execute<LedgerEntryRow[]>(
      `select ${ENTRY_COLUMNS} from unnest(array[?]::uuid[], array[?]::integer[]) as q(tenant_id, before_version)
       cross join lateral (
         select * from ledger_entry e
          where e.tenant_id = q.tenant_id and (q.before_version = 0 or e.account_version < q.before_version) ${filters.join(' ')}
          order by e.account_version desc
          limit ?
       ) e`,
      params,
    );
    return rows.map(entryFromRow);
  }

  /** Checks the ledger invariants of one account (tests, operators). */
  async verify(tenantId: string): Promise<LedgerCheck> {
    const located = await this.db.emForTenant(tenantId);
    if (!located) throw accountNotFound(tenantId);
    const [row] = await located.em.execute<
      { balance_minor: string; version: number; sum: string; entries: string; max_version: number | null; last_balance: string | null; gaps: string }[]
    >(
      `select a.balance_minor, a.version,
              coalesce(sum(e.amount_minor), 0) as sum, count(e.id) as entries, max(e.account_version) as max_version,
              (select balance_after_minor from ledger_entry l where l.tenant_id = a.tenant_id order by account_version desc limit 1) as last_balance,
              (select count(*) from ledger_entry l
                 where l.tenant_id = a.tenant_id
                   and l.balance_after_minor <> coalesce(
                     (select p.balance_after_minor from ledger_entry p where p.tenant_id = l.tenant_id and p.account_version = l.account_version - 1), 0)
                     + l.amount_minor) as gaps
         from account a left join ledger_entry e on e.tenant_id = a.tenant_id
        where a.tenant_id = ?
        group by a.tenant_id, a.balance_minor, a.version`,
      [tenantId],
    );
    if (!row) throw accountNotFound(tenantId);
    const check = {
      tenantId,
      cachedBalanceMinor: BigInt(row.balance_minor),
      cachedVersion: row.version,
      ledgerSumMinor: BigInt(row.sum),
      entries: Number(row.entries),
      lastBalanceAfterMinor: BigInt(row.last_balance ?? 0),
      maxVersion: row.max_version ?? 0,
    };
    return {
      ...check,
      consistent:
        check.cachedBalanceMinor === check.ledgerSumMinor &&
        check.cachedBalanceMinor === check.lastBalanceAfterMinor &&
        check.cachedVersion === check.entries &&
        check.cachedVersion === check.maxVersion &&
        Number(row.gaps) === 0,
    };
  }

  /** Tenants on a shard whose cached balance or version disagrees with their ledger (empty when all is well). */
  async inconsistentAccounts(shardId: ShardId): Promise<string[]> {
    const rows = await this.db.em(shardId).execute<{ tenant_id: string }[]>(
      `select a.tenant_id from account a
         left join (select tenant_id, sum(amount_minor) as total, count(*) as entries, max(account_version) as max_version
                      from ledger_entry group by tenant_id) e on e.tenant_id = a.tenant_id
        where a.balance_minor <> coalesce(e.total, 0) or a.version <> coalesce(e.entries, 0) or a.version <> coalesce(e.max_version, 0)
        order by a.tenant_id`,
    );
    return rows.map((row) => row.tenant_id);
  }

  private validate(request: PostingRequest): void {
    if (!isUuid(request.tenantId)) throw billingError(ErrorCode.InvalidId, 'tenantId: must be a UUID', { field: 'tenantId' });
    if (request.currency !== undefined && !isCurrencyCode(request.currency)) {
      throw billingError(ErrorCode.InvalidCurrency, `currency: ${request.currency} is not an ISO 4217 currency code`, { field: 'currency' });
    }
    if (request.entries.length === 0) throw billingError(ErrorCode.BadUserInput, 'entries: a posting needs at least one entry', { field: 'entries' });
    if (request.entries.length > MAX_ENTRIES_PER_POSTING) {
      throw billingError(BillingErrorCode.BatchTooLarge, `entries: at most ${MAX_ENTRIES_PER_POSTING} per posting`, { field: 'entries' });
    }
    const keys = new Set<string>();
    for (const [index, entry] of request.entries.entries()) {
      const field = `entries.${index}`;
      if (!Object.values(LedgerEntryType).includes(entry.type)) throw billingError(ErrorCode.BadUserInput, `${field}.type: unknown entry type`, { field });
      if (typeof entry.amountMinor !== 'bigint' || entry.amountMinor > MAX_ENTRY_AMOUNT_MINOR || entry.amountMinor < -MAX_ENTRY_AMOUNT_MINOR) {
        throw billingError(BillingErrorCode.InvalidAmount, `${field}.amountMinor: must be a bigint of at most ${MAX_ENTRY_AMOUNT_MINOR} minor units`, {
          field,
        });
      }
      const sign = SIGN_RULES[entry.type];
      if (!sign.allows(entry.amountMinor)) {
        throw billingError(BillingErrorCode.InvalidAmount, `${field}.amountMinor: a ${entry.type} entry must be ${sign.rule}`, { field });
      }
      if (entry.idempotencyKey.length === 0 || entry.idempotencyKey.length > MAX_KEY_LENGTH) {
        throw billingError(ErrorCode.BadUserInput, `${field}.idempotencyKey: must be 1-${MAX_KEY_LENGTH} characters`, { field });
      }
      if (keys.has(entry.idempotencyKey)) {
        throw billingError(ErrorCode.BadUserInput, `${field}.idempotencyKey: appears twice in one posting`, { field });
      }
      keys.add(entry.idempotencyKey);
    }
  }
}

function accountNotFound(tenantId: string) {
  return billingError(BillingErrorCode.AccountNotFound, `Billing holds no account for tenant ${tenantId} (yet).`, { tenantId });
}

/** Ledger columns as raw SQL returns them: timestamps as epoch milliseconds, bigints as strings. */
const ENTRY_COLUMNS = `e.id, e.tenant_id, e.account_version, e.type, e.amount_minor, e.currency, e.balance_after_minor, e.idempotency_key,
  e.product, e.quantity, e.rate_id, e.unit_price_micros, floor(extract(epoch from e.occurred_at) * 1000)::bigint as occurred_at_ms,
  e.external_ref, e.description, e.metadata, floor(extract(epoch from e.created_at) * 1000)::bigint as created_at_ms`;

interface LedgerEntryRow {
  id: string;
  tenant_id: string;
  account_version: number;
  type: LedgerEntryType;
  amount_minor: string;
  currency: string;
  balance_after_minor: string;
  idempotency_key: string;
  product: string | null;
  quantity: string | null;
  rate_id: string | null;
  unit_price_micros: string | null;
  occurred_at_ms: string | null;
  external_ref: string | null;
  description: string | null;
  metadata: Record<string, unknown> | null;
  created_at_ms: string;
}

/** A detached LedgerEntry from a raw row (never managed by an EntityManager, so never flushed back). */
function entryFromRow(row: LedgerEntryRow): LedgerEntry {
  return Object.assign(new LedgerEntry(), {
    id: row.id,
    tenantId: row.tenant_id,
    accountVersion: row.account_version,
    type: row.type,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
    balanceAfterMinor: BigInt(row.balance_after_minor),
    idempotencyKey: row.idempotency_key,
    product: row.product,
    quantity: row.quantity === null ? null : BigInt(row.quantity),
    rateId: row.rate_id,
    unitPriceMicros: row.unit_price_micros === null ? null : BigInt(row.unit_price_micros),
    occurredAt: row.occurred_at_ms === null ? null : new Date(Number(row.occurred_at_ms)),
    externalRef: row.external_ref,
    description: row.description,
    metadata: row.metadata,
    createdAt: new Date(Number(row.created_at_ms)),
  });
}

interface AccountRow {
  tenant_id: string;
  currency: string;
  balance_minor: string;
  version: number;
  overdraft_mode: OverdraftMode;
  overdraft_limit_minor: string;
  updated_at_ms: string;
  /** Watch name -> threshold in minor units (a decimal string); null when the account has none. */
  balance_watches: Record<string, string> | null;
  alert_thresholds_minor: string[] | null;
  /** tenant_status.status; null while billing has not heard of the tenant's status. */
  tenant_status: string | null;
}

function balanceOf(account: { tenantId: string; currency: string; balanceMinor: bigint; version: number; updatedAt: Date }): BalanceView {
  return { tenantId: account.tenantId, available: Money.of(account.balanceMinor, account.currency), version: account.version, updatedAt: account.updatedAt };
}

/** One row of the insert's JSON parameter (column names as in jsonb_to_recordset; bigints as strings). */
function insertable(entry: LedgerEntry) {
  return {
    id: entry.id,
    account_version: entry.accountVersion,
    type: entry.type,
    amount_minor: entry.amountMinor.toString(),
    balance_after_minor: entry.balanceAfterMinor.toString(),
    idempotency_key: entry.idempotencyKey,
    product: entry.product,
    quantity: entry.quantity === null ? null : entry.quantity.toString(),
    rate_id: entry.rateId,
    unit_price_micros: entry.unitPriceMicros === null ? null : entry.unitPriceMicros.toString(),
    occurred_at: entry.occurredAt?.toISOString() ?? null,
    external_ref: entry.externalRef,
    description: entry.description,
    metadata: entry.metadata,
  };
}

/** All rows of a posting in one statement with one parameter: a JSON array PostgreSQL unpacks (bigints travel as strings). */
const ENTRY_INSERT = `insert into ledger_entry (id, tenant_id, account_version, type, amount_minor, currency, balance_after_minor, idempotency_key,
                                 product, quantity, rate_id, unit_price_micros, occurred_at, external_ref, description, metadata, created_at)
  select r.id, ?, r.account_version, r.type, r.amount_minor, ?, r.balance_after_minor, r.idempotency_key,
         r.product, r.quantity, r.rate_id, r.unit_price_micros, r.occurred_at, r.external_ref, r.description, r.metadata, ?
    from jsonb_to_recordset(?::jsonb) as r(id uuid, account_version integer, type text, amount_minor bigint, balance_after_minor bigint,
         idempotency_key text, product text, quantity bigint, rate_id uuid, unit_price_micros bigint, occurred_at timestamptz,
         external_ref text, description text, metadata jsonb)
  on conflict (tenant_id, idempotency_key) do nothing`;

/** The entries a posting appends: consecutive account versions, each with the balance after it. */
function appendable(
  account: { tenantId: string; currency: string; balanceMinor: bigint; version: number },
  fresh: readonly PostingEntryInput[],
  now: Date,
): LedgerEntry[] {
  let balance = account.balanceMinor;
  let version = account.version;
  return fresh.map((entry) => {
    balance += entry.amountMinor;
    version += 1;
    return Object.assign(new LedgerEntry(), {
      id: uuidv7(),
      tenantId: account.tenantId,
      accountVersion: version,
      type: entry.type,
      amountMinor: entry.amountMinor,
      currency: account.currency,
      balanceAfterMinor: balance,
      idempotencyKey: entry.idempotencyKey,
      product: entry.product ?? null,
      quantity: entry.quantity ?? null,
      rateId: entry.rateId ?? null,
      unitPriceMicros: entry.unitPriceMicros ?? null,
      occurredAt: entry.occurredAt ?? null,
      externalRef: entry.externalRef ?? null,
      description: entry.description ?? null,
      metadata: entry.metadata ?? null,
      createdAt: now,
    });
  });
}

function transactionPostedPayload(outcome: PostingOutcome) {
  const last = outcome.posted.at(-1)!;
  return {
    tenantId: outcome.tenantId,
    currency: outcome.currency,
    balanceAfterMinor: last.balanceAfterMinor.toString(),
    version: last.accountVersion,
    // The contract keeps its own fields of each entry (zod drops the rest).
    entries: outcome.posted.map(entryPayload),
  };
}

/** An entry as events carry it (bigints as strings; `balance.changed` keeps every field, `transaction.posted` fewer). */
function entryPayload(entry: LedgerEntry) {
  return {
    entryId: entry.id,
    type: entry.type,
    amountMinor: entry.amountMinor.toString(),
    balanceAfterMinor: entry.balanceAfterMinor.toString(),
    accountVersion: entry.accountVersion,
    idempotencyKey: entry.idempotencyKey,
    product: entry.product,
    quantity: entry.quantity === null ? null : entry.quantity.toString(),
    rateId: entry.rateId,
    unitPriceMicros: entry.unitPriceMicros === null ? null : entry.unitPriceMicros.toString(),
    occurredAt: entry.occurredAt?.toISOString() ?? null,
    externalRef: entry.externalRef,
    description: entry.description,
    postedAt: entry.createdAt.toISOString(),
  };
}
