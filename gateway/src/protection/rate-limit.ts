import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { HeaderMap, type ApolloServerPlugin, type BaseContext, type GraphQLRequestListener } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { connectRedis, type Redis } from '@saldo/redis';
import type { Identity } from '@saldo/graphql';
import type { Logger } from '@saldo/service';

/**
 * Token-bucket rate limiting per identity.
 *
 * Each key owns a bucket of at most `burst` tokens, refilled continuously at `ratePerMinute` tokens a minute
 * and starting full. An operation takes one token; with none left it is refused with the time until enough
 * have refilled. A bucket left alone for burst / rate refills completely, which is exactly the state of a
 * bucket that does not exist: that is why idle buckets can be evicted (in memory) or expire (in Redis)
 * without changing any decision.
 *
 * Clocks are injected (`now`) so tests advance time instead of sleeping.
 *
 * Arithmetic is exact: a bucket counts in units of 1/60000 token, so a refill of `ratePerMinute` tokens a
 * minute is `ratePerMinute` (an integer) units a millisecond, and every quantity is an integer well within
 * 2^53: no floating-point drift between instances or between JavaScript and Redis' Lua.
 */
export interface RateLimitDecision {
  allowed: boolean;
  /** Whole tokens left after this decision. */
  remaining: number;
  /** 0 when allowed; otherwise milliseconds until `cost` tokens are available again. */
  retryAfterMs: number;
}

export interface RateLimiter {
  consume(key: string, cost?: number): Promise<RateLimitDecision>;
}

export interface TokenBucketOptions {
  /** Sustained rate: tokens added per minute. */
  ratePerMinute: number;
  /** Bucket capacity: how many operations may arrive at once after a quiet period. */
  burst: number;
  /** Milliseconds clock; Date.now by default. */
  now?: () => number;
}

/** Units per token (milliseconds per minute, so the refill per millisecond is ratePerMinute units). */
const UNITS = 60_000;

interface Bucket {
  /** In units of 1/UNITS token. */
  units: number;
  updatedAt: number;
}

function validateBucketOptions(options: TokenBucketOptions): void {
  if (!(Number.isInteger(options.ratePerMinute) && options.ratePerMinute > 0))
    throw new RangeError(`ratePerMinute must be a positive integer, got ${options.ratePerMinute}`);
  if (!(Number.isInteger(options.burst) && options.burst > 0)) throw new RangeError(`burst must be a positive integer, got ${options.burst}`);
}

function validateCost(cost: number, burst: number): void {
  // A cost above the capacity could never be allowed: that is a caller bug, not a refusal.
  if (!(Number.isInteger(cost) && cost >= 0 && cost <= burst)) throw new RangeError(`cost must be an integer between 0 and the burst (${burst}), got ${cost}`);
}

/**
 * In-process limiter: the embedded default, and the fallback of RedisRateLimiter. Budgets are per process.
 *
 * Memory is bounded: buckets are kept in least-recently-used order; every call first drops buckets that have
 * been idle long enough to be full again (they are equivalent to absent), and if more than `maxKeys` remain
 * active the least recently used is dropped (that identity starts again with a full bucket: beyond `maxKeys`
 * simultaneously active identities, bounded memory wins over exact accounting). No timers.
 */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** Units added per millisecond. */
  private readonly refillPerMs: number;
  private readonly capacity: number;
  private readonly idleMs: number;
  private readonly burst: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: TokenBucketOptions & { maxKeys?: number }) {
    validateBucketOptions(options);
    this.burst = options.burst;
    this.refillPerMs = options.ratePerMinute;
    this.capacity = options.burst * UNITS;
    this.idleMs = Math.ceil(this.capacity / this.refillPerMs);
    this.maxKeys = options.maxKeys ?? 100_000;
    if (!(Number.isInteger(this.maxKeys) && this.maxKeys > 0)) throw new RangeError(`maxKeys must be a positive integer, got ${this.maxKeys}`);
    this.now = options.now ?? Date.now;
  }

  /** Buckets currently held (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  async consume(key: string, cost = 1): Promise<RateLimitDecision> {
    return this.consumeNow(key, cost);
  }

  /** Synchronous form of consume. */
  consumeNow(key: string, cost = 1): RateLimitDecision {
    validateCost(cost, this.burst);
    const now = Math.floor(this.now());
    this.evictIdle(now);

    const bucket = this.buckets.get(key);
    let units = this.capacity;
    let updatedAt = now;
    if (bucket) {
      // A clock that goes backwards refills nothing (and does not move the bucket back in time).
      units = Math.min(this.capacity, bucket.units + Math.max(0, now - bucket.updatedAt) * this.refillPerMs);
      updatedAt = Math.max(now, bucket.updatedAt);
      this.buckets.delete(key); // re-inserted below: most recently used last
    }

    const needed = cost * UNITS;
    let decision: RateLimitDecision;
    if (units >= needed) {
      units -= needed;
      decision = { allowed: true, remaining: Math.floor(units / UNITS), retryAfterMs: 0 };
    } else {
      decision = { allowed: false, remaining: Math.floor(units / UNITS), retryAfterMs: Math.ceil((needed - units) / this.refillPerMs) };
    }
    this.buckets.set(key, { units, updatedAt });
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    return decision;
  }

  private evictIdle(now: number): void {
    // Least recently used first; the first bucket that is not yet idle means none after it is.
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt < this.idleMs) break;
      this.buckets.delete(key);
    }
  }
}

