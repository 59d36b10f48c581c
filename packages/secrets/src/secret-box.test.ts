import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  it('seals secrets with AES-256-GCM bound to their row, and opens what an earlier key sealed', () => {
    const old = new SecretBox(randomBytes(32));
    const sealed = old.seal('-----BEGIN PRIVATE KEY-----', 'domain_certificate:1:key');
    assert.doesNotMatch(sealed, /PRIVATE/);
    assert.equal(old.open(sealed, 'domain_certificate:1:key'), '-----BEGIN PRIVATE KEY-----');
    assert.throws(() => old.open(sealed, 'domain_certificate:2:key'), 'another row cannot open it');
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    assert.throws(() => old.open(tampered, 'domain_certificate:1:key'));
    const oldKey = randomBytes(32);
    const rotated = new SecretBox(randomBytes(32), [oldKey]);
    assert.equal(rotated.open(new SecretBox(oldKey).seal('chain', 'c'), 'c'), 'chain');
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'domain_certificate:1:key'), /not configured/);
  });

  it('refuses keys that are not 32 bytes and values that are not sealed', () => {
    assert.throws(() => new SecretBox(randomBytes(16)), /32 bytes/);
    assert.throws(() => new SecretBox(randomBytes(32)).open('whsec_plain', 'x'), /not a sealed value/);
  });
});
