import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BalanceChanged, Topic, decode, type EventBus, type EventEnvelope, type PayloadOf, type Unsubscribe } from '@saldo/events';
import { ErrorCode, SaldoError } from '@saldo/graphql';
import { Money } from '@saldo/money';
import { BoundedStream, type Logger } from '@saldo/service';
import { LedgerEntry } from '../entities/ledger-entry.js';
import { balanceView, type AccountService, type BalanceView } from './account-service.js';
import type { LedgerService } from './ledger-service.js';

type BalanceChange = PayloadOf<typeof BalanceChanged>;

/** One item of a live balance stream. */
export interface BalanceFeedItem {
  tenantId: string;
  balance: BalanceView;
  /** The balance before this change; null for the snapshot that opens every stream. */
  previousBalance: Money | null;
  /** False for the snapshot delivered first on subscribe; true for every change after it. */
  isChange: boolean;
  /** The entry that produced the change, when the event carried it (otherwise read on demand: `entryAt`). */
  entry?: LedgerEntry;
}

/** What the feed needs from billing: fresh account reads and the ledger entry that produced a version. */
export interface BalanceFeedSources {
  /** The tenant's balance right now (no request cache); null when billing holds no account for it. */
  currentBalance(tenantId: string): Promise<BalanceView | null>;
  /** The ledger entry with this account version (the last entry of the posting that produced it). */
  entryAt(tenantId: string, version: number): Promise<LedgerEntry | null>;
}

export interface BalanceFeedOptions {
  /** Items one stream may hold while its reader (the subgraph's graphql-ws connection) is busy; older ones are dropped. */
  bufferSize?: number;
  /** Longest a new stream waits for the feed's consumer to be positioned before it reads the snapshot anyway. */
  readyTimeoutMs?: number;
}

/**
 * Live balances for `Subscription.balanceChanged`: consumes `balance.changed` from balance-events and fans each event
 * out to this instance's streams of that tenant.
 *
 * Every billing instance must see every event (its subscribers may be any tenant's), so the feed consumes with a
 * consumer group of its own per process (`billing.balance-feed.<instance>`), starting at the latest offset: a group
 * shared by the instances would split the events between them. The in-process bus (embedded default) delivers to
 * every group as well.
 *
 * A stream registers for events before it reads the current balance (the snapshot it delivers first), after the
 * feed's consumer is positioned, so no change can fall between the snapshot and the first event. Events at or below
 * the version already delivered are skipped (snapshot overlap, at-least-once redelivery), so versions only increase.
 * A stream whose reader falls behind keeps only its newest `bufferSize` items: older balances are dropped in favour
 * of the latest.
 */
export class BalanceFeed {
  /** Consumer group of this process; unique, so instances sharing a bus never split the topic between them. */
  readonly group = `billing.balance-feed.${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly listeners = new Map<string, Set<(change: BalanceChange, local: boolean) => void>>();
  private readonly ready: Promise<void>;
  private markReady!: () => void;
  private readonly entries = new Map<string, Promise<LedgerEntry | null>>();
  private readonly bufferSize: number;
  private readonly readyTimeoutMs: number;
  private events = 0;
  private dropped = 0;

  constructor(
    private readonly sources: BalanceFeedSources,
    private readonly logger: Logger,
    options: BalanceFeedOptions = {},
  ) {
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
    this.bufferSize = options.bufferSize ?? 64;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  }

  /** Starts consuming balance-events; the result stops it. */
  start(bus: EventBus): Unsubscribe {
    return bus.subscribe(Topic.BalanceEvents, this.group, async (event) => this.handle(event), {
      startAt: 'latest',
      onReady: () => this.markReady(),
    });
  }

  /** Resolves once the feed's consumer is positioned (every event published afterwards reaches it). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  metrics(): { streams: number; events: number; dropped: number } {
    let streams = 0;
    for (const set of this.listeners.values()) streams += set.size;
    return { streams, events: this.events, dropped: this.dropped };
  }

  /** The bus handler: fan out to this instance's streams of the tenant. Never blocks on a reader. */
  handle(envelope: EventEnvelope): void {
    this.fanOut(envelope, false);
  }

  /**
   * A posting of this instance, told at its commit (before the bus has it). A stream takes it at once when it is
   * the version after the last one delivered; otherwise another instance's posting is still on its way through the
   * bus, and the stream holds this one until the gap is filled, so updates stay complete and in order.
   */
  handleLocal(envelope: EventEnvelope): void {
    this.fanOut(envelope, true);
  }

  private fanOut(envelope: EventEnvelope, local: boolean): void {
    const change = decode(BalanceChanged, envelope);
    if (!change) return;
    if (!local) this.events += 1;
    const listeners = this.listeners.get(change.tenantId);
    if (!listeners) return;
    for (const listener of listeners) listener(change, local);
  }

  /**
   * The tenant's stream: its current balance first, then every later change in version order. Throws
   * TENANT_NOT_FOUND when billing holds no account for the tenant (scope is the caller's to check first).
   */
  async open(tenantId: string): Promise<AsyncIterableIterator<BalanceFeedItem>> {
    let lastVersion = -1;
    const stream = new BoundedStream<BalanceFeedItem>(this.bufferSize, {
      onDrop: () => {
        this.dropped += 1;
      },
      onClose: () => {
        listeners.delete(listener);
        if (listeners.size === 0 && this.listeners.get(tenantId) === listeners) this.listeners.delete(tenantId);
      },
    });
    // Local items (this instance's postings, told at commit) that arrived ahead of a version still on the bus.
    const held = new Map<number, BalanceFeedItem>();
    const deliver = (item: BalanceFeedItem): void => {
      lastVersion = item.balance.version;
      stream.push(item);
      for (let next = held.get(lastVersion + 1); next; next = held.get(lastVersion + 1)) {
        held.delete(lastVersion + 1);
        lastVersion += 1;
        stream.push(next);
      }
      for (const version of held.keys()) if (version <= lastVersion) held.delete(version);
    };
    const push = (item: BalanceFeedItem, local: boolean): void => {
      const version = item.balance.version;
      if (version <= lastVersion) return;
      if (local && version !== lastVersion + 1) {
        held.set(version, item);
        // Bounded: should the bus never fill the gap, the oldest held item goes (the bus brings it again).
        if (held.size > this.bufferSize) held.delete(Math.min(...held.keys()));
        return;
      }
      deliver(item);
    };
    const pending: Array<{ item: BalanceFeedItem; local: boolean }> = [];
    let opened = false;
    // Until the snapshot is read, events wait aside; newer ones follow the snapshot, older ones are skipped.
    const listener = (change: BalanceChange, local: boolean): void =>
      opened ? push(changeItem(change), local) : void pending.push({ item: changeItem(change), local });
    const listeners = this.listeners.get(tenantId) ?? new Set();
    listeners.add(listener);
    this.listeners.set(tenantId, listeners);

    try {
      await this.waitUntilReady();
      const snapshot = await this.sources.currentBalance(tenantId);
      if (!snapshot) throw new SaldoError(ErrorCode.TenantNotFound, `Billing holds no account for tenant ${tenantId}.`, { tenantId });
      push({ tenantId, balance: snapshot, previousBalance: null, isChange: false }, false);
      for (const { item, local } of pending) push(item, local);
      pending.length = 0;
      opened = true;
    } catch (error) {
      await stream.return();
      throw error;
    }
    return stream;
  }

  /** The entry that produced a balance version; shared by every stream of this instance (bounded cache). */
  entryAt(tenantId: string, version: number): Promise<LedgerEntry | null> {
    const key = `${tenantId}:${version}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = this.sources.entryAt(tenantId, version);
      if (this.entries.size >= 10_000) this.entries.clear();
      this.entries.set(key, entry);
      entry.catch(() => this.entries.delete(key));
    }
    return entry;
  }

  private async waitUntilReady(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.readyTimeoutMs);
      timer.unref();
    });
    const late = await Promise.race([this.ready.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) this.logger.warn('balance feed consumer not positioned yet; serving the snapshot anyway', { group: this.group });
  }
}