/**
 * One atomic step of the token bucket in Redis. KEYS[1] is the bucket (a hash: units, ts), in the same
 * integer units as the in-memory limiter. ARGV: capacity (units), refill (units per ms), now (ms),
 * cost (units), ttl (ms), units per token. Returns { allowed 0|1, whole tokens left, retry-after ms }. `now` comes from the caller so tests control time; instances whose clocks disagree never
 * refill backwards (the bucket keeps the latest timestamp it saw), so skew only delays a refill by the skew.
 * The key expires once it would be full again: an expired bucket and a full one are the same.
 */
export const TOKEN_BUCKET_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local per_token = tonumber(ARGV[6])
local state = redis.call('HMGET', KEYS[1], 'units', 'ts')
local units = tonumber(state[1])
local ts = tonumber(state[2])
if units == nil or ts == nil then
  units = capacity
  ts = now
elseif now > ts then
  units = math.min(capacity, units + (now - ts) * rate)
  ts = now
end
local allowed = 0
local retry = 0
if units >= cost then
  units = units - cost
  allowed = 1
else
  retry = math.ceil((cost - units) / rate)
end
redis.call('HSET', KEYS[1], 'units', string.format('%.0f', units), 'ts', string.format('%.0f', ts))
redis.call('PEXPIRE', KEYS[1], ttl)
return { allowed, math.floor(units / per_token), retry }
`;

const TOKEN_BUCKET_SHA = createHash('sha1').update(TOKEN_BUCKET_SCRIPT).digest('hex');

export interface RedisRateLimiterOptions extends TokenBucketOptions {
  redis: Redis;
  /** Prefix of every bucket key; default `saldo:rate:`. */
  keyPrefix?: string;
  logger?: Logger;
  /** Used while Redis cannot answer; default: an InMemoryRateLimiter with the same rate, burst and clock. */
  fallback?: RateLimiter;
  /** At most one "Redis unavailable" warning per interval; default 30 s. */
  warnIntervalMs?: number;
}

/**
 * Limiter shared by every gateway instance through Redis: one EVALSHA of TOKEN_BUCKET_SCRIPT per consume
 * (EVAL once when Redis does not know the script yet), so concurrent instances never lose an update.
 *
 * When Redis cannot answer (down, unreachable, timing out) it FAILS OPEN to a per-process in-memory
 * limiter, logging a warning (at most once per interval) and an info line when Redis answers again.
 * Rationale: the rate limit protects capacity and fairness; it is not what keeps tenants apart
 * (authentication and tenant scope are, and they do not depend on Redis), and depth/alias/cost limits
 * keep bounding each request. Failing closed would turn a Redis outage into an outage of the whole API,
 * top-ups and balance reads included. Falling back to local buckets (rather than allowing everything)
 * keeps a single abusive client bounded per instance during the outage; the shared budget is only
 * multiplied by the number of instances until Redis returns.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly keyPrefix: string;
  private readonly refillPerMs: number;
  private readonly capacity: number;
  private readonly ttlMs: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;
  private readonly fallback: RateLimiter;
  private readonly warnIntervalMs: number;
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private degraded = false;

  constructor(options: RedisRateLimiterOptions) {
    validateBucketOptions(options);
    this.redis = options.redis;
    this.keyPrefix = options.keyPrefix ?? 'saldo:rate:';
    this.burst = options.burst;
    this.refillPerMs = options.ratePerMinute;
    this.capacity = options.burst * UNITS;
    this.ttlMs = Math.ceil(this.capacity / this.refillPerMs) + 1_000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.fallback = options.fallback ?? new InMemoryRateLimiter({ ratePerMinute: options.ratePerMinute, burst: options.burst, now: this.now });
    this.warnIntervalMs = options.warnIntervalMs ?? 30_000;
  }

  /** True while decisions come from the fallback because Redis failed. */
  get isDegraded(): boolean {
    return this.degraded;
  }

  async consume(key: string, cost = 1): Promise<RateLimitDecision> {
    validateCost(cost, this.burst);
    const now = Math.floor(this.now());
    const args = [this.capacity, this.refillPerMs, now, cost * UNITS, this.ttlMs, UNITS].map(String);
    const redisKey = this.keyPrefix + key;
    let reply: unknown;
    try {
      try {
        reply = await this.redis.evalsha(TOKEN_BUCKET_SHA, 1, redisKey, ...args);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        reply = await this.redis.eval(TOKEN_BUCKET_SCRIPT, 1, redisKey, ...args);
      }
    } catch (error) {
      this.onRedisFailure(error);
      return this.fallback.consume(key, cost);
    }
    if (this.degraded) {
      this.degraded = false;
      this.logger?.info('rate limiter: Redis answers again; shared budgets restored');
    }
    const [allowed, remaining, retryAfterMs] = reply as [number, number, number];
    return { allowed: allowed === 1, remaining: Number(remaining), retryAfterMs: Number(retryAfterMs) };
  }

  private onRedisFailure(error: unknown): void {
    this.degraded = true;
    const at = Date.now();
    if (at - this.lastWarnAt < this.warnIntervalMs) return;
    this.lastWarnAt = at;
    this.logger?.warn('rate limiter: Redis unavailable, limiting per process until it returns (fail open)', {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

export interface RateLimiterConfig {
  ratePerMinute: number;
  burst: number;
  /** When set, budgets are shared through Redis; otherwise they are per process. */
  redisUrl?: string | undefined;
}

export interface RateLimiterHandle {
  limiter: RateLimiter;
  /**
   * Waits (at most `timeoutMs`, default 2 s) for the Redis connection; true once connected or when no Redis
   * is configured. Optional: until then decisions come from the in-process fallback. Never rejects.
   */
  ready(timeoutMs?: number): Promise<boolean>;
  /** Releases the Redis connection, if any. */
  close(): Promise<void>;
}

/**
 * The gateway's limiter from configuration: RedisRateLimiter when a Redis URL is set, else in memory.
 * The Redis client never queues commands while disconnected and times out slow ones, so an unavailable
 * Redis costs a request at most `commandTimeoutMs` before the fallback decides; it reconnects by itself.
 */
export function createRateLimiter(config: RateLimiterConfig, deps: { logger: Logger; commandTimeoutMs?: number }): RateLimiterHandle {
  const bucket = { ratePerMinute: config.ratePerMinute, burst: config.burst };
  if (!config.redisUrl) {
    return { limiter: new InMemoryRateLimiter(bucket), ready: async () => true, close: async () => {} };
  }
  const logger = deps.logger.child('rate-limit');
  const connection = connectRedis(config.redisUrl, { name: 'saldo-gateway-rate-limit', logger, commandTimeoutMs: deps.commandTimeoutMs ?? 250 });
  return {
    limiter: new RedisRateLimiter({ ...bucket, redis: connection.redis, logger }),
    ready: connection.ready,
    close: connection.close,
  };
}

/**
 * The bucket an operation draws from: a partner's API keys share one budget (`partner:<id>`), every user
 * (portal users and platform admins) has their own (`user:<subject>`), anonymous callers share one per
 * client address (`ip:<address>`). IPv6 addresses are grouped by /64, the block one subscriber usually
 * controls, so rotating through a prefix does not multiply the budget; IPv4-mapped IPv6 is plain IPv4.
 */
export function rateLimitKey(identity: Identity, clientAddress: string | undefined): string {
  switch (identity.role) {
    case 'partner':
      // One budget per partner, whichever of its keys or users calls.
      return `partner:${identity.partnerId}`;
    case 'platform-admin':
      return `user:${JSON.stringify([identity.issuer ?? '', identity.role, identity.subject])}`;
    case 'tenant-admin':
    case 'tenant-member':
      // Issuer + subject + role + tenant (+ partner): identities that merely share a `sub` never share a budget.
      // JSON keeps the parts apart whatever characters a subject holds.
      return `user:${JSON.stringify([identity.issuer ?? '', identity.role, identity.tenantId, identity.partnerId ?? '', identity.subject])}`;
    case 'anonymous':
      return `ip:${normalizeAddress(clientAddress)}`;
  }
}

function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(address)) return address;
  const zoneless = address.split('%')[0] ?? address;
  if (!isIPv6(zoneless)) return address;
  return `${ipv6Groups(zoneless).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, lower-case without leading zeros. */
function ipv6Groups(address: string): string[] {
  const toGroups = (part: string): string[] => {
    if (part === '') return [];
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [group];
      const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  };
  const [head = '', tail] = address.split('::');
  const left = toGroups(head);
  const right = tail === undefined ? [] : toGroups(tail);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16));
}

