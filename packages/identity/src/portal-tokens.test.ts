// Portal users' JWTs as the gateway checks them: configured public keys (Ed25519, RSA, EC) or an identity provider's
// JWKS endpoint over real HTTP; issuer, audience, expiry and Saldo's claims. Real keys and tokens throughout.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, importPKCS8, importSPKI } from 'jose';
import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { PortalTokenVerifier, generateSigningKeyPair, signDevToken } from '@saldo/identity';

const ISSUER = 'https://login.example.test/';
const AUDIENCE = 'saldo-portal';
const TENANT = '0195f3a2-7c1e-7b4a-9d2e-3f4a5b6c7d8e';
const alice: Identity = { role: 'tenant-admin', subject: 'alice', tenantId: TENANT };

function pemPair(type: 'rsa' | 'ec'): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A portal token as an identity provider would issue it. */
async function token(
  privateKeyPem: string,
  alg: string,
  claims: Record<string, unknown>,
  options: { issuer?: string; audience?: string; expiresIn?: number; kid?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg, ...(options.kid ? { kid: options.kid } : {}) })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 600))
    .sign(await importPKCS8(privateKeyPem, alg));
}

async function refused(verification: Promise<unknown>, why: string): Promise<void> {
  await assert.rejects(verification, (error: unknown) => {
    assert.ok(error instanceof SaldoError, `${why}: ${String(error)}`);
    assert.equal(error.code, ErrorCode.Unauthenticated, why);
    return true;
  });
}

/** A verification refused because the identity provider's keys are not at hand: retry later, never "bad token". */
async function unavailable(verification: Promise<unknown>, why: string): Promise<void> {
  await assert.rejects(verification, (error: unknown) => {
    assert.equal((error as SaldoError).extensions?.['code'], ErrorCode.DependencyUnavailable, `${why}: ${String(error)}`);
    assert.equal((error as SaldoError).extensions['dependency'], 'jwks', why);
    return true;
  });
}

