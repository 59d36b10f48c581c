import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { z } from '@saldo/config';
import {
  BreakerRegistry,
  DEPENDENCY_UNAVAILABLE,
  DependencyGuard,
  DependencyGuardPool,
  DependencyUnavailableError,
  breakerConfigFields,
  breakerSettings,
} from './index.js';

const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

/** Calls until the guard lets a call through again (half-open), polling; fails after `withinMs`. */
async function untilPasses<T>(guard: DependencyGuard, call: () => Promise<T>, withinMs = 5_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await guard.execute(call);
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError) || Date.now() > deadline) throw error;
      await delay(10);
    }
  }
}

describe('DependencyGuard', () => {
  it('opens after the configured consecutive failures and then fails fast with DEPENDENCY_UNAVAILABLE without calling', async () => {
    const registry = new BreakerRegistry();
    const guard = new DependencyGuard({ dependency: 'stripe', failureThreshold: 3, halfOpenAfterMs: 60_000, registry });
    let calls = 0;
    const failing = () => {
      calls += 1;
      return refused();
    };
    for (let i = 0; i < 3; i++) await assert.rejects(guard.execute(failing), /ECONNREFUSED/);
    assert.equal(guard.state, 'open');
    const error = await guard.execute(failing).catch((caught: unknown) => caught);
    assert.ok(error instanceof DependencyUnavailableError);
    assert.equal(error.extensions['code'], DEPENDENCY_UNAVAILABLE);
    assert.equal(error.extensions['dependency'], 'stripe');
    assert.ok((error.extensions['retryAfterMs'] as number) > 0);
    assert.equal(calls, 3, 'the open circuit did not call the dependency');
    assert.deepEqual(
      registry.read().map(({ dependency, state, value }) => ({ dependency, state, value })),
      [{ dependency: 'stripe', state: 'open', value: 2 }],
    );
  });

  it('lets one trial call through after the open period and closes again when it succeeds', async () => {
    const registry = new BreakerRegistry();
    const transitions: string[] = [];
    registry.onStateChange((dependency, state) => transitions.push(`${dependency}:${state}`));
    const guard = new DependencyGuard({ dependency: 'smtp', failureThreshold: 2, halfOpenAfterMs: 50, registry });
    for (let i = 0; i < 2; i++) await assert.rejects(guard.execute(refused));
    assert.equal(guard.state, 'open');
    assert.equal(await untilPasses(guard, async () => 'sent'), 'sent');
    assert.equal(guard.state, 'closed');
    assert.deepEqual(transitions, ['smtp:open', 'smtp:half-open', 'smtp:closed']);
  });

  it('does not count errors the dependency is not to blame for, and a success resets the count', async () => {
    const declined = Object.assign(new Error('card declined'), { type: 'StripeCardError' });
    const guard = new DependencyGuard({
      dependency: 'stripe',
      failureThreshold: 2,
      halfOpenAfterMs: 60_000,
      isFailure: (error) => (error as { type?: string }).type !== 'StripeCardError',
      registry: null,
    });
    for (let i = 0; i < 5; i++)
      await assert.rejects(
        guard.execute(() => Promise.reject(declined)),
        /declined/,
      );
    await assert.rejects(guard.execute(refused));
    await guard.execute(async () => 'ok');
    await assert.rejects(guard.execute(refused));
    assert.equal(guard.state, 'closed');
  });

  it('abandons a call past its timeout, answers DEPENDENCY_UNAVAILABLE and aborts the signal it gave the call', async () => {
    const guard = new DependencyGuard({ dependency: 'kafka', failureThreshold: 1, halfOpenAfterMs: 60_000, timeoutMs: 30, registry: null });
    let aborted = false;
    const error = await guard
      .execute(
        (signal) =>
          new Promise((_resolve, reject) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(new Error('aborted'));
            });
          }),
      )
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof DependencyUnavailableError);
    assert.equal(error.reason, 'timeout');
    assert.ok(aborted);
    assert.equal(guard.state, 'open', 'a timeout counts as a failure');
  });

  it('counts answers classified as failures (a webhook receiver answering 503) like thrown errors', async () => {
    const guard = new DependencyGuard({
      dependency: 'webhook',
      failureThreshold: 2,
      halfOpenAfterMs: 60_000,
      isFailureResult: (result) => (result as { status: number }).status >= 500,
      registry: null,
    });
    assert.deepEqual(await guard.execute(async () => ({ status: 503 })), { status: 503 });
    assert.deepEqual(await guard.execute(async () => ({ status: 503 })), { status: 503 });
    await assert.rejects(
      guard.execute(async () => ({ status: 200 })),
      DependencyUnavailableError,
    );
  });
});

describe('DependencyGuardPool', () => {
  it('keeps one circuit per target, so one failing target never stops the others, and reports as one dependency', async () => {
    const registry = new BreakerRegistry();
    const pool = new DependencyGuardPool('webhook', { failureThreshold: 1, halfOpenAfterMs: 60_000, registry });
    await assert.rejects(pool.guard('down.example').execute(refused));
    await assert.rejects(
      pool.guard('down.example').execute(async () => 'never'),
      DependencyUnavailableError,
    );
    assert.equal(await pool.guard('up.example').execute(async () => 'delivered'), 'delivered');
    assert.deepEqual(registry.read(), [{ dependency: 'webhook', state: 'open', value: 2, circuits: 2, open: 1 }]);
  });

  it('forgets the least recently used targets beyond its bound', async () => {
    const pool = new DependencyGuardPool('webhook', { failureThreshold: 1, halfOpenAfterMs: 60_000, maxTargets: 2, registry: null });
    await assert.rejects(pool.guard('a').execute(refused));
    pool.guard('b');
    pool.guard('c');
    assert.deepEqual(pool.counts(), { circuits: 2, open: 0 });
  });
});

describe('breakerConfigFields', () => {
  it('adds <PREFIX>_BREAKER_FAILURES and <PREFIX>_BREAKER_HALF_OPEN_MS with defaults to a config schema', () => {
    const schema = z.object({ ...breakerConfigFields('STRIPE', { failureThreshold: 5, halfOpenAfterMs: 30_000 }) });
    assert.deepEqual(breakerSettings(schema.parse({}), 'STRIPE'), { failureThreshold: 5, halfOpenAfterMs: 30_000 });
    assert.deepEqual(breakerSettings(schema.parse({ STRIPE_BREAKER_FAILURES: '2', STRIPE_BREAKER_HALF_OPEN_MS: '500' }), 'STRIPE'), {
      failureThreshold: 2,
      halfOpenAfterMs: 500,
    });
    assert.equal(schema.safeParse({ STRIPE_BREAKER_FAILURES: '0' }).success, false);
  });
});