export const RATE_LIMITED = 'RATE_LIMITED';

function rateLimitedMessage(retryAfterSeconds: number): string {
  return `Too many requests; retry after ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`;
}

/** The refusal: extensions { code: RATE_LIMITED, retryAfterSeconds }, HTTP 429 with a Retry-After header. */
export function rateLimitedError(retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(rateLimitedMessage(retryAfterSeconds), {
    extensions: {
      code: RATE_LIMITED,
      retryAfterSeconds,
      http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) },
    },
  });
}

export interface RateLimitPluginOptions<TContext extends BaseContext> {
  limiter: RateLimiter;
  /** The bucket for a request, usually `rateLimitKey(ctx.identity, ctx.clientAddress)`. */
  keyOf: (contextValue: TContext) => string;
}

/**
 * Apollo Server plugin taking one token per GraphQL operation (each operation of a batch counts), in
 * requestDidStart: before parsing, so malformed and invalid operations spend tokens too.
 *
 * Apollo Server turns an error thrown from requestDidStart or didResolveSource into a 500, so a refusal is
 * raised from didResolveOperation (the hook documented for rejecting a request: nothing is planned or sent
 * to a subgraph). An operation that fails earlier (syntax, validation, unknown persisted query) would
 * otherwise answer with that failure; willSendResponse replaces it so a refused client always sees
 * RATE_LIMITED with 429 and Retry-After. A limiter that throws lets the request through (logged).
 */
