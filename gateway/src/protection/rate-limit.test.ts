import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApolloServer } from '@apollo/server';
import { ANONYMOUS, type Identity } from '@saldo/graphql';
import { createLogger, type LogFields } from '@saldo/service';
import { TEST_REDIS_URL, uniquePrefix } from '@saldo/testing';
import { Redis } from 'ioredis';
import { InMemoryRateLimiter, RedisRateLimiter, createRateLimitPlugin, createRateLimiter, rateLimitKey, type RateLimiter } from './rate-limit.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** 60 a minute = one token a second; burst 5. */
const BUCKET = { ratePerMinute: 60, burst: 5 } as const;

/** The shared token-bucket behaviour, for any limiter built on `clock`. */
async function assertBucketBehaviour(limiter: RateLimiter, clock: ReturnType<typeof manualClock>, key: string): Promise<void> {
  for (let i = 0; i < BUCKET.burst; i += 1) {
    assert.deepEqual(await limiter.consume(key), { allowed: true, remaining: BUCKET.burst - 1 - i, retryAfterMs: 0 }, `burst #${i + 1}`);
  }
  assert.deepEqual(await limiter.consume(key), { allowed: false, remaining: 0, retryAfterMs: 1000 });
  clock.advance(400);
  assert.deepEqual(await limiter.consume(key), { allowed: false, remaining: 0, retryAfterMs: 600 });
  clock.advance(600);
  assert.deepEqual(await limiter.consume(key), { allowed: true, remaining: 0, retryAfterMs: 0 });
  assert.equal((await limiter.consume(key)).allowed, false);
  clock.advance(2_500); // 2.5 tokens
  assert.deepEqual(await limiter.consume(key), { allowed: true, remaining: 1, retryAfterMs: 0 });
  assert.deepEqual(await limiter.consume(key), { allowed: true, remaining: 0, retryAfterMs: 0 });
  assert.deepEqual(await limiter.consume(key), { allowed: false, remaining: 0, retryAfterMs: 500 });
  clock.advance(60_000); // refills to the burst, never beyond
  assert.deepEqual(await limiter.consume(key), { allowed: true, remaining: BUCKET.burst - 1, retryAfterMs: 0 });
  assert.deepEqual(await limiter.consume(key, 4), { allowed: true, remaining: 0, retryAfterMs: 0 });
  assert.deepEqual(await limiter.consume(key, 3), { allowed: false, remaining: 0, retryAfterMs: 3000 });
}