function changeItem(change: BalanceChange): BalanceFeedItem {
  return {
    tenantId: change.tenantId,
    balance: {
      tenantId: change.tenantId,
      available: Money.of(BigInt(change.balanceMinor), change.currency),
      version: change.version,
      updatedAt: new Date(change.changedAt),
    },
    previousBalance: Money.of(BigInt(change.previousBalanceMinor), change.currency),
    isChange: true,
    ...(change.entry ? { entry: entryOf(change, change.entry) } : {}),
  };
}

/** A detached LedgerEntry from the copy a balance.changed event carries. */
function entryOf(change: BalanceChange, entry: NonNullable<BalanceChange['entry']>): LedgerEntry {
  return Object.assign(new LedgerEntry(), {
    id: entry.entryId,
    tenantId: change.tenantId,
    accountVersion: entry.accountVersion,
    type: entry.type,
    amountMinor: BigInt(entry.amountMinor),
    currency: change.currency,
    balanceAfterMinor: BigInt(entry.balanceAfterMinor),
    idempotencyKey: entry.idempotencyKey,
    product: entry.product,
    quantity: entry.quantity === null ? null : BigInt(entry.quantity),
    rateId: entry.rateId,
    unitPriceMicros: entry.unitPriceMicros === null ? null : BigInt(entry.unitPriceMicros),
    occurredAt: entry.occurredAt === null ? null : new Date(entry.occurredAt),
    externalRef: entry.externalRef,
    description: entry.description,
    metadata: null,
    createdAt: new Date(entry.postedAt),
  });
}

/** Feeds per billing services object (the resolvers reach the feed through `ctx.services`). */
const feeds = new WeakMap<object, BalanceFeed>();

export function registerBalanceFeed(services: object, feed: BalanceFeed): void {
  feeds.set(services, feed);
}

export function balanceFeedOf(services: object): BalanceFeed {
  const feed = feeds.get(services);
  if (!feed) throw new Error('The balance feed is not running in this billing instance');
  return feed;
}

/**
 * Creates this instance's balance feed over billing's services, consuming from `bus`; registered with
 * `SubgraphDefinition.subscribe` so it stops with the other consumers.
 */
export function startBalanceFeed(
  services: { accounts: AccountService; ledger: LedgerService },
  runtime: { bus: EventBus; logger: Logger },
  options: BalanceFeedOptions = {},
): Unsubscribe {
  const feed = new BalanceFeed(
    {
      currentBalance: async (tenantId) => {
        const account = await services.accounts.find(tenantId);
        return account ? balanceView(account, tenantId, account.currency) : null;
      },
      entryAt: async (tenantId, version) => {
        const [page] = await services.ledger.transactions([{ tenantId, first: 1, beforeVersion: version + 1 }]);
        const entry = page?.entries[0];
        return entry && entry.accountVersion === version ? entry : null;
      },
    },
    runtime.logger.child('balance-feed'),
    options,
  );
  registerBalanceFeed(services, feed);
  const stopConsuming = feed.start(runtime.bus);
  // This instance's own postings reach its streams at commit, without waiting for the outbox relay and the bus
  // (which deliver them again; versions already delivered are skipped). Other instances' postings come by the bus.
  const stopListening = services.ledger.addCommitListener((events) => {
    for (const event of events) feed.handleLocal(event);
  });
  return async () => {
    stopListening();
    await stopConsuming();
  };
}
