import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BalanceChanged, TransactionPosted, UsageRecorded, enqueueEvent } from '@saldo/events';
import { SaldoError } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import type { SubgraphDefinition } from '@saldo/subgraph';
import { startTestSubgraph, type TestSubgraph } from '@saldo/testing';
import { loadBillingConfig, type BillingConfig } from '../config.js';
import { billingSubgraph, createBillingServices, type BillingServices } from '../definition.js';
import { OverdraftMode } from './entities/account.js';
import { LedgerEntryType } from './entities/ledger-entry.js';
import type { UsageEventInput } from '../usage/index.js';

/** "Now" for every service, movable by tests (rates are published relative to it). */
let now = new Date('2026-03-15T12:00:00.000Z');
const clock = { now: () => now };
const RATES_FROM = new Date('2026-01-01T00:00:00.000Z');

const definition: SubgraphDefinition<BillingServices, BillingConfig> = {
  ...billingSubgraph,
  createServices: (runtime) => createBillingServices(runtime, clock),
};

let subgraph: TestSubgraph<BillingServices>;
let services: BillingServices;
let db: ShardedDatabase;

function minutesAgo(minutes: number): Date {
  return new Date(now.getTime() - minutes * 60_000);
}

async function newTenant(currency = 'EUR', topUpMinor = 0n): Promise<string> {
  const tenantId = randomUUID();
  await services.accounts.open(tenantId, currency);
  if (topUpMinor > 0n) await topUp(tenantId, topUpMinor);
  return tenantId;
}

async function topUp(tenantId: string, amountMinor: bigint, key = `test:topup:${randomUUID()}`) {
  return services.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.TOP_UP, amountMinor, idempotencyKey: key, externalRef: key }] });
}

function usage(count: number, product = 'inbound_minute', quantity = 1, prefix: string = randomUUID()): UsageEventInput[] {
  return Array.from({ length: count }, (_, index) => ({ id: `${prefix}-${index}`, product, quantity, occurredAt: minutesAgo(1) }));
}

async function shardOf(tenantId: string) {
  const shardId = await db.directory.lookupOne(tenantId);
  assert.notEqual(shardId, undefined);
  return db.em(shardId!);
}

/** What a failed write must leave untouched: the tenant's entries, its account row, and its outbox events. */
async function footprint(tenantId: string) {
  const em = await shardOf(tenantId);
  const [row] = await em.execute<{ entries: string; balance: string; version: number; events: string }[]>(
    `select (select count(*) from ledger_entry where tenant_id = ?) as entries,
            a.balance_minor as balance, a.version,
            (select count(*) from outbox_event where key = ?) as events
       from account a where a.tenant_id = ?`,
    [tenantId, tenantId, tenantId],
  );
  return row;
}

async function outboxEvents(tenantId: string) {
  const em = await shardOf(tenantId);
  return em.execute<{ type: string; topic: string; key: string; payload: any }[]>(
    'select type, topic, key, payload from outbox_event where key = ? order by seq',
    [tenantId],
  );
}

async function rejects(attempt: () => Promise<unknown>, code: string, label = code): Promise<SaldoError> {
  let caught: unknown;
  await assert.rejects(
    async () => {
      try {
        await attempt();
      } catch (error) {
        caught = error;
        throw error;
      }
    },
    (error: unknown) => error instanceof SaldoError && error.code === code,
    label,
  );
  return caught as SaldoError;
}