describe('in-memory rate limiter', () => {
  it('allows the burst, refuses with retry-after, refills over time', async () => {
    const clock = manualClock();
    const limiter = new InMemoryRateLimiter({ ...BUCKET, now: clock.now });
    await assertBucketBehaviour(limiter, clock, 'user:a');
    assert.equal((await limiter.consume('user:b')).remaining, BUCKET.burst - 1, 'keys have separate buckets');
  });

  it('does not refill when the clock goes backwards', async () => {
    const clock = manualClock();
    const limiter = new InMemoryRateLimiter({ ...BUCKET, now: clock.now });
    for (let i = 0; i < BUCKET.burst; i += 1) await limiter.consume('k');
    clock.advance(-10_000);
    assert.equal((await limiter.consume('k')).allowed, false);
    clock.advance(10_000);
    assert.equal((await limiter.consume('k')).allowed, false, 'no credit for time already accounted');
    clock.advance(1_000);
    assert.equal((await limiter.consume('k')).allowed, true);
  });

  it('keeps memory bounded: idle buckets go, and at most maxKeys stay', async () => {
    const clock = manualClock();
    const limiter = new InMemoryRateLimiter({ ...BUCKET, now: clock.now, maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) await limiter.consume(key);
    assert.equal(limiter.size, 3);
    // 'a' (least recently used) was dropped: it starts again full
    assert.equal((await limiter.consume('a')).remaining, BUCKET.burst - 1);
    clock.advance(4_000);
    await limiter.consume('b');
    clock.advance(1_000); // 5 s = burst / rate: everything but 'b' is full again, i.e. idle
    await limiter.consume('e');
    assert.equal(limiter.size, 2);
  });

  it('rejects impossible costs and configurations', async () => {
    const limiter = new InMemoryRateLimiter(BUCKET);
    await assert.rejects(limiter.consume('k', BUCKET.burst + 1), RangeError);
    await assert.rejects(limiter.consume('k', -1), RangeError);
    assert.throws(() => new InMemoryRateLimiter({ ratePerMinute: 0, burst: 5 }), RangeError);
    assert.throws(() => new InMemoryRateLimiter({ ratePerMinute: 60, burst: 0 }), RangeError);
  });
});

describe('Redis rate limiter', () => {
  const prefix = `${uniquePrefix('ratelimit')}:`;
  const clients: Redis[] = [];
  const client = (): Redis => {
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(redis);
    return redis;
  };

  after(async () => {
    const [first] = clients;
    if (first) {
      const keys = await first.keys(`${prefix}*`);
      if (keys.length > 0) await first.del(...keys);
    }
    await Promise.all(clients.map((redis) => redis.quit()));
  });

  it('allows the burst, refuses with retry-after, refills with the injected clock', async () => {
    const clock = manualClock();
    const limiter = new RedisRateLimiter({ ...BUCKET, now: clock.now, redis: client(), keyPrefix: prefix });
    await assertBucketBehaviour(limiter, clock, 'user:a');
    assert.equal(limiter.isDegraded, false);
  });

  it('shares one budget between instances and lets idle buckets expire', async () => {
    const clock = manualClock();
    const redis = client();
    const one = new RedisRateLimiter({ ...BUCKET, now: clock.now, redis, keyPrefix: prefix });
    const two = new RedisRateLimiter({ ...BUCKET, now: clock.now, redis: client(), keyPrefix: prefix });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? one : two).consume('partner:p')));
    assert.equal(results.filter((result) => result.allowed).length, BUCKET.burst);
    assert.deepEqual(
      results
        .map((result) => result.remaining)
        .filter((_, i) => results[i]?.allowed)
        .sort(),
      [0, 1, 2, 3, 4],
      'every token taken exactly once',
    );
    clock.advance(1_000);
    assert.equal((await two.consume('partner:p')).allowed, true);
    assert.equal((await one.consume('partner:p')).allowed, false);
    // expires once it would be full again (5 s) plus a second of slack
    const ttl = await redis.pttl(`${prefix}partner:p`);
    assert.ok(ttl > 5_000 && ttl <= 6_000, `ttl ${ttl}`);
  });

  it('loads its script when Redis does not have it (NOSCRIPT)', async () => {
    const clock = manualClock();
    const real = client();
    const forgetful = {
      evalsha: () => Promise.reject(new Error('NOSCRIPT No matching script. Please use EVAL.')),
      eval: (...args: Parameters<Redis['eval']>) => real.eval(...args),
    } as unknown as Redis;
    const limiter = new RedisRateLimiter({ ...BUCKET, now: clock.now, redis: forgetful, keyPrefix: prefix });
    assert.deepEqual(await limiter.consume('user:n'), { allowed: true, remaining: BUCKET.burst - 1, retryAfterMs: 0 });
    assert.equal(limiter.isDegraded, false);
  });

  it('fails open to per-process limiting with one warning when Redis is unreachable', async () => {
    const clock = manualClock();
    const warnings: Array<{ message: string; fields?: LogFields }> = [];
    const logger = {
      ...createLogger({ service: 'test', level: 'error' }),
      warn: (message: string, fields?: LogFields) => void warnings.push({ message, fields }),
    };
    const unreachable = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    unreachable.on('error', () => {});
    const limiter = new RedisRateLimiter({ ...BUCKET, now: clock.now, redis: unreachable, keyPrefix: prefix, logger });
    const results = [];
    for (let i = 0; i < BUCKET.burst + 1; i += 1) results.push(await limiter.consume('ip:1.2.3.4'));
    assert.deepEqual(
      results.map((result) => result.allowed),
      [true, true, true, true, true, false],
      'still limited, per process',
    );
    assert.equal(limiter.isDegraded, true);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.message, /fail open/);
    unreachable.disconnect();
  });

  it('createRateLimiter picks Redis when a URL is configured, memory otherwise', async () => {
    const logger = createLogger({ service: 'test', level: 'error' });
    const memory = createRateLimiter({ ...BUCKET }, { logger });
    assert.ok(memory.limiter instanceof InMemoryRateLimiter);
    assert.equal(await memory.ready(), true);
    await memory.close();
    const shared = createRateLimiter({ ...BUCKET, redisUrl: TEST_REDIS_URL }, { logger });
    assert.ok(shared.limiter instanceof RedisRateLimiter);
    assert.equal(await shared.ready(), true); // commands are not queued while offline
    const key = `${prefix.slice(0, -1)}-factory`;
    assert.equal((await shared.limiter.consume(key)).allowed, true);
    assert.equal((shared.limiter as RedisRateLimiter).isDegraded, false);
    await shared.close();
    const unreachable = createRateLimiter({ ...BUCKET, redisUrl: 'redis://127.0.0.1:1' }, { logger });
    assert.equal(await unreachable.ready(100), false);
    assert.equal((await unreachable.limiter.consume('ip:10.9.9.9')).allowed, true, 'fails open');
    await unreachable.close();
    const redis = client();
    await redis.del(`saldo:rate:${key}`);
  });
});

