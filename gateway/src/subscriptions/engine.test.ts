import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scopeKey, stableStringify } from './engine.js';

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