describe('portal tokens with configured public keys', () => {
  const ed = generateSigningKeyPair();
  const rsa = pemPair('rsa');
  const ec = pemPair('ec');
  let verifier: PortalTokenVerifier;

  before(async () => {
    verifier = await PortalTokenVerifier.create({ issuer: ISSUER, audience: AUDIENCE, publicKeysPem: [ed.publicKeyPem, rsa.publicKeyPem, ec.publicKeyPem] });
  });

  it('accepts tokens signed by any configured key, with the identity their claims describe', async () => {
    const claims = { role: 'tenant-admin', sub: 'alice', tenant_id: TENANT };
    assert.deepEqual(await verifier.verify(await token(ed.privateKeyPem, 'EdDSA', claims)), alice);
    assert.deepEqual(await verifier.verify(await token(rsa.privateKeyPem, 'RS256', claims)), alice);
    assert.deepEqual(await verifier.verify(await token(ec.privateKeyPem, 'ES256', claims)), alice);
    assert.deepEqual(await verifier.verify(await signDevToken(ed.privateKeyPem, alice, { issuer: ISSUER, audience: AUDIENCE })), alice);
    const partner = await token(ed.privateKeyPem, 'EdDSA', { role: 'partner', sub: 'p-user', partner_id: TENANT });
    assert.deepEqual(await verifier.verify(partner), { role: 'partner', subject: 'p-user', partnerId: TENANT });
  });

  it("reports when a session ends: the token's expiry", async () => {
    const signed = await token(ed.privateKeyPem, 'EdDSA', { role: 'tenant-admin', sub: 'alice', tenant_id: TENANT }, { expiresIn: 120 });
    const { identity, expiresAt } = await verifier.verifySession(signed);
    assert.deepEqual(identity, alice);
    const exp = JSON.parse(Buffer.from(signed.split('.')[1]!, 'base64url').toString()).exp as number;
    assert.equal(expiresAt, exp * 1000);
    // Remembered, but not beyond its expiry (plus the clock tolerance).
    await refused(verifier.verify(signed, expiresAt + 6_000), 'expired after it was accepted');
  });

  it('refuses unknown keys, other issuers and audiences, expired tokens and claims that are no Saldo identity', async () => {
    const claims = { role: 'tenant-admin', sub: 'alice', tenant_id: TENANT };
    const stranger = generateSigningKeyPair();
    await refused(verifier.verify(await token(stranger.privateKeyPem, 'EdDSA', claims)), 'an unknown key');
    await refused(verifier.verify(await token(ed.privateKeyPem, 'EdDSA', claims, { issuer: 'https://evil.example/' })), 'another issuer');
    await refused(verifier.verify(await token(ed.privateKeyPem, 'EdDSA', claims, { audience: 'another-app' })), 'another audience');
    await refused(verifier.verify(await token(ed.privateKeyPem, 'EdDSA', claims, { expiresIn: -60 })), 'expired');
    await refused(verifier.verify(await token(ed.privateKeyPem, 'EdDSA', { role: 'anonymous', sub: 'nobody' })), 'an anonymous identity');
    await refused(verifier.verify(await token(ed.privateKeyPem, 'EdDSA', { role: 'tenant-admin', tenant_id: TENANT })), 'no subject');
    await refused(verifier.verify(await token(ed.privateKeyPem, 'EdDSA', { role: 'tenant-member', sub: 'bob' })), 'a tenant role without tenant');
    await refused(verifier.verify('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), 'unsigned');
    // A symmetric token "signed" with a public key (the classic algorithm confusion) is refused.
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(ed.publicKeyPem));
    await refused(verifier.verify(hs), 'HS256 with the public key as secret');
  });

  it('needs a key or a JWKS endpoint', async () => {
    await assert.rejects(PortalTokenVerifier.create({ issuer: ISSUER, audience: AUDIENCE }), /needs a JWKS URL or at least one public key/);
  });
});

describe("portal tokens with the identity provider's JWKS endpoint", () => {
  const current = generateSigningKeyPair();
  const other = generateSigningKeyPair();
  /** What the endpoint publishes. */
  const published: Array<{ kid: string; publicKeyPem: string }> = [{ kid: 'k1', publicKeyPem: current.publicKeyPem }];
  let requests = 0;
  /** How the endpoint answers: the key set, a server error, or a body that is no JSON. */
  let answer: 'keys' | 'server-error' | 'garbage' = 'keys';
  let server: Server;
  let jwksUrl: string;
  let verifier: PortalTokenVerifier;

  before(async () => {
    server = createServer((_req, res) => {
      requests += 1;
      if (answer === 'server-error') return void res.writeHead(503).end();
      if (answer === 'garbage') return void res.writeHead(200, { 'content-type': 'application/json' }).end('<html>maintenance</html>');
      void jwksOf(published).then((body) => {
        res.setHeader('content-type', 'application/json');
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    jwksUrl = `http://127.0.0.1:${port}/.well-known/jwks.json`;
    verifier = await PortalTokenVerifier.create({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('verifies with the published keys, checks a reused token once, and refuses keys the provider does not publish', async () => {
    const claims = { role: 'tenant-admin', sub: 'alice', tenant_id: TENANT };
    const signed = await token(current.privateKeyPem, 'EdDSA', claims, { kid: 'k1' });
    assert.deepEqual(await verifier.verify(signed), alice);
    const fetched = requests;
    assert.ok(fetched >= 1, 'the keys came from the endpoint');
    assert.deepEqual(await verifier.verify(signed), alice);
    assert.equal(requests, fetched, 'a reused token costs no further fetch');

    await refused(verifier.verify(await token(other.privateKeyPem, 'EdDSA', claims, { kid: 'k2' })), 'a key the provider does not publish');
    await refused(verifier.verify(await token(other.privateKeyPem, 'EdDSA', claims, { kid: 'k1' })), 'another key claiming a published kid');
  });

  it('answers DEPENDENCY_UNAVAILABLE, never UNAUTHENTICATED, for a good token whose keys cannot be fetched; a malformed token is still UNAUTHENTICATED', async (t) => {
    t.after(() => void (answer = 'keys'));
    const signed = await token(current.privateKeyPem, 'EdDSA', { role: 'tenant-admin', sub: 'alice', tenant_id: TENANT }, { kid: 'k1' });
    for (const failing of ['server-error', 'garbage'] as const) {
      answer = failing;
      // A fresh verifier: nothing fetched or cached yet.
      const cold = await PortalTokenVerifier.create({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
      await assert.rejects(cold.verify(signed), (error: unknown) => {
        assert.ok(error instanceof SaldoError, String(error));
        assert.equal(error.code, ErrorCode.DependencyUnavailable, `the endpoint answering ${failing}`);
        assert.deepEqual([error.extensions['dependency'], error.extensions['reason']], ['jwks', 'failed']);
        return true;
      });
      const asked = requests;
      await refused(cold.verify('not.a.jwt'), 'a malformed token, decided without the keys');
      assert.equal(requests, asked, 'a malformed token costs no fetch');
    }
    answer = 'keys';
    const recovered = await PortalTokenVerifier.create({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
    assert.deepEqual(await recovered.verify(signed), alice);
  });
});

describe("portal tokens while the identity provider's JWKS cannot be fetched", () => {
  const first = generateSigningKeyPair();
  const rotated = generateSigningKeyPair();
  const HOUR_MS = 3_600_000;
  /** What the endpoint publishes, and whether it answers 503 instead (the provider down). */
  let published: Array<{ kid: string; publicKeyPem: string }> = [{ kid: 'k1', publicKeyPem: first.publicKeyPem }];
  let down = false;
  let requests = 0;
  const told: string[] = [];
  const log = {
    info: (message: string) => told.push(`info: ${message}`),
    warn: (message: string) => told.push(`warn: ${message}`),
    error: (message: string) => told.push(`error: ${message}`),
  };
  let server: Server;
  let verifier: PortalTokenVerifier;
  /** A token of alice's, new each time (a token verified once is remembered, so it would not need the keys again). */
  const aliceWith = (privateKeyPem: string, kid: string) =>
    token(privateKeyPem, 'EdDSA', { role: 'tenant-admin', sub: 'alice', tenant_id: TENANT, jti: randomUUID() }, { kid, expiresIn: 3 * 3600 });

  before(async () => {
    server = createServer((_req, res) => {
      requests += 1;
      if (down) return void res.writeHead(503).end();
      void jwksOf(published).then((body) => {
        res.setHeader('content-type', 'application/json');
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // The set is refetched before every use (cache max age 0), so each verification below asks the provider first.
    verifier = await PortalTokenVerifier.create({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      jwksCacheMaxAgeMs: 0,
      jwksMaxStaleSeconds: 3600,
      log,
    });
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('verifies with the last key set fetched for up to the staleness bound, refuses unknown kids as DEPENDENCY_UNAVAILABLE, then picks up the rotated set', async () => {
    assert.deepEqual(await verifier.verify(await aliceWith(first.privateKeyPem, 'k1')), alice);
    assert.equal(verifier.jwksStaleSeconds(), 0);

    down = true;
    const asked = requests;
    // Half an hour later (the verifier's clock), the refresh fails: the key fetched before still verifies alice's tokens.
    const halfAnHourOn = Date.now() + HOUR_MS / 2;
    assert.deepEqual(await verifier.verify(await aliceWith(first.privateKeyPem, 'k1'), halfAnHourOn), alice);
    assert.deepEqual(await verifier.verify(await aliceWith(first.privateKeyPem, 'k1'), halfAnHourOn), alice);
    assert.ok(requests >= asked + 2, 'each verification tried the provider first');
    assert.deepEqual(
      told,
      ['warn: JWKS: the key set cannot be fetched; verifying bearer tokens with the last one fetched until it can'],
      'told once per outage',
    );
    assert.ok(verifier.jwksStaleSeconds(halfAnHourOn) >= 1800);
    // A kid the last set lacks may be a key rotated in meanwhile: only the provider can tell, so retry later.
    await unavailable(verifier.verify(await aliceWith(rotated.privateKeyPem, 'k2'), halfAnHourOn), 'a kid the last set lacks');
    // A token the last set's key does not verify is still a bad token.
    await refused(verifier.verify(await aliceWith(rotated.privateKeyPem, 'k1'), halfAnHourOn), 'another key claiming a fetched kid');

    // Past the bound (an hour after the last successful fetch) the last set is no longer trusted.
    const pastTheBound = Date.now() + HOUR_MS + 1000;
    await unavailable(verifier.verify(await aliceWith(first.privateKeyPem, 'k1'), pastTheBound), 'past the staleness bound');
    await unavailable(verifier.verify(await aliceWith(first.privateKeyPem, 'k1'), pastTheBound), 'past the staleness bound');
    assert.equal(told.filter((line) => line.startsWith('error: ')).length, 1, 'the bound passed is told once');

    // The provider is back with the key rotated: the new key verifies, the removed one no longer does.
    published = [{ kid: 'k2', publicKeyPem: rotated.publicKeyPem }];
    down = false;
    assert.deepEqual(await verifier.verify(await aliceWith(rotated.privateKeyPem, 'k2')), alice);
    assert.equal(verifier.jwksStaleSeconds(), 0);
    assert.equal(told.at(-1), 'info: JWKS: the key set is fetched again');
    await refused(verifier.verify(await aliceWith(first.privateKeyPem, 'k1')), 'a key the provider removed');
  });
});

/** The JWKS document publishing `keys` (Ed25519 public keys with their kid), as an identity provider serves it. */
async function jwksOf(keys: ReadonlyArray<{ kid: string; publicKeyPem: string }>): Promise<string> {
  return JSON.stringify({
    keys: await Promise.all(
      keys.map(async ({ kid, publicKeyPem }) => ({ ...(await exportJWK(await importSPKI(publicKeyPem, 'EdDSA'))), kid, alg: 'EdDSA', use: 'sig' })),
    ),
  });
}
