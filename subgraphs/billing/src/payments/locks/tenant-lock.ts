import { randomUUID } from 'node:crypto';
import { connectRedis, type Redis } from '@saldo/redis';
import type { Logger } from '@saldo/service';

/** A held lock. `release` frees it only if it is still ours (its lease may have expired and been taken since). */
export interface LockLease {
  readonly resource: string;
  readonly owner: string;
  /** True when this lease still held the lock and freed it. */
  release(): Promise<boolean>;
}

/**
 * A short mutual-exclusion lease per resource (here: `topup:<tenant id>`), shared by every billing instance in the
 * full stack (Redis) or by one process (embedded default). The lease expires on its own after `ttlMs`, so a crashed
 * holder blocks nobody for longer than that. `owner` says what the holder works on (a hash of the idempotency key):
 * a caller that finds the lock taken can tell "the same request, in flight" from "another request".
 *
 * The lock is a guard against racing top-ups, not what makes money move exactly once: the `top_up` row, Stripe's
 * idempotency keys and the ledger's idempotency keys do that, lock or no lock.
 */
export interface TenantLock {
  tryAcquire(resource: string, owner: string, ttlMs: number): Promise<LockLease | null>;
  /** The owner of the current holder, or null when the lock is free. */
  holder(resource: string): Promise<string | null>;
  /** Waits (bounded) until the lock's backend answers; true when it does. Never rejects. */
  ready?(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** One process: a map of leases with expiry. The embedded default, tests, and the Redis lock's fallback. */
export class InProcessTenantLock implements TenantLock {
  private readonly leases = new Map<string, { owner: string; token: string; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async tryAcquire(resource: string, owner: string, ttlMs: number): Promise<LockLease | null> {
    const current = this.leases.get(resource);
    if (current && current.expiresAt > this.now()) return null;
    const token = randomUUID();
    this.leases.set(resource, { owner, token, expiresAt: this.now() + ttlMs });
    return {
      resource,
      owner,
      release: async () => {
        if (this.leases.get(resource)?.token !== token) return false;
        this.leases.delete(resource);
        return true;
      },
    };
  }

  async holder(resource: string): Promise<string | null> {
    const current = this.leases.get(resource);
    if (!current) return null;
    if (current.expiresAt <= this.now()) {
      this.leases.delete(resource);
      return null;
    }
    return current.owner;
  }

  async close(): Promise<void> {
    this.leases.clear();
  }
}

/** Deletes the key only while it still holds our value: a lease that expired and was re-taken is not ours to free. */
const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface RedisTenantLockOptions {
  redis: Redis;
  /** Prefix of every lock key; default `saldo:billing:lock:`. */
  keyPrefix?: string;
  logger?: Logger;
  /** Used while Redis cannot answer; default an InProcessTenantLock. */
  fallback?: TenantLock;
}

/**
 * The full stack's lock: `SET key "<token>|<owner>" NX PX ttl` takes it, a compare-and-delete script frees it, GET
 * reads the holder. The token is random per lease, so only the lease that set a value can delete it.
 *
 * If Redis cannot answer, the lock FAILS OPEN to the in-process fallback (one warning per outage): a top-up is still
 * possible, only the cross-instance guard against two simultaneous top-ups of one tenant is weaker until Redis
 * returns. Money stays exactly-once either way (see TenantLock); refusing every top-up during a Redis outage would
 * turn a cache incident into lost revenue.
 */
export class RedisTenantLock implements TenantLock {
  private readonly redis: Redis;
  private readonly keyPrefix: string;
  private readonly logger: Logger | undefined;
  private readonly fallback: TenantLock;
  private degraded = false;

  constructor(options: RedisTenantLockOptions) {
    this.redis = options.redis;
    this.keyPrefix = options.keyPrefix ?? 'saldo:billing:lock:';
    this.logger = options.logger;
    this.fallback = options.fallback ?? new InProcessTenantLock();
  }

  get isDegraded(): boolean {
    return this.degraded;
  }

  async tryAcquire(resource: string, owner: string, ttlMs: number): Promise<LockLease | null> {
    const key = this.keyPrefix + resource;
    const value = `${randomUUID()}|${owner}`;
    let reply: string | null;
    try {
      reply = await this.redis.set(key, value, 'PX', ttlMs, 'NX');
    } catch (error) {
      this.onFailure(error);
      return this.fallback.tryAcquire(resource, owner, ttlMs);
    }
    this.onSuccess();
    if (reply !== 'OK') return null;
    return {
      resource,
      owner,
      release: async () => {
        try {
          return Number(await this.redis.eval(RELEASE_SCRIPT, 1, key, value)) === 1;
        } catch (error) {
          // The lease expires by itself after ttlMs; nothing else to do.
          this.onFailure(error);
          return false;
        }
      },
    };
  }

  async holder(resource: string): Promise<string | null> {
    let value: string | null;
    try {
      value = await this.redis.get(this.keyPrefix + resource);
    } catch (error) {
      this.onFailure(error);
      return this.fallback.holder(resource);
    }
    this.onSuccess();
    if (value === null) return null;
    const separator = value.indexOf('|');
    return separator < 0 ? '' : value.slice(separator + 1);
  }

  async close(): Promise<void> {
    await this.fallback.close();
  }

  private onFailure(error: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.logger?.warn('top-up lock: Redis unavailable, locking per process until it returns (fail open)', {
      error: error instanceof Error ? error.message : String(error),
    });
  }

  private onSuccess(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.logger?.info('top-up lock: Redis answers again');
  }
}

/** The lock from configuration: Redis when REDIS_URL is set (its connection closes with `close`), else in process. */
export function createTenantLock(redisUrl: string | undefined, logger: Logger): TenantLock {
  if (!redisUrl) return new InProcessTenantLock();
  const child = logger.child('top-up-lock');
  const connection = connectRedis(redisUrl, { name: 'saldo-billing-top-up-lock', logger: child, commandTimeoutMs: 500 });
  const lock = new RedisTenantLock({ redis: connection.redis, logger: child });
  return {
    tryAcquire: (resource, owner, ttlMs) => lock.tryAcquire(resource, owner, ttlMs),
    holder: (resource) => lock.holder(resource),
    ready: connection.ready,
    close: async () => {
      await lock.close();
      await connection.close();
    },
  };
}
