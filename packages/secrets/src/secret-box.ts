import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * AES-256-GCM for secrets at rest (white-label: certificate private keys and chains, the ACME account key; tenants:
 * webhook signing secrets). Each value is bound to
 * its context (e.g. the row id and column) as additional authenticated data, so a sealed value copied into another
 * row does not open. The sealed form names its key (first 8 hex digits of the key's SHA-256), so keys can be rotated:
 * seal with the current key, open with any configured one.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly currentId: string;

  /** `current` seals; `previous` keys only open (rotation). Each is 32 bytes. */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== 32) throw new Error('AES-256-GCM keys are 32 bytes');
      this.keys.set(keyId(key), key);
    }
    this.currentId = keyId(current);
  }

  /** Whether `value` has the sealed form (`v1.<key id>.<iv>.<tag>.<body>`), as opposed to a plaintext left from before. */
  static isSealed(value: string): boolean {
    return /^v1\.[0-9a-f]{8}\.[\w-]+\.[\w-]+\.[\w-]*$/.test(value);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId) as Buffer, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, this.currentId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  /** The id of the key that seals (the second part of a sealed value). */
  get currentKeyId(): string {
    return this.currentId;
  }

  /** Whether `sealed` was sealed with the current key (otherwise seal it anew, so earlier keys can be dropped). */
  isCurrent(sealed: string): boolean {
    return sealed.split('.')[1] === this.currentId;
  }

  open(sealed: string, context: string): string {
    const [version, id, iv, tag, body] = sealed.split('.');
    if (version !== VERSION || !id || iv === undefined || tag === undefined || body === undefined) throw new Error('not a sealed value');
    const key = this.keys.get(id);
    if (!key) throw new Error(`sealed with key ${id}, which is not configured`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}
