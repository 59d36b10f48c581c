import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scopeKey, stableStringify } from './engine.js';
import { SubscriberStream } from './stream.js';

describe('SubscriberStream (one subscriber\'s bounded buffer)', () => {
  it('hands results to a waiting reader directly, in order', async () => {
    const stream = new SubscriberStream<number>(4);
    const first = stream.next();
    stream.push(1);
    stream.push(2);
    assert.deepEqual(await first, { value: 1, done: false });
    assert.deepEqual(await stream.next(), { value: 2, done: false });
  });

  it('keeps only the newest results for a reader that falls behind, and counts the dropped ones', async () => {
    let drops = 0;
    const stream = new SubscriberStream<number>(3, { onDrop: () => drops++ });
    for (let value = 1; value <= 10; value += 1) stream.push(value);
    assert.equal(stream.buffered, 3);
    assert.equal(stream.dropped, 7);
    assert.equal(drops, 7);
    const read: number[] = [];
    for (let index = 0; index < 3; index += 1) read.push((await stream.next()).value as number);
    assert.deepEqual(read, [8, 9, 10], 'older results are dropped in favour of the latest');
  });

  it('end() finishes after the buffered results; terminate() replaces them with a final one', async () => {
    const ended = new SubscriberStream<string>(4);
    ended.push('a');
    ended.end('last');
    ended.push('ignored');
    assert.deepEqual([(await ended.next()).value, (await ended.next()).value, (await ended.next()).done], ['a', 'last', true]);

    const terminated = new SubscriberStream<string>(4);
    terminated.push('stale');
    terminated.terminate('expired');
    assert.deepEqual([(await terminated.next()).value, (await terminated.next()).done], ['expired', true]);
  });

  it('return() releases a reader that is waiting and tells the owner once', async () => {
    let closes = 0;
    const stream = new SubscriberStream<number>(2, { onClose: () => closes++ });
    const waiting = stream.next();
    await stream.return();
    await stream.return();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.equal(closes, 1);
    stream.push(1);
    assert.equal(stream.buffered, 0);
  });
});

describe('deduplication keys', () => {
  it('variables compare by value, whatever the key order', () => {
    assert.equal(stableStringify({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }), stableStringify({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
    assert.notEqual(stableStringify({ a: 1 }), stableStringify({ a: '1' }));
  });

  it('the scope key is what subgraphs decide on: role and tenant or partner, not the user', () => {
    const tenantId = '01900000-0000-7000-8000-000000000001';
    assert.equal(scopeKey({ role: 'tenant-member', subject: 'a', tenantId }), scopeKey({ role: 'tenant-member', subject: 'b', tenantId }));
    assert.notEqual(scopeKey({ role: 'tenant-member', subject: 'a', tenantId }), scopeKey({ role: 'tenant-admin', subject: 'a', tenantId }));
    assert.notEqual(
      scopeKey({ role: 'partner', subject: 'k', partnerId: tenantId }),
      scopeKey({ role: 'partner', subject: 'k', partnerId: '01900000-0000-7000-8000-000000000002' }),
    );
  });
});
