import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureKeyPair, type KeyPairPem } from '@saldo/identity';

/**
 * The embedded default's keys, generated on first start under SALDO_HOME/keys and reused afterwards:
 * `identity` signs what the gateway forwards to subgraphs; `portal-dev` is the development token issuer
 * trusted only by this embedded stack (`pnpm token`).
 */
export async function embeddedKeys(saldoHome: string): Promise<{ identity: KeyPairPem; portal: KeyPairPem }> {
  const dir = join(saldoHome, 'keys');
  return { identity: await ensureKeyPair(dir, 'identity'), portal: await ensureKeyPair(dir, 'portal-dev') };
}

/**
 * A 32-byte encryption key (base64) of the embedded default, created on first start as SALDO_HOME/keys/<name>.key and
 * reused afterwards: `domains` seals certificate keys (white-label), `webhooks` seals webhook signing secrets (tenants).
 */
export async function embeddedEncryptionKey(saldoHome: string, name: string): Promise<string> {
  const file = join(saldoHome, 'keys', `${name}.key`);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(join(saldoHome, 'keys'), { recursive: true });
    const key = randomBytes(32).toString('base64');
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    return key;
  }
}
