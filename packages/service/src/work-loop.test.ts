import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createLogger } from './logger.js';
import { WorkLoop, type PassResult } from './work-loop.js';

// setTimeout is mocked: the loop's timers advance only when a test ticks them, so every assertion is about order,
// never about elapsed time.
const POLL_MS = 1_000;

/** Lets promise chains run (setImmediate is not mocked). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A pass the test completes by hand, so it can poke, drain or stop while one is in flight. */
class Passes {
  readonly started: Array<{ finish: (result: PassResult) => void; fail: (error: Error) => void }> = [];
  running = 0;
  maxConcurrent = 0;

  readonly pass = (): Promise<PassResult> => {
    this.running += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.running);
    return new Promise<PassResult>((resolve, reject) => {
      this.started.push({
        finish: (result) => {
          this.running -= 1;
          resolve(result);
        },
        fail: (error) => {
          this.running -= 1;
          reject(error);
        },
      });
    });
  };

  /** Completes the pass in flight (the latest started). */
  async finish(result: PassResult = { handled: 0 }): Promise<void> {
    this.started.at(-1)!.finish(result);
    await settle();
  }
}

function warnings() {
  const lines: Array<{ message: string; fields: Record<string, unknown> }> = [];
  const logger = createLogger({ service: 'test', level: 'error' });
  logger.warn = (message: string, fields: Record<string, unknown> = {}) => void lines.push({ message, fields });
  return { logger, lines };
}

describe('WorkLoop', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('passes once at start, then on every poke at once, and polls when nobody pokes', async () => {
    const passes = new Passes();
    const loop = new WorkLoop({ name: 'test', pass: passes.pass, pollIntervalMs: POLL_MS, logger: warnings().logger });
    loop.start();
    mock.timers.tick(0);
    assert.equal(passes.started.length, 1, 'first pass at start');
    await passes.finish();

    loop.poke();
    mock.timers.tick(0);
    assert.equal(passes.started.length, 2, 'a poke passes at once');
    await passes.finish();

    mock.timers.tick(POLL_MS - 1);
    assert.equal(passes.started.length, 2, 'no pass before the poll interval');
    mock.timers.tick(1);
    assert.equal(passes.started.length, 3, 'the poll passes without a poke');
    await passes.finish();
    await loop.stop();
  });

  it('never overlaps passes: pokes during a pass ask for one more pass right after it', async () => {
    const passes = new Passes();
    const loop = new WorkLoop({ name: 'test', pass: passes.pass, pollIntervalMs: POLL_MS, logger: warnings().logger });
    loop.start();
    mock.timers.tick(0);
    loop.poke();
    loop.poke();
    mock.timers.tick(0);
    assert.equal(passes.started.length, 1, 'no second pass while one runs');
    await passes.finish();
    assert.equal(passes.started.length, 2, 'one more pass after it, for both pokes');
    await passes.finish();
    mock.timers.tick(0);
    assert.equal(passes.started.length, 2, 'then quiet until the poll');
    assert.equal(passes.maxConcurrent, 1);
    await loop.stop();
  });

  it('passes again at once after a full batch, and sooner than the poll when a pass asks for it', async () => {
    const passes = new Passes();
    const loop = new WorkLoop({ name: 'test', pass: passes.pass, pollIntervalMs: POLL_MS, logger: warnings().logger });
    loop.start();
    mock.timers.tick(0);
    await passes.finish({ handled: 500, more: true });
    assert.equal(passes.started.length, 2, 'a full batch: the next pass follows at once');
    await passes.finish({ handled: 0, retryInMs: 20 });
    mock.timers.tick(20);
    assert.equal(passes.started.length, 3, 'retried after 20 ms, not the poll interval');
    await passes.finish();
    await loop.stop();
  });

  it('backs off after failed passes (doubling up to the cap), logs each, and pokes do not shorten the wait', async () => {
    const passes = new Passes();
    const { logger, lines } = warnings();
    const loop = new WorkLoop({ name: 'relay', pass: passes.pass, pollIntervalMs: POLL_MS, maxRetryDelayMs: 3 * POLL_MS, logger });
    loop.start();
    mock.timers.tick(0);
    passes.started.at(-1)!.fail(new Error('bus down'));
    await settle();
    assert.deepEqual(lines.at(-1), { message: 'relay pass failed; will retry', fields: { error: new Error('bus down'), attempt: 1, retryInMs: POLL_MS } });
    loop.poke();
    mock.timers.tick(POLL_MS - 1);
    assert.equal(passes.started.length, 1, 'a poke does not cut the backoff short');
    mock.timers.tick(1);
    assert.equal(passes.started.length, 2);
    passes.started.at(-1)!.fail(new Error('bus down'));
    await settle();
    assert.equal(lines.at(-1)!.fields['retryInMs'], 2 * POLL_MS, 'doubled');
    mock.timers.tick(2 * POLL_MS);
    passes.started.at(-1)!.fail(new Error('bus down'));
    await settle();
    assert.equal(lines.at(-1)!.fields['retryInMs'], 3 * POLL_MS, 'capped');
    mock.timers.tick(3 * POLL_MS);
    assert.equal(passes.started.length, 4);
    await passes.finish();
    loop.poke();
    mock.timers.tick(0);
    assert.equal(passes.started.length, 5, 'healthy again: pokes pass at once');
    await passes.finish();
    await loop.stop();
  });

  it('drains exclusively: waits for the loop in flight, passes until one handles nothing, then polls after the full interval', async () => {
    const passes = new Passes();
    const loop = new WorkLoop({ name: 'test', pass: passes.pass, pollIntervalMs: POLL_MS, logger: warnings().logger });
    loop.start();
    mock.timers.tick(0);
    loop.poke(); // the loop in flight passes once more for it
    const drained = loop.drain();
    await settle();
    assert.equal(passes.started.length, 1, 'the drain waits for the pass in flight');
    await passes.finish({ handled: 1 });
    assert.equal(passes.started.length, 2, "the loop's pass for the poke");
    await passes.finish({ handled: 1 });
    assert.equal(passes.started.length, 3, 'then the drain passes');
    mock.timers.tick(0);
    assert.equal(passes.started.length, 3, 'no scheduled pass alongside the drain');
    await passes.finish({ handled: 3 });
    await passes.finish({ handled: 2 });
    await passes.finish({ handled: 0 });
    assert.equal(await drained, 5, 'what the drain itself handled');
    assert.equal(passes.maxConcurrent, 1);
    mock.timers.tick(POLL_MS - 1);
    assert.equal(passes.started.length, 5, 'quiet after the drain');
    mock.timers.tick(1);
    assert.equal(passes.started.length, 6, 'the next poll');
    await passes.finish();
    await loop.stop();
  });

  it('stop waits for the pass in flight and ignores pokes afterwards', async () => {
    const passes = new Passes();
    const loop = new WorkLoop({ name: 'test', pass: passes.pass, pollIntervalMs: POLL_MS, logger: warnings().logger });
    loop.start();
    mock.timers.tick(0);
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await settle();
    assert.equal(stopped, false, 'stop waits for the pass');
    await passes.finish();
    await stopping;
    loop.poke();
    mock.timers.tick(10 * POLL_MS);
    assert.equal(passes.started.length, 1, 'nothing runs after stop');
  });
});
