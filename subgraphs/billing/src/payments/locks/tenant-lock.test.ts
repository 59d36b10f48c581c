import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL, testLogger } from '@saldo/testing';
import { InProcessTenantLock, RedisTenantLock, createTenantLock, type TenantLock } from './tenant-lock.js';

describe('tenant lock', () => {
  const clients: Redis[] = [];
  const redis = (): Redis => {
    const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(client);
    return client;
  };
  const prefix = `saldo:test:lock:${randomUUID()}:`;

  after(async () => {
    const cleanup = clients[0] ?? new Redis(TEST_REDIS_URL);
    const keys = await cleanup.keys(`${prefix}*`);
    if (keys.length > 0) await cleanup.del(...keys);
    await Promise.all([...clients, cleanup].map((client) => client.quit().catch(() => undefined)));
  });

  /** The same contract for both implementations: `two` is a second instance (another process, for Redis). */
  const contract = (name: string, make: () => { one: TenantLock; two: TenantLock }) => {
    describe(name, () => {
      it('gives the lock to exactly one of many concurrent callers, across instances', async () => {
        const { one, two } = make();
        const resource = `topup:${randomUUID()}`;
        const leases = await Promise.all(Array.from({ length: 20 }, (_, index) => (index % 2 ? one : two).tryAcquire(resource, `owner-${index}`, 5_000)));
        const held = leases.filter((lease) => lease !== null);
        assert.equal(held.length, 1);
        assert.equal(await one.holder(resource), held[0]!.owner);
        assert.equal(await two.holder(resource), held[0]!.owner);
        assert.equal(await held[0]!.release(), true);
        assert.equal(await two.holder(resource), null);
        assert.ok(await two.tryAcquire(resource, 'next', 5_000));
      });

      it('expires a lease after its ttl, and a stale lease cannot free its successor', async () => {
        const { one, two } = make();
        const resource = `topup:${randomUUID()}`;
        const stale = await one.tryAcquire(resource, 'first', 150);
        assert.ok(stale);
        assert.equal(await two.tryAcquire(resource, 'second', 5_000), null);
        await sleep(250);
        const successor = await two.tryAcquire(resource, 'second', 5_000);
        assert.ok(successor);
        assert.equal(await stale.release(), false, 'the expired lease is not ours any more');
        assert.equal(await one.holder(resource), 'second');
        assert.equal(await successor.release(), true);
        assert.equal(await successor.release(), false);
      });
    });
  };

  contract('Redis (SET NX PX, compare-and-delete), two connections like two billing instances', () => ({
    one: new RedisTenantLock({ redis: redis(), keyPrefix: prefix }),
    two: new RedisTenantLock({ redis: redis(), keyPrefix: prefix }),
  }));

  contract('in-process', () => {
    const lock = new InProcessTenantLock();
    return { one: lock, two: lock };
  });

  it('fails open to the in-process lock while Redis is unreachable', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    unreachable.on('error', () => undefined);
    const lock = new RedisTenantLock({ redis: unreachable, keyPrefix: prefix, logger: testLogger() });
    const lease = await lock.tryAcquire('topup:x', 'a', 5_000);
    assert.ok(lease);
    assert.equal(lock.isDegraded, true);
    assert.equal(await lock.tryAcquire('topup:x', 'b', 5_000), null, 'still exclusive within the process');
    assert.equal(await lock.holder('topup:x'), 'a');
    unreachable.disconnect();
  });

  it('createTenantLock picks Redis when REDIS_URL is set, in-process otherwise', async () => {
    const local = createTenantLock(undefined, testLogger());
    assert.ok(local instanceof InProcessTenantLock);
    const shared = createTenantLock(TEST_REDIS_URL, testLogger());
    const other = new RedisTenantLock({ redis: redis(), keyPrefix: 'saldo:billing:lock:' });
    const resource = `topup:${randomUUID()}`;
    try {
      assert.equal(await shared.ready!(), true);
      const lease = await shared.tryAcquire(resource, 'shared', 5_000);
      assert.ok(lease);
      assert.equal(await other.holder(resource), 'shared', 'visible to another instance through Redis');
      assert.equal(await lease.release(), true);
      assert.equal(await other.holder(resource), null);
    } finally {
      await shared.close();
    }
  });
});
