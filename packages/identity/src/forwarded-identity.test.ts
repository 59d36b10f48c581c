// The identity the gateway forwards to subgraphs: only a token the gateway's key signed, for the right audience and
// still valid, yields an identity; everything else is UNAUTHENTICATED. Real Ed25519 keys and JWTs (jose), no stubs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT, importPKCS8 } from 'jose';
import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { INTERNAL_AUDIENCE, IdentitySigner, IdentityVerifier, SUBGRAPH_AUDIENCE, generateSigningKeyPair, signDevToken } from '@saldo/identity';

const gatewayKeys = generateSigningKeyPair();
const otherKeys = generateSigningKeyPair();
const TENANT = '0195f3a2-7c1e-7b4a-9d2e-3f4a5b6c7d8e';
const PARTNER = '0195f3a2-7c1e-7b4a-9d2e-3f4a5b6c7d8f';

const IDENTITIES: Identity[] = [
  { role: 'anonymous' },
  { role: 'platform-admin', subject: 'operator-1' },
  { role: 'partner', subject: 'partner-user', partnerId: PARTNER },
  { role: 'tenant-admin', subject: 'alice', tenantId: TENANT },
  { role: 'tenant-member', subject: 'bob', tenantId: TENANT, partnerId: PARTNER },
  { role: 'tenant-admin', subject: 'carol', tenantId: TENANT, hostPartnerId: PARTNER },
  { role: 'tenant-admin', subject: 'dave', tenantId: TENANT, hostPartnerId: PARTNER, hostName: 'portal.voxly.example' },
];

/** Asserts that verification is refused as UNAUTHENTICATED. */
async function refused(verification: Promise<unknown>, why: string): Promise<void> {
  await assert.rejects(verification, (error: unknown) => {
    assert.ok(error instanceof SaldoError, `${why}: ${String(error)}`);
    assert.equal(error.code, ErrorCode.Unauthenticated, why);
    return true;
  });
}

