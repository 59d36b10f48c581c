import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Partner API keys look like `saldo_pk_<key id>_<secret>`; the id finds the row, the secret proves possession. */
export const API_KEY_PREFIX = 'saldo_pk_';
const KEY_ID = /^[a-z0-9]{16}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

export interface GeneratedApiKey {
  keyId: string;
  /** Shown to the partner once; never stored. */
  plaintext: string;
  /** Stored: SHA-256 of the secret (the secret has 256 bits of entropy, so a slow hash adds nothing). */
  secretHash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const keyId = randomBytes(10).toString('hex').slice(0, 16);
  const secret = randomBytes(32).toString('base64url');
  return { keyId, plaintext: `${API_KEY_PREFIX}${keyId}_${secret}`, secretHash: hashApiKeySecret(secret) };
}

export function parseApiKey(plaintext: string): { keyId: string; secret: string } | undefined {
  if (!plaintext.startsWith(API_KEY_PREFIX)) return undefined;
  const rest = plaintext.slice(API_KEY_PREFIX.length);
  const keyId = rest.slice(0, 16);
  const secret = rest.slice(17);
  if (rest[16] !== '_' || !KEY_ID.test(keyId) || !SECRET.test(secret)) return undefined;
  return { keyId, secret };
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function apiKeySecretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKeySecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