export function createRateLimitPlugin<TContext extends BaseContext>(options: RateLimitPluginOptions<TContext>): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart({ contextValue, logger }): Promise<GraphQLRequestListener<TContext> | void> {
      let decision: RateLimitDecision;
      try {
        decision = await options.limiter.consume(options.keyOf(contextValue));
      } catch (error) {
        logger.warn(`rate limiter failed, request allowed: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      if (decision.allowed) return;
      const retryAfterSeconds = retryAfterSecondsOf(decision.retryAfterMs);
      return {
        async didResolveOperation() {
          throw rateLimitedError(retryAfterSeconds);
        },
        async willSendResponse({ response }) {
          const body = response.body;
          const refused = body.kind === 'single' && body.singleResult.errors?.some((error) => error.extensions?.['code'] === RATE_LIMITED);
          if (refused) return;
          response.body = {
            kind: 'single',
            singleResult: { errors: [{ message: rateLimitedMessage(retryAfterSeconds), extensions: { code: RATE_LIMITED, retryAfterSeconds } }] },
          };
          response.http.status = 429;
          response.http.headers.set('retry-after', String(retryAfterSeconds));
        },
      };
    },
  };
}

/** A wait in milliseconds as a Retry-After header's whole seconds: rounded up, at least 1 (0 would invite a retry storm). */
export function retryAfterSecondsOf(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
