import { SignJWT, importPKCS8 } from 'jose';
import type { Identity } from '@saldo/graphql';
import { identityToClaims } from './identity-claims.js';

/** Issuer and audience of the embedded default's development tokens (`pnpm token`). */
export const DEV_TOKEN_ISSUER = 'saldo-embedded-dev';
export const DEV_TOKEN_AUDIENCE = 'saldo';

/**
 * Signs a portal-style JWT with a development key. Only the embedded default trusts that key; it is generated
 * on first start and never configured anywhere else. `keyId` names the key in the token's header (`kid`), as an
 * identity provider publishing several keys in its JWKS does.
 */
export async function signDevToken(
  privateKeyPem: string,
  identity: Identity,
  options: { ttlSeconds?: number; issuer?: string; audience?: string; now?: number; keyId?: string } = {},
): Promise<string> {
  const issuedAt = Math.floor((options.now ?? Date.now()) / 1000);
  return new SignJWT({ ...identityToClaims(identity) })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', ...(options.keyId ? { kid: options.keyId } : {}) })
    .setIssuer(options.issuer ?? DEV_TOKEN_ISSUER)
    .setAudience(options.audience ?? DEV_TOKEN_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + (options.ttlSeconds ?? 12 * 3600))
    .sign(await importPKCS8(privateKeyPem, 'EdDSA'));
}
