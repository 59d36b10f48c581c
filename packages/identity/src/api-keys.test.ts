// Partner API keys: their format, what is stored (a hash, never the secret), and the check of a presented key.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { API_KEY_PREFIX, apiKeySecretMatches, ensureKeyPair, generateApiKey, hashApiKeySecret, looksLikeApiKey, parseApiKey } from '@saldo/identity';

describe('partner API keys', () => {
  it('issues keys as saldo_pk_<key id>_<secret>, each one different', () => {
    const keys = Array.from({ length: 50 }, () => generateApiKey());
    for (const key of keys) {
      assert.match(key.plaintext, /^saldo_pk_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/);
      assert.ok(key.plaintext.startsWith(`${API_KEY_PREFIX}${key.keyId}_`));
      assert.ok(looksLikeApiKey(key.plaintext));
    }
    assert.equal(new Set(keys.map((key) => key.keyId)).size, keys.length);
    assert.equal(new Set(keys.map((key) => key.plaintext)).size, keys.length);
  });

  it('stores only the SHA-256 of the secret, which proves possession of exactly that secret', () => {
    const key = generateApiKey();
    const parsed = parseApiKey(key.plaintext);
    assert.ok(parsed);
    assert.equal(parsed.keyId, key.keyId);
    assert.equal(key.secretHash, createHash('sha256').update(parsed.secret).digest('hex'));
    assert.equal(hashApiKeySecret(parsed.secret), key.secretHash);
    assert.ok(!key.secretHash.includes(parsed.secret));

    assert.equal(apiKeySecretMatches(parsed.secret, key.secretHash), true);
    const other = parseApiKey(generateApiKey().plaintext)!;
    assert.equal(apiKeySecretMatches(other.secret, key.secretHash), false, "another key's secret");
    const flipped = parsed.secret.slice(0, -1) + (parsed.secret.endsWith('A') ? 'B' : 'A');
    assert.equal(apiKeySecretMatches(flipped, key.secretHash), false, 'one character changed');
    assert.equal(apiKeySecretMatches(parsed.secret, key.secretHash.slice(0, 32)), false, 'a truncated stored hash');
    assert.equal(apiKeySecretMatches(parsed.secret, ''), false, 'no stored hash');
  });

  it('reads nothing from strings that are not well-formed keys', () => {
    const { plaintext, keyId } = generateApiKey();
    const secret = plaintext.slice(API_KEY_PREFIX.length + 17);
    const malformed = [
      '',
      'Bearer abc',
      `saldo_sk_${keyId}_${secret}`,
      `${API_KEY_PREFIX}${keyId}${secret}`,
      `${API_KEY_PREFIX}${keyId.slice(0, 15)}Z_${secret}`,
      `${API_KEY_PREFIX}${keyId.slice(1)}_${secret}`,
      `${API_KEY_PREFIX}${keyId}_${secret.slice(1)}`,
      `${API_KEY_PREFIX}${keyId}_${secret}x`,
      `${API_KEY_PREFIX}${keyId}_${secret.slice(0, -1)}=`,
    ];
    for (const candidate of malformed) assert.equal(parseApiKey(candidate), undefined, candidate);
    assert.equal(looksLikeApiKey('eyJhbGciOiJFZERTQSJ9.e30.sig'), false, 'a JWT is not an API key');
  });
});

describe('the identity key pair on disk', () => {
  it('is created once with a private key only its owner can read, then reused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'saldo-keys-'));
    try {
      const created = await ensureKeyPair(join(dir, 'nested'), 'identity');
      assert.equal((await stat(join(dir, 'nested', 'identity.key'))).mode & 0o777, 0o600);
      assert.equal(await readFile(join(dir, 'nested', 'identity.pub'), 'utf8'), created.publicKeyPem);
      assert.deepEqual(await ensureKeyPair(join(dir, 'nested'), 'identity'), created, 'an existing pair is kept');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