/** A token with the gateway's issuer and audience but hand-written claims (what a bug or an attacker could mint with the key). */
async function rawToken(
  claims: Record<string, unknown>,
  privateKeyPem = gatewayKeys.privateKeyPem,
  options: { issuer?: string; audience?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer(options.issuer ?? 'saldo-gateway')
    .setAudience(options.audience ?? SUBGRAPH_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 30)
    .sign(await importPKCS8(privateKeyPem, 'EdDSA'));
}

describe('forwarded identity', () => {
  it('carries every kind of identity from the gateway to a subgraph unchanged', async () => {
    const signer = await IdentitySigner.fromPem(gatewayKeys.privateKeyPem);
    const verifier = await IdentityVerifier.fromPem(gatewayKeys.publicKeyPem);
    for (const identity of IDENTITIES) {
      assert.deepEqual(await verifier.verify(await signer.sign(identity)), identity);
      assert.deepEqual(await verifier.verify(await signer.sign(identity, INTERNAL_AUDIENCE), INTERNAL_AUDIENCE), identity);
    }
  });

  it('refuses a missing, malformed or forged token', async () => {
    const verifier = await IdentityVerifier.fromPem(gatewayKeys.publicKeyPem);
    const forger = await IdentitySigner.fromPem(otherKeys.privateKeyPem);
    const genuine = await (await IdentitySigner.fromPem(gatewayKeys.privateKeyPem)).sign(IDENTITIES[1]!);
    await refused(verifier.verify(undefined), 'no token');
    await refused(verifier.verify(''), 'empty token');
    await refused(verifier.verify('not.a.jwt'), 'malformed');
    await refused(verifier.verify(await forger.sign(IDENTITIES[1]!)), 'signed by another key');
    // The claims changed after signing: the signature no longer matches.
    const [header, , signature] = genuine.split('.');
    const escalated = Buffer.from(
      JSON.stringify({ role: 'platform-admin', sub: 'mallory', iss: 'saldo-gateway', aud: SUBGRAPH_AUDIENCE, exp: 9_999_999_999, iat: 1 }),
    ).toString('base64url');
    await refused(verifier.verify(`${header}.${escalated}.${signature}`), 'tampered claims');
    // No signature at all.
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${escalated}.`;
    await refused(verifier.verify(unsigned), 'alg none');
  });

  it('refuses a token for another audience, even after accepting it for its own', async () => {
    const signer = await IdentitySigner.fromPem(gatewayKeys.privateKeyPem);
    const verifier = await IdentityVerifier.fromPem(gatewayKeys.publicKeyPem);
    const forGraphql = await signer.sign(IDENTITIES[3]!);
    assert.deepEqual(await verifier.verify(forGraphql), IDENTITIES[3]);
    await refused(verifier.verify(forGraphql, INTERNAL_AUDIENCE), 'a GraphQL identity at an internal endpoint');
    const forInternal = await signer.sign(IDENTITIES[1]!, INTERNAL_AUDIENCE);
    await refused(verifier.verify(forInternal), 'an internal identity on GraphQL');
  });

  it('refuses tokens of another issuer signed with the same key, and claims that describe no valid identity', async () => {
    const verifier = await IdentityVerifier.fromPem(gatewayKeys.publicKeyPem);
    // A development portal token is a different kind of token, whoever signed it.
    await refused(verifier.verify(await signDevToken(gatewayKeys.privateKeyPem, IDENTITIES[1]!, { audience: SUBGRAPH_AUDIENCE })), 'another issuer');
    await refused(verifier.verify(await rawToken({ role: 'partner', sub: 'p' })), 'a partner without partner_id');
    await refused(verifier.verify(await rawToken({ role: 'tenant-admin', sub: 'a', tenant_id: 'not-a-uuid' })), 'a tenant id that is no UUID');
    await refused(verifier.verify(await rawToken({ role: 'root', sub: 'a' })), 'an unknown role');
    await refused(
      verifier.verify(await rawToken({ role: 'tenant-admin', sub: 'a', tenant_id: TENANT, host_partner_id: 'acme' })),
      'a host partner that is no UUID',
    );
    await refused(
      verifier.verify(await rawToken({ role: 'tenant-admin', sub: 'a', tenant_id: TENANT, host_partner_id: PARTNER, host_name: 'evil.example/x?' })),
      'a host name that is no hostname',
    );
    assert.deepEqual(await verifier.verify(await rawToken({ role: 'tenant-admin', sub: 'a', tenant_id: TENANT })), {
      role: 'tenant-admin',
      subject: 'a',
      tenantId: TENANT,
    });
  });

  it('stops accepting a token once it expired, also when it was accepted (and remembered) before', async () => {
    const ttlSeconds = 30;
    const signer = await IdentitySigner.fromPem(gatewayKeys.privateKeyPem, ttlSeconds);
    const verifier = await IdentityVerifier.fromPem(gatewayKeys.publicKeyPem, { clockToleranceSeconds: 2 });
    const issuedAt = Date.now();
    const token = await signer.sign(IDENTITIES[2]!, SUBGRAPH_AUDIENCE, issuedAt);
    assert.deepEqual(await verifier.verify(token, SUBGRAPH_AUDIENCE, new Date(issuedAt)), IDENTITIES[2]);
    // Within the clock tolerance past expiry it still passes; beyond it, never again.
    assert.deepEqual(await verifier.verify(token, SUBGRAPH_AUDIENCE, new Date(issuedAt + (ttlSeconds + 1) * 1000)), IDENTITIES[2]);
    await refused(verifier.verify(token, SUBGRAPH_AUDIENCE, new Date(issuedAt + (ttlSeconds + 4) * 1000)), 'expired');
    // A verifier that never saw it refuses it too (the signature check itself enforces expiry).
    const fresh = await IdentityVerifier.fromPem(gatewayKeys.publicKeyPem, { clockToleranceSeconds: 2 });
    await refused(fresh.verify(token, SUBGRAPH_AUDIENCE, new Date(issuedAt + (ttlSeconds + 4) * 1000)), 'expired, first sight');
  });

  it("refuses a token minted with a longer lifetime than the gateway's TTL, or dated in the future (docs/security.md, attack 7)", async () => {
    const verifier = await IdentityVerifier.fromPem(gatewayKeys.publicKeyPem, { maxLifetimeSeconds: 30 });
    const longLived = await IdentitySigner.fromPem(gatewayKeys.privateKeyPem, 31);
    await refused(verifier.verify(await longLived.sign(IDENTITIES[1]!)), 'a 31 s identity');
    const normal = await IdentitySigner.fromPem(gatewayKeys.privateKeyPem, 30);
    await refused(verifier.verify(await normal.sign(IDENTITIES[1]!, SUBGRAPH_AUDIENCE, Date.now() + 60_000)), 'an identity issued in a minute');
    const current = await IdentitySigner.fromPem(gatewayKeys.privateKeyPem, 30);
    assert.deepEqual(await verifier.verify(await current.sign(IDENTITIES[1]!)), IDENTITIES[1]);
  });

  it('signs an identity once per half lifetime and per audience, and a new token after that', async () => {
    const signer = await IdentitySigner.fromPem(gatewayKeys.privateKeyPem, 30);
    const verifier = await IdentityVerifier.fromPem(gatewayKeys.publicKeyPem);
    const now = Date.now();
    const first = await signer.sign(IDENTITIES[3]!, SUBGRAPH_AUDIENCE, now);
    assert.equal(await signer.sign(IDENTITIES[3]!, SUBGRAPH_AUDIENCE, now + 14_000), first, 'reused within half its lifetime');
    assert.notEqual(await signer.sign(IDENTITIES[4]!, SUBGRAPH_AUDIENCE, now), first, 'another identity, another token');
    assert.notEqual(await signer.sign(IDENTITIES[3]!, INTERNAL_AUDIENCE, now), first, 'another audience, another token');
    const renewed = await signer.sign(IDENTITIES[3]!, SUBGRAPH_AUDIENCE, now + 16_000);
    assert.notEqual(renewed, first, 'renewed after half its lifetime');
    assert.deepEqual(await verifier.verify(renewed, SUBGRAPH_AUDIENCE, new Date(now + 16_000)), IDENTITIES[3]);
  });
});