describe('rate limit keys', () => {
  it('keys partners, users and anonymous callers', () => {
    const partner: Identity = { role: 'partner', subject: 'key-1', partnerId: 'p-1' };
    assert.equal(rateLimitKey(partner, '10.0.0.1'), 'partner:p-1');
    assert.equal(
      rateLimitKey({ role: 'tenant-admin', subject: 'u-1', tenantId: 't-1', issuer: 'https://idp' }, '10.0.0.1'),
      'user:["https://idp","tenant-admin","t-1","","u-1"]',
    );
    assert.equal(
      rateLimitKey({ role: 'tenant-member', subject: 'u-2', tenantId: 't-1', partnerId: 'p-1' }, '10.0.0.1'),
      'user:["","tenant-member","t-1","p-1","u-2"]',
    );
    assert.equal(rateLimitKey({ role: 'platform-admin', subject: 'ops', issuer: 'https://idp' }, '10.0.0.1'), 'user:["https://idp","platform-admin","ops"]');
    assert.equal(rateLimitKey(ANONYMOUS, '10.0.0.1'), 'ip:10.0.0.1');
    assert.equal(rateLimitKey(ANONYMOUS, '::ffff:10.0.0.1'), 'ip:10.0.0.1');
    assert.equal(rateLimitKey(ANONYMOUS, undefined), 'ip:unknown');
  });

  it('keeps identities apart that only share a subject: other issuer, tenant or role (docs/security.md, attack 8)', () => {
    const base: Identity = { role: 'tenant-member', subject: 'shared', tenantId: 't-1', issuer: 'https://idp-a' };
    const others: Identity[] = [
      { ...base, issuer: 'https://idp-b' },
      { ...base, tenantId: 't-2' },
      { ...base, role: 'tenant-admin' },
      { ...base, partnerId: 'p-1' },
      { role: 'platform-admin', subject: 'shared', issuer: 'https://idp-a' },
      // A subject crafted to collide with another key's parts.
      { ...base, subject: 'shared","t-1' },
    ];
    const keys = new Set([base, ...others].map((identity) => rateLimitKey(identity, '10.0.0.1')));
    assert.equal(keys.size, others.length + 1);
  });

  it('groups IPv6 callers by /64', () => {
    assert.equal(rateLimitKey(ANONYMOUS, '2001:db8:0:1::1'), 'ip:2001:db8:0:1::/64');
    assert.equal(rateLimitKey(ANONYMOUS, '2001:0DB8:0000:0001:ffff:0:0:2'), 'ip:2001:db8:0:1::/64');
    assert.equal(rateLimitKey(ANONYMOUS, '::1'), 'ip:0:0:0:0::/64');
    assert.equal(rateLimitKey(ANONYMOUS, 'fe80::1%eth0'), 'ip:fe80:0:0:0::/64');
  });
});

describe('rate limit plugin (Apollo Server)', () => {
  type Context = { identity: Identity; clientAddress: string };
  const clock = manualClock();
  let resolverCalls = 0;
  const server = new ApolloServer<Context>({
    typeDefs: 'type Query { hello: String }',
    includeStacktraceInErrorResponses: false,
    resolvers: {
      Query: {
        hello: () => {
          resolverCalls += 1;
          return 'world';
        },
      },
    },
    plugins: [
      createRateLimitPlugin<Context>({
        limiter: new InMemoryRateLimiter({ ratePerMinute: 60, burst: 2, now: clock.now }),
        keyOf: (context) => rateLimitKey(context.identity, context.clientAddress),
      }),
    ],
  });
  const alice: Context = { identity: { role: 'tenant-admin', subject: 'alice', tenantId: 't' }, clientAddress: '10.0.0.1' };
  const bob: Context = { identity: { role: 'tenant-admin', subject: 'bob', tenantId: 't' }, clientAddress: '10.0.0.1' };

  before(() => server.start());
  after(() => server.stop());

  async function run(contextValue: Context, query = '{ hello }') {
    const response = await server.executeOperation({ query }, { contextValue });
    assert.equal(response.body.kind, 'single');
    // JSON round trip: results are null-prototype objects
    return { http: response.http, result: response.body.kind === 'single' ? JSON.parse(JSON.stringify(response.body.singleResult)) : undefined };
  }

  it('answers RATE_LIMITED with 429 and Retry-After once the burst is spent, then recovers', async () => {
    assert.deepEqual((await run(alice)).result?.data, { hello: 'world' });
    assert.deepEqual((await run(alice)).result?.data, { hello: 'world' });
    const calls = resolverCalls;

    const refused = await run(alice);
    assert.equal(refused.http.status, 429);
    assert.equal(refused.http.headers.get('retry-after'), '1');
    assert.equal(refused.result?.data, undefined);
    assert.deepEqual(
      refused.result?.errors?.map((error: any) => error.extensions),
      [{ code: 'RATE_LIMITED', retryAfterSeconds: 1 }],
    );
    assert.equal(resolverCalls, calls, 'a refused operation does not execute');

    assert.deepEqual((await run(bob)).result?.data, { hello: 'world' }, 'other identities keep their budget');

    clock.advance(1_000);
    assert.deepEqual((await run(alice)).result?.data, { hello: 'world' });
  });

  it('answers RATE_LIMITED even for operations that would fail to parse or validate', async () => {
    const carol: Context = { identity: ANONYMOUS, clientAddress: '192.0.2.7' };
    await run(carol, '{ nope }');
    await run(carol, '{ hello');
    for (const query of ['{ hello', '{ nope }', '{ hello }']) {
      const refused = await run(carol, query);
      assert.equal(refused.http.status, 429, query);
      assert.equal(refused.http.headers.get('retry-after'), '1');
      assert.deepEqual(
        refused.result?.errors?.map((error: any) => error.extensions?.['code']),
        ['RATE_LIMITED'],
        query,
      );
    }
  });
});
