import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCursor, encodeCursor, pageSize } from './pagination.js';
import { isUuid } from './ids.js';

describe('cursors', () => {
  it('round-trip the position they encode', () => {
    const id = '01900000-0000-7000-8000-000000000000';
    assert.equal(decodeCursor(encodeCursor(id), isUuid), id);
  });

  it('reject anything they did not produce with INVALID_CURSOR', () => {
    for (const bad of ['', '%%%', 'abc', Buffer.from('{"v":2,"k":"x"}').toString('base64url'), encodeCursor('not-a-uuid')]) {
      assert.throws(
        () => decodeCursor(bad, isUuid),
        (error: { extensions?: { code?: string } }) => error.extensions?.code === 'INVALID_CURSOR',
      );
    }
  });

  it('bound page sizes to 1..100 with a default of 20', () => {
    assert.equal(pageSize(undefined), 20);
    assert.equal(pageSize(100), 100);
    assert.throws(() => pageSize(0));
    assert.throws(() => pageSize(101));
  });
});