describe('billing ledger', () => {
  before(async () => {
    subgraph = await startTestSubgraph(definition, loadBillingConfig, {
      label: 'ledger',
      // Background polls would add statements to the round trips a test counts; commits still poke the relay.
      env: { DATABASE_POOL_MAX: '10', OUTBOX_POLL_INTERVAL_MS: '3600000', AUTO_TOPUP_POLL_INTERVAL_MS: '3600000' },
    });
    services = subgraph.service.services;
    db = subgraph.service.runtime.db;
    for (const currency of ['EUR', 'GBP']) {
      await services.rates.publish({ product: 'inbound_minute', currency, unitPriceMinor: '1.25', validFrom: RATES_FROM });
      await services.rates.publish({ product: 'outbound_minute', currency, unitPriceMinor: '2.5', validFrom: RATES_FROM });
      await services.rates.publish({ product: 'sms', currency, unitPriceMinor: '0.5', validFrom: RATES_FROM });
      await services.rates.publish({ product: 'status_ping', currency, unitPriceMinor: '0.4', validFrom: RATES_FROM });
    }
  });

  after(async () => {
    await subgraph?.destroy();
  });

  it('has migrations that create exactly the tables its entities describe (shards and control)', async () => {
    assert.deepEqual(await db.schemaDrift(), []);
  });

  describe('recordUsage', () => {
    it('charges each new event at its rate, appends one entry per event and returns the new balance', async () => {
      const tenantId = await newTenant('EUR', 10_000n);
      const events: UsageEventInput[] = [
        { id: 'call-1', product: 'inbound_minute', quantity: 3, occurredAt: minutesAgo(10) }, // 3.75 -> 4
        { id: 'call-2', product: 'outbound_minute', quantity: 1, occurredAt: minutesAgo(9) }, // 2.5 -> 3
        { id: 'sms-1', product: 'sms', quantity: 1, occurredAt: minutesAgo(8).toISOString() }, // 0.5 -> 1
      ];
      const result = await services.usage.recordUsage(tenantId, events);
      assert.deepEqual(
        result.results.map((r) => [r.id, r.status, r.cost.amountMinor, r.cost.currency]),
        [
          ['call-1', 'ACCEPTED', 4n, 'EUR'],
          ['call-2', 'ACCEPTED', 3n, 'EUR'],
          ['sms-1', 'ACCEPTED', 1n, 'EUR'],
        ],
      );
      assert.equal(result.accepted, 3);
      assert.equal(result.duplicates, 0);
      assert.equal(result.balance.available.amountMinor, 10_000n - 8n);
      assert.equal(result.balance.version, 4);

      const page = await services.ledger.transactions([{ tenantId, first: 10 }]);
      const entries = page[0]!.entries;
      assert.deepEqual(
        entries.map((e) => [e.accountVersion, e.type, e.amountMinor, e.balanceAfterMinor, e.externalRef, e.idempotencyKey]),
        [
          [4, 'USAGE', -1n, 9_992n, 'sms-1', 'usage:sms-1'],
          [3, 'USAGE', -3n, 9_993n, 'call-2', 'usage:call-2'],
          [2, 'USAGE', -4n, 9_996n, 'call-1', 'usage:call-1'],
          [1, 'TOP_UP', 10_000n, 10_000n, entries[3]!.externalRef, entries[3]!.idempotencyKey],
        ],
      );
      const call = entries[2]!;
      assert.equal(call.product, 'inbound_minute');
      assert.equal(call.quantity, 3n);
      assert.equal(call.unitPriceMicros, 1_250_000n);
      assert.equal(call.occurredAt?.toISOString(), minutesAgo(10).toISOString());
      assert.ok(call.rateId);
      assert.equal(result.results[0]!.entryId, call.id);
    });

    it('reports an id sent again, in the same batch or a later one, as a duplicate and never charges it twice', async () => {
      const tenantId = await newTenant('EUR', 1_000n);
      const first = await services.usage.recordUsage(tenantId, [
        { id: 'a', product: 'outbound_minute', quantity: 2, occurredAt: minutesAgo(5) },
        { id: 'a', product: 'outbound_minute', quantity: 2, occurredAt: minutesAgo(5) },
        { id: 'b', product: 'sms', quantity: 2, occurredAt: minutesAgo(5) },
      ]);
      assert.deepEqual(
        first.results.map((r) => r.status),
        ['ACCEPTED', 'DUPLICATE', 'ACCEPTED'],
      );
      assert.equal(first.results[0]!.entryId, first.results[1]!.entryId);
      assert.equal(first.balance.available.amountMinor, 1_000n - 5n - 1n);

      const again = await services.usage.recordUsage(tenantId, [
        { id: 'b', product: 'sms', quantity: 2, occurredAt: minutesAgo(5) },
        { id: 'c', product: 'sms', quantity: 4, occurredAt: minutesAgo(5) },
      ]);
      assert.deepEqual(
        again.results.map((r) => [r.id, r.status, r.cost.amountMinor]),
        [
          ['b', 'DUPLICATE', 1n],
          ['c', 'ACCEPTED', 2n],
        ],
      );
      assert.equal(again.results[0]!.entryId, first.results[2]!.entryId);
      assert.equal(again.balance.available.amountMinor, 1_000n - 8n);

      const replay = await services.usage.recordUsage(tenantId, [{ id: 'c', product: 'sms', quantity: 4, occurredAt: minutesAgo(5) }]);
      assert.deepEqual(
        replay.results.map((r) => r.status),
        ['DUPLICATE'],
      );
      assert.equal(replay.balance.version, again.balance.version, 'an all-duplicate batch changes nothing');
      const events = await outboxEvents(tenantId);
      assert.equal(events.filter((e) => e.type === 'usage.recorded').length, 2, 'no event for an all-duplicate batch');
      assert.ok((await services.ledger.verify(tenantId)).consistent);
    });

    it('never loses an update when 50 batches for one account run concurrently', async () => {
      const tenantId = await newTenant('EUR', 1_000_000n);
      const batches = Array.from({ length: 50 }, () => usage(10, 'outbound_minute'));
      const results = await Promise.all(batches.map((events) => services.usage.recordUsage(tenantId, events)));
      assert.ok(results.every((result) => result.accepted === 10));
      const check = await services.ledger.verify(tenantId);
      assert.equal(check.cachedBalanceMinor, 1_000_000n - 500n * 3n);
      assert.equal(check.entries, 501);
      assert.equal(check.cachedVersion, 501);
      assert.ok(
        check.consistent,
        JSON.stringify(check, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
      );
      // Each call saw its own consistent snapshot: versions after each call are distinct.
      assert.equal(new Set(results.map((result) => result.balance.version)).size, 50);
    });

    it('charges an event exactly once when the same batch arrives on many connections at the same time', async () => {
      const tenantId = await newTenant('EUR', 100_000n);
      const events = usage(20, 'sms', 3);
      const results = await Promise.all(Array.from({ length: 8 }, () => services.usage.recordUsage(tenantId, events)));
      assert.equal(
        results.reduce((sum, result) => sum + result.accepted, 0),
        20,
      );
      assert.equal(
        results.reduce((sum, result) => sum + result.duplicates, 0),
        20 * 7,
      );
      const check = await services.ledger.verify(tenantId);
      assert.equal(check.cachedBalanceMinor, 100_000n - 20n * 2n);
      assert.equal(check.entries, 21);
      assert.ok(check.consistent);
    });

    it('enqueues usage.recorded, transaction.posted and balance.changed, keyed by tenant, in the same transaction', async () => {
      const tenantId = await newTenant('GBP', 500n);
      const before = (await outboxEvents(tenantId)).length;
      await services.usage.recordUsage(tenantId, [
        { id: 'e1', product: 'inbound_minute', quantity: 4, occurredAt: minutesAgo(3) },
        { id: 'e2', product: 'sms', quantity: 1, occurredAt: minutesAgo(2) },
      ]);
      const events = (await outboxEvents(tenantId)).slice(before);
      assert.deepEqual(
        events.map((e) => [e.type, e.topic, e.key]),
        [
          ['transaction.posted', 'transaction-events', tenantId],
          ['balance.changed', 'balance-events', tenantId],
          ['usage.recorded', 'usage-events', tenantId],
        ],
      );
      const posted = TransactionPosted.payload.parse(events[0]!.payload);
      assert.deepEqual(
        posted.entries.map((e) => [e.type, e.amountMinor, e.balanceAfterMinor, e.accountVersion, e.externalRef]),
        [
          ['USAGE', '-5', '495', 2, 'e1'],
          ['USAGE', '-1', '494', 3, 'e2'],
        ],
      );
      assert.equal(posted.currency, 'GBP');
      const balance = BalanceChanged.payload.parse(events[1]!.payload);
      assert.deepEqual([balance.previousBalanceMinor, balance.balanceMinor, balance.version], ['500', '494', 3]);
      const recorded = UsageRecorded.payload.parse(events[2]!.payload);
      assert.deepEqual(
        recorded.events.map((e) => [e.eventId, e.product, e.quantity, e.costMinor, e.unitPriceMicros]),
        [
          ['e1', 'inbound_minute', '4', '5', '1250000'],
          ['e2', 'sms', '1', '1', '500000'],
        ],
      );
    });

    it('leaves no entry, no balance change and no event when the transaction rolls back after enqueueing', async () => {
      const tenantId = await newTenant('EUR', 1_000n);
      const before = await footprint(tenantId);
      const removeHook = services.ledger.addPostingHook((tx, outcome) => {
        enqueueEvent(tx, BalanceChanged, outcome.tenantId, {
          tenantId: outcome.tenantId,
          currency: outcome.currency,
          balanceMinor: '0',
          previousBalanceMinor: '0',
          version: 1,
          changedAt: new Date().toISOString(),
        });
        throw new Error('crash before commit');
      });
      try {
        await assert.rejects(services.usage.recordUsage(tenantId, usage(5)), /crash before commit/);
      } finally {
        removeHook();
      }
      assert.deepEqual(await footprint(tenantId), before);
      // The same events go through once the fault is gone: nothing was half-recorded.
      const retried = await services.usage.recordUsage(tenantId, usage(5, 'inbound_minute', 1, 'retry'));
      assert.equal(retried.accepted, 5);
    });
  });

  describe('overdraft policy', () => {
    it('BLOCK rejects usage beyond the balance with INSUFFICIENT_BALANCE and writes nothing; exactly the balance is fine', async () => {
      const tenantId = await newTenant('EUR', 10n);
      const before = await footprint(tenantId);
      const error = await rejects(
        () => services.usage.recordUsage(tenantId, [{ id: 'big', product: 'outbound_minute', quantity: 5, occurredAt: minutesAgo(1) }]), // 12.5 -> 13
        'INSUFFICIENT_BALANCE',
      );
      assert.equal(error.extensions['requiredMinor'], '13');
      assert.equal(error.extensions['balanceMinor'], '10');
      assert.deepEqual(await footprint(tenantId), before);

      const exact = await services.usage.recordUsage(tenantId, [{ id: 'exact', product: 'outbound_minute', quantity: 4, occurredAt: minutesAgo(1) }]); // 10
      assert.equal(exact.balance.available.amountMinor, 0n);
      await rejects(
        () => services.usage.recordUsage(tenantId, [{ id: 'one-more', product: 'sms', quantity: 1, occurredAt: minutesAgo(1) }]),
        'INSUFFICIENT_BALANCE',
      );
      // Usage that rounds to nothing still records (and dedupes) at a zero balance.
      const free = await services.usage.recordUsage(tenantId, [{ id: 'free', product: 'status_ping', quantity: 1, occurredAt: minutesAgo(1) }]);
      assert.deepEqual(
        free.results.map((r) => [r.status, r.cost.amountMinor]),
        [['ACCEPTED', 0n]],
      );
      assert.equal(free.balance.available.amountMinor, 0n);
    });

    it('ALLOW_OVERDRAFT lets usage take the balance down to minus the limit, not a cent further', async () => {
      const tenantId = await newTenant('EUR', 100n);
      const policy = await services.accounts.setOverdraftPolicy(
        { tenantId, mode: OverdraftMode.ALLOW_OVERDRAFT, limit: { amountMinor: 50n, currency: 'EUR' } },
        { mayExtendCredit: true },
      );
      assert.deepEqual([policy.mode, policy.limit.amountMinor, policy.limit.currency], ['ALLOW_OVERDRAFT', 50n, 'EUR']);

      const toLimit = await services.usage.recordUsage(tenantId, [{ id: 'x1', product: 'outbound_minute', quantity: 60, occurredAt: minutesAgo(1) }]); // 150
      assert.equal(toLimit.balance.available.amountMinor, -50n);
      const before = await footprint(tenantId);
      await rejects(() => services.usage.recordUsage(tenantId, [{ id: 'x2', product: 'sms', quantity: 1, occurredAt: minutesAgo(1) }]), 'INSUFFICIENT_BALANCE');
      assert.deepEqual(await footprint(tenantId), before);

      // A top-up always goes through, and usage resumes.
      await topUp(tenantId, 20n);
      const resumed = await services.usage.recordUsage(tenantId, [{ id: 'x3', product: 'outbound_minute', quantity: 8, occurredAt: minutesAgo(1) }]); // 20
      assert.equal(resumed.balance.available.amountMinor, -50n);

      // Back to BLOCK: nothing more while the balance is negative.
      await services.accounts.setOverdraftPolicy({ tenantId, mode: OverdraftMode.BLOCK }, { mayExtendCredit: false });
      await rejects(() => services.usage.recordUsage(tenantId, [{ id: 'x4', product: 'sms', quantity: 1, occurredAt: minutesAgo(1) }]), 'INSUFFICIENT_BALANCE');
      assert.ok((await services.ledger.verify(tenantId)).consistent);
    });

    it('rejects a whole batch that would cross the floor, even when its first events fit', async () => {
      const tenantId = await newTenant('EUR', 5n);
      const before = await footprint(tenantId);
      await rejects(() => services.usage.recordUsage(tenantId, usage(6, 'inbound_minute', 1)), 'INSUFFICIENT_BALANCE'); // 6 x 1
      assert.deepEqual(await footprint(tenantId), before);
    });

    it('lets only the platform or a partner extend credit, and validates the policy', async () => {
      const tenantId = await newTenant('EUR');
      await rejects(
        () =>
          services.accounts.setOverdraftPolicy({ tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 10n, currency: 'EUR' } }, { mayExtendCredit: false }),
        'FORBIDDEN',
      );
      await services.accounts.setOverdraftPolicy(
        { tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 100n, currency: 'EUR' } },
        { mayExtendCredit: true },
      );
      // Tightening is allowed to anyone who may write the tenant.
      const lower = await services.accounts.setOverdraftPolicy(
        { tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 40n, currency: 'EUR' } },
        { mayExtendCredit: false },
      );
      assert.equal(lower.limit.amountMinor, 40n);
      await rejects(() => services.accounts.setOverdraftPolicy({ tenantId, mode: 'ALLOW_OVERDRAFT' }, { mayExtendCredit: true }), 'BAD_USER_INPUT');
      await rejects(
        () => services.accounts.setOverdraftPolicy({ tenantId, mode: 'BLOCK', limit: { amountMinor: 5n, currency: 'EUR' } }, { mayExtendCredit: true }),
        'BAD_USER_INPUT',
      );
      await rejects(
        () =>
          services.accounts.setOverdraftPolicy({ tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: -1n, currency: 'EUR' } }, { mayExtendCredit: true }),
        'INVALID_AMOUNT',
      );
      await rejects(
        () =>
          services.accounts.setOverdraftPolicy({ tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 10n, currency: 'GBP' } }, { mayExtendCredit: true }),
        'INVALID_CURRENCY',
      );
      await rejects(() => services.accounts.setOverdraftPolicy({ tenantId, mode: 'SOMETIMES' }, { mayExtendCredit: true }), 'BAD_USER_INPUT');
      await rejects(() => services.accounts.setOverdraftPolicy({ tenantId: randomUUID(), mode: 'BLOCK' }, { mayExtendCredit: true }), 'ACCOUNT_NOT_FOUND');
      const account = await services.accounts.find(tenantId);
      assert.deepEqual([account?.overdraftMode, account?.overdraftLimitMinor, account?.version], ['ALLOW_OVERDRAFT', 40n, 0]);
    });
  });

  describe('rates', () => {
    it('prices usage at the version valid at its occurredAt, and refuses usage no version covers', async () => {
      const saved = now;
      try {
        now = new Date('2026-04-01T00:00:00.000Z');
        const product = `voicemail_${randomUUID().slice(0, 8)}`;
        const v1 = await services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '10', validFrom: '2026-03-01T00:00:00Z' });
        const v2 = await services.rates.publish({
          product,
          currency: 'EUR',
          unitPriceMinor: '12.5',
          validFrom: '2026-04-01T06:00:00Z',
          validTo: '2026-04-02T00:00:00Z',
        });
        assert.equal(v2.validTo?.toISOString(), '2026-04-02T00:00:00.000Z');
        const [first] = await services.rates.list({ currency: 'EUR', product });
        assert.equal(first?.id, v1.id);
        assert.equal(first?.validTo?.toISOString(), '2026-04-01T06:00:00.000Z', 'v1 ends where v2 starts');

        now = new Date('2026-04-03T00:00:00.000Z');
        const tenantId = await newTenant('EUR', 1_000n);
        const at = (id: string, occurredAt: string) => ({ id, product, quantity: 1, occurredAt });
        const result = await services.usage.recordUsage(tenantId, [
          at('v1-start', '2026-03-01T00:00:00.000Z'),
          at('v1-last-ms', '2026-04-01T05:59:59.999Z'),
          at('v2-start', '2026-04-01T06:00:00.000Z'),
          at('v2-last-ms', '2026-04-01T23:59:59.999Z'),
        ]);
        assert.deepEqual(
          result.results.map((r) => r.cost.amountMinor),
          [10n, 10n, 13n, 13n],
        );
        const page = (await services.ledger.transactions([{ tenantId, first: 4 }]))[0]!;
        assert.deepEqual(page.entries.map((e) => e.rateId).reverse(), [v1.id, v1.id, v2.id, v2.id]);

        const before = await footprint(tenantId);
        await rejects(() => services.usage.recordUsage(tenantId, [at('before-v1', '2026-02-28T23:59:59.999Z')]), 'RATE_NOT_FOUND');
        await rejects(() => services.usage.recordUsage(tenantId, [at('after-v2', '2026-04-02T00:00:00.000Z')]), 'RATE_NOT_FOUND');
        const gbp = await newTenant('GBP', 1_000n);
        await rejects(() => services.usage.recordUsage(gbp, [at('no-gbp', '2026-04-01T12:00:00.000Z')]), 'RATE_NOT_FOUND');
        assert.deepEqual(await footprint(tenantId), before);
        const rates = await services.rates.list({ currency: 'EUR', product, validAt: '2026-04-01T07:00:00Z' });
        assert.deepEqual(
          rates.map((rate) => rate.id),
          [v2.id],
        );
      } finally {
        now = saved;
      }
    });

    it('never reprices the past: new versions start after the current one, and not before now while it is in force', async () => {
      const product = `fax_${randomUUID().slice(0, 8)}`;
      // The first version of a product may start in the past: nothing was charged for it before.
      await services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '1', validFrom: '2025-01-01T00:00:00Z' });
      await rejects(() => services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '2', validFrom: minutesAgo(1) }), 'RATE_WINDOW_CONFLICT');
      await rejects(() => services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '2', validFrom: '2024-12-31T00:00:00Z' }), 'RATE_WINDOW_CONFLICT');
      const scheduled = await services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '2', validFrom: new Date(now.getTime() + 86_400_000) });
      await rejects(() => services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '3', validFrom: scheduled.validFrom }), 'RATE_WINDOW_CONFLICT');
      const effectiveNow = await services.rates.publish({ product, currency: 'GBP', unitPriceMinor: '3' });
      assert.equal(effectiveNow.validFrom.toISOString(), now.toISOString());

      await rejects(() => services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '-1' }), 'INVALID_PRICE');
      await rejects(() => services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '0.0000001' }), 'INVALID_PRICE');
      await rejects(() => services.rates.publish({ product, currency: 'EUR', unitPriceMinor: '1e3' }), 'INVALID_PRICE');
      await rejects(() => services.rates.publish({ product, currency: 'EUX', unitPriceMinor: '1' }), 'INVALID_CURRENCY');
      await rejects(() => services.rates.publish({ product: 'Bad Product', currency: 'EUR', unitPriceMinor: '1' }), 'UNKNOWN_PRODUCT');
      await rejects(
        () =>
          services.rates.publish({
            product: `${product}_x`,
            currency: 'EUR',
            unitPriceMinor: '1',
            validFrom: '2026-05-01T00:00:00Z',
            validTo: '2026-05-01T00:00:00Z',
          }),
        'RATE_WINDOW_CONFLICT',
      );
      const versions = await services.rates.list({ currency: 'EUR', product });
      assert.equal(versions.length, 2);
      assert.equal(versions[0]!.validTo?.toISOString(), scheduled.validFrom.toISOString());
    });
  });

  describe('bad usage input', () => {
    it('is rejected whole with a stable code, writing nothing', async () => {
      const tenantId = await newTenant('EUR', 100_000n);
      const good = usage(3, 'sms');
      const event = (changes: Partial<Record<keyof UsageEventInput, unknown>>) => ({ ...good[0]!, id: `bad-${randomUUID()}`, ...changes }) as UsageEventInput;
      const cases: Array<[string, () => Promise<unknown>, string]> = [
        ['1,001 events', () => services.usage.recordUsage(tenantId, usage(1001)), 'BATCH_TOO_LARGE'],
        ['no events', () => services.usage.recordUsage(tenantId, []), 'BAD_USER_INPUT'],
        ['zero quantity', () => services.usage.recordUsage(tenantId, [...good, event({ quantity: 0 })]), 'INVALID_QUANTITY'],
        ['negative quantity', () => services.usage.recordUsage(tenantId, [...good, event({ quantity: -3 })]), 'INVALID_QUANTITY'],
        ['fractional quantity', () => services.usage.recordUsage(tenantId, [...good, event({ quantity: 1.5 })]), 'INVALID_QUANTITY'],
        ['quantity beyond Int', () => services.usage.recordUsage(tenantId, [...good, event({ quantity: 2 ** 31 })]), 'INVALID_QUANTITY'],
        ['unknown product', () => services.usage.recordUsage(tenantId, [...good, event({ product: 'teleportation' })]), 'UNKNOWN_PRODUCT'],
        ['malformed product', () => services.usage.recordUsage(tenantId, [...good, event({ product: 'SMS; drop table' })]), 'UNKNOWN_PRODUCT'],
        ['malformed event id', () => services.usage.recordUsage(tenantId, [...good, event({ id: 'has space' })]), 'INVALID_ID'],
        ['empty event id', () => services.usage.recordUsage(tenantId, [...good, event({ id: '' })]), 'INVALID_ID'],
        ['over-long event id', () => services.usage.recordUsage(tenantId, [...good, event({ id: 'x'.repeat(129) })]), 'INVALID_ID'],
        ['malformed tenant id', () => services.usage.recordUsage('tenant-1', good), 'INVALID_ID'],
        [
          'occurredAt in the far future',
          () => services.usage.recordUsage(tenantId, [...good, event({ occurredAt: new Date(now.getTime() + 6 * 60_000) })]),
          'OCCURRED_AT_IN_FUTURE',
        ],
        ['occurredAt that is no date', () => services.usage.recordUsage(tenantId, [...good, event({ occurredAt: 'yesterday' })]), 'BAD_USER_INPUT'],
        ['occurredAt without a zone', () => services.usage.recordUsage(tenantId, [...good, event({ occurredAt: '2026-03-15T10:00:00' })]), 'BAD_USER_INPUT'],
        ['an invalid Date', () => services.usage.recordUsage(tenantId, [...good, event({ occurredAt: new Date('nope') })]), 'BAD_USER_INPUT'],
        ['a rate-less moment', () => services.usage.recordUsage(tenantId, [...good, event({ occurredAt: '2020-01-01T00:00:00Z' })]), 'RATE_NOT_FOUND'],
        ['a tenant billing does not know', () => services.usage.recordUsage(randomUUID(), good), 'ACCOUNT_NOT_FOUND'],
      ];
      const before = await footprint(tenantId);
      for (const [label, attempt, code] of cases) {
        const error = await rejects(attempt, code, label);
        assert.ok(error.message.length > 0, label);
      }
      assert.deepEqual(await footprint(tenantId), before);
      // Clock skew within five minutes is fine.
      const skewed = await services.usage.recordUsage(tenantId, [event({ occurredAt: new Date(now.getTime() + 4 * 60_000) })]);
      assert.equal(skewed.accepted, 1);
    });

    it('lists every bad event of a batch at once', async () => {
      const tenantId = await newTenant('EUR', 100n);
      const error = await rejects(
        () =>
          services.usage.recordUsage(tenantId, [
            { id: 'ok', product: 'sms', quantity: 1, occurredAt: minutesAgo(1) },
            { id: 'q', product: 'sms', quantity: 0, occurredAt: minutesAgo(1) },
            { id: 'bad id', product: 'sms', quantity: 1, occurredAt: minutesAgo(1) },
          ]),
        'INVALID_QUANTITY',
      );
      const issues = error.extensions['issues'] as Array<{ field: string; code: string }>;
      assert.deepEqual(
        issues.map((issue) => [issue.field, issue.code]),
        [
          ['events.1.quantity', 'INVALID_QUANTITY'],
          ['events.2.id', 'INVALID_ID'],
        ],
      );
    });
  });

  describe('LedgerService.post', () => {
    it('credits a top-up once per idempotency key, also when the same key is posted concurrently', async () => {
      const tenantId = await newTenant('EUR');
      const key = `stripe:evt_${randomUUID()}`;
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => topUp(tenantId, 2_500n, key)));
      assert.equal(outcomes.filter((outcome) => outcome.posted.length === 1).length, 1);
      assert.equal(outcomes.filter((outcome) => outcome.duplicates.has(key)).length, 9);
      const check = await services.ledger.verify(tenantId);
      assert.equal(check.cachedBalanceMinor, 2_500n);
      assert.equal(check.entries, 1);
      assert.ok(check.consistent);
    });

    it('enforces sign rules per entry type, the account currency and unique keys per posting, writing nothing', async () => {
      const tenantId = await newTenant('EUR', 1_000n);
      const before = await footprint(tenantId);
      const post = (entries: Array<{ type: LedgerEntryType; amountMinor: bigint; idempotencyKey?: string }>, currency?: string) =>
        services.ledger.post({
          tenantId,
          ...(currency ? { currency } : {}),
          entries: entries.map((entry) => ({ idempotencyKey: `k:${randomUUID()}`, ...entry })),
        });
      await rejects(() => post([{ type: LedgerEntryType.TOP_UP, amountMinor: -5n }]), 'INVALID_AMOUNT');
      await rejects(() => post([{ type: LedgerEntryType.TOP_UP, amountMinor: 0n }]), 'INVALID_AMOUNT');
      await rejects(() => post([{ type: LedgerEntryType.BONUS, amountMinor: -5n }]), 'INVALID_AMOUNT');
      await rejects(() => post([{ type: LedgerEntryType.CREDIT_NOTE, amountMinor: 0n }]), 'INVALID_AMOUNT');
      await rejects(() => post([{ type: LedgerEntryType.USAGE, amountMinor: 5n }]), 'INVALID_AMOUNT');
      await rejects(() => post([{ type: LedgerEntryType.REFUND, amountMinor: 5n }]), 'INVALID_AMOUNT');
      await rejects(() => post([{ type: LedgerEntryType.ADJUSTMENT, amountMinor: 0n }]), 'INVALID_AMOUNT');
      await rejects(() => post([{ type: LedgerEntryType.TOP_UP, amountMinor: 10n ** 15n + 1n }]), 'INVALID_AMOUNT');
      await rejects(() => post([{ type: LedgerEntryType.TOP_UP, amountMinor: 5n }], 'GBP'), 'INVALID_CURRENCY');
      await rejects(() => post([{ type: LedgerEntryType.TOP_UP, amountMinor: 5n }], 'EUX'), 'INVALID_CURRENCY');
      await rejects(() => post([]), 'BAD_USER_INPUT');
      await rejects(
        () =>
          post([
            { type: LedgerEntryType.TOP_UP, amountMinor: 5n, idempotencyKey: 'same' },
            { type: LedgerEntryType.BONUS, amountMinor: 5n, idempotencyKey: 'same' },
          ]),
        'BAD_USER_INPUT',
      );
      await rejects(() => post([{ type: LedgerEntryType.TOP_UP, amountMinor: 5n, idempotencyKey: 'x'.repeat(201) }]), 'BAD_USER_INPUT');
      await rejects(() => post([{ type: LedgerEntryType.REFUND, amountMinor: -1_001n }]), 'INSUFFICIENT_BALANCE');
      await rejects(() => services.ledger.post({ tenantId: 'nope', entries: [] }), 'INVALID_ID');
      assert.deepEqual(await footprint(tenantId), before);
    });

    it('books a refund beyond the balance when told to ignore the overdraft floor, and mixed postings in order', async () => {
      const tenantId = await newTenant('EUR', 1_000n);
      await services.usage.recordUsage(tenantId, [{ id: 'spent', product: 'outbound_minute', quantity: 380, occurredAt: minutesAgo(1) }]); // 950
      const refund = await services.ledger.post({
        tenantId,
        currency: 'EUR',
        overdraft: 'ignore',
        entries: [
          { type: LedgerEntryType.REFUND, amountMinor: -1_000n, idempotencyKey: 'stripe:evt_refund', externalRef: 're_1', metadata: { charge: 'ch_1' } },
        ],
      });
      assert.equal(refund.balance.available.amountMinor, -950n);
      assert.equal(refund.previousBalance.amountMinor, 50n);
      const mixed = await services.ledger.post({
        tenantId,
        entries: [
          { type: LedgerEntryType.BONUS, amountMinor: 1_000n, idempotencyKey: 'bonus:welcome', description: 'Welcome bonus' },
          { type: LedgerEntryType.ADJUSTMENT, amountMinor: -30n, idempotencyKey: 'adjustment:1', description: 'Manual correction' },
        ],
      });
      assert.deepEqual(
        mixed.posted.map((entry) => [entry.accountVersion, entry.balanceAfterMinor]),
        [
          [4, 50n],
          [5, 20n],
        ],
      );
      const entries = (await services.ledger.transactions([{ tenantId, first: 10, type: LedgerEntryType.REFUND }]))[0]!.entries;
      assert.deepEqual(
        entries.map((entry) => [entry.externalRef, entry.metadata]),
        [['re_1', { charge: 'ch_1' }]],
      );
      assert.ok((await services.ledger.verify(tenantId)).consistent);
    });
  });

  describe('balance watches', () => {
    const WATCH = 'test-low-balance';
    let calls: Array<{ tenantId: string; balance: bigint; threshold: bigint; seenInTransaction: bigint }> = [];
    let failNext = false;
    let removeHandler: () => void;

    before(() => {
      removeHandler = services.ledger.onBalanceWatch(WATCH, async (tx, outcome, thresholdMinor) => {
        const [row] = await tx.execute<{ balance_minor: string }[]>('select balance_minor from account where tenant_id = ?', [outcome.tenantId]);
        calls.push({
          tenantId: outcome.tenantId,
          balance: outcome.balance.available.amountMinor,
          threshold: thresholdMinor,
          seenInTransaction: BigInt(row!.balance_minor),
        });
        if (failNext) throw new Error('handler refused');
      });
    });
    after(() => removeHandler());

    const debit = (tenantId: string, amountMinor: bigint) =>
      services.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.USAGE, amountMinor: -amountMinor, idempotencyKey: `debit:${randomUUID()}` }] });

    it('calls the watch handler inside the posting transaction for postings that end at or below its threshold', async () => {
      const tenantId = await newTenant('EUR', 1_000n);
      calls = [];
      await services.ledger.setBalanceWatch(tenantId, WATCH, 500n);
      await debit(tenantId, 400n); // 600: above
      assert.deepEqual(calls, []);
      await debit(tenantId, 100n); // 500: at the threshold
      await debit(tenantId, 50n); // 450: below
      await topUp(tenantId, 20n); // 470: still below (the handler decides what a credit means)
      assert.deepEqual(calls, [
        { tenantId, balance: 500n, threshold: 500n, seenInTransaction: 500n },
        { tenantId, balance: 450n, threshold: 500n, seenInTransaction: 450n },
        { tenantId, balance: 470n, threshold: 500n, seenInTransaction: 470n },
      ]);
      await services.ledger.setBalanceWatch(tenantId, WATCH, null);
      await debit(tenantId, 10n);
      assert.equal(calls.length, 3, 'a cleared watch calls nothing');
    });

    it('rolls the posting back when the handler throws', async () => {
      const tenantId = await newTenant('EUR', 1_000n);
      await services.ledger.setBalanceWatch(tenantId, WATCH, 900n);
      const before = await footprint(tenantId);
      failNext = true;
      try {
        await assert.rejects(debit(tenantId, 200n), /handler refused/);
      } finally {
        failNext = false;
      }
      assert.deepEqual(await footprint(tenantId), before);
    });

    it('keeps watches on the account row, so a posting costs four round trips with or without them', async () => {
      const tenantId = await newTenant('EUR', 10_000n);
      const roundTrips = async (amountMinor: bigint) => {
        await subgraph.service.runtime.relay.flush();
        const before = subgraph.service.metrics().databaseRoundTrips;
        await debit(tenantId, amountMinor);
        return subgraph.service.metrics().databaseRoundTrips - before;
      };
      assert.equal(await roundTrips(1n), 4, 'no watch: BEGIN, lock, write, COMMIT');
      await services.ledger.setBalanceWatch(tenantId, WATCH, 100n);
      await services.ledger.setBalanceWatch(tenantId, 'other-watch', 50n);
      const [row] = await (
        await shardOf(tenantId)
      ).execute<{ balance_watches: Record<string, string> }[]>('select balance_watches from account where tenant_id = ?', [tenantId]);
      assert.deepEqual(row!.balance_watches, { [WATCH]: '100', 'other-watch': '50' });
      assert.equal(await roundTrips(1n), 4, 'watches above the balance');
      calls = [];
      assert.equal(await roundTrips(9_899n), 5, "at the threshold: four plus the handler's own statement");
      assert.equal(calls.length, 1);
    });

    it('refuses a second handler for one watch, bad names, and accounts billing does not hold', async () => {
      assert.throws(() => services.ledger.onBalanceWatch(WATCH, () => undefined), /already has a handler/);
      assert.throws(() => services.ledger.onBalanceWatch('Not A Name', () => undefined), /lower-case/);
      await rejects(() => services.ledger.setBalanceWatch(randomUUID(), WATCH, 1n), 'ACCOUNT_NOT_FOUND');
    });
  });

  describe('invariants', () => {
    it("keeps every account's cached balance and version equal to its ledger on every shard", async () => {
      for (const shardId of db.shardIds) assert.deepEqual(await services.ledger.inconsistentAccounts(shardId), [], `shard ${shardId}`);
    });

    it('detects a cached balance that drifted from the ledger', async () => {
      const tenantId = await newTenant('EUR', 100n);
      const em = await shardOf(tenantId);
      await em.execute('update account set balance_minor = balance_minor + 1 where tenant_id = ?', [tenantId]);
      try {
        assert.equal((await services.ledger.verify(tenantId)).consistent, false);
        const shardId = (await db.directory.lookupOne(tenantId))!;
        assert.deepEqual(await services.ledger.inconsistentAccounts(shardId), [tenantId]);
      } finally {
        await em.execute('update account set balance_minor = balance_minor - 1 where tenant_id = ?', [tenantId]);
      }
      assert.ok((await services.ledger.verify(tenantId)).consistent);
    });

    it('refuses to update, delete or truncate ledger entries', async () => {
      const tenantId = await newTenant('EUR', 100n);
      const em = await shardOf(tenantId);
      await assert.rejects(em.execute('update ledger_entry set amount_minor = 1 where tenant_id = ?', [tenantId]), /append-only/);
      await assert.rejects(em.execute('delete from ledger_entry where tenant_id = ?', [tenantId]), /append-only/);
      await assert.rejects(em.execute('truncate ledger_entry'), /append-only/);
      assert.equal((await services.ledger.verify(tenantId)).entries, 1);
    });
  });
});
