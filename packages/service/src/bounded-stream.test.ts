import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedStream } from './bounded-stream.js';

describe('BoundedStream (a bounded, drop-oldest buffer read as an async iterator)', () => {
  it('hands results to a waiting reader directly, in order', async () => {
    const stream = new BoundedStream<number>(4);
    const first = stream.next();
    stream.push(1);
    stream.push(2);
    assert.deepEqual(await first, { value: 1, done: false });
    assert.deepEqual(await stream.next(), { value: 2, done: false });
  });

  it('keeps only the newest results for a reader that falls behind, and counts the dropped ones', async () => {
    let drops = 0;
    const stream = new BoundedStream<number>(3, { onDrop: () => drops++ });
    for (let value = 1; value <= 10; value += 1) stream.push(value);
    assert.equal(stream.buffered, 3);
    assert.equal(stream.dropped, 7);
    assert.equal(drops, 7);
    const read: number[] = [];
    for (let index = 0; index < 3; index += 1) read.push((await stream.next()).value as number);
    assert.deepEqual(read, [8, 9, 10], 'older results are dropped in favour of the latest');
  });

  it('end() finishes after the buffered results; terminate() replaces them with a final one', async () => {
    const ended = new BoundedStream<string>(4);
    ended.push('a');
    ended.end('last');
    ended.push('ignored');
    assert.deepEqual([(await ended.next()).value, (await ended.next()).value, (await ended.next()).done], ['a', 'last', true]);

    const terminated = new BoundedStream<string>(4);
    terminated.push('stale');
    terminated.terminate('expired');
    assert.deepEqual([(await terminated.next()).value, (await terminated.next()).done], ['expired', true]);
  });

  it('return() releases a reader that is waiting and tells the owner once', async () => {
    let closes = 0;
    const stream = new BoundedStream<number>(2, { onClose: () => closes++ });
    const waiting = stream.next();
    await stream.return();
    await stream.return();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.equal(closes, 1);
    stream.push(1);
    assert.equal(stream.buffered, 0);
  });
});
