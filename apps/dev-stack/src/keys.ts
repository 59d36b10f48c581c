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
