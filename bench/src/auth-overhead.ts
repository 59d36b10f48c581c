import { ANONYMOUS, Scope, type Identity } from '@saldo/graphql';
import {
  DEV_TOKEN_AUDIENCE,
  DEV_TOKEN_ISSUER,
  IdentitySigner,
  IdentityVerifier,
  PortalTokenVerifier,
  generateSigningKeyPair,
  signDevToken,
} from '@saldo/identity';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';
import { percentile } from './stats.js';

const SUBGRAPH_FETCHES = 4;
const TENANT = '01900000-0000-7000-8000-000000000001';
const PARTNER = '01900000-0000-7000-8000-0000000000aa';

/**
 * What authentication and scope checks add to one federated request, measured on the code the gateway and the
 * subgraphs run (no network): verify the caller's JWT at the gateway, sign the forwarded identity for each of the
 * four subgraph fetches, verify it in each subgraph, and check tenant scope there. "Without" runs the same loop
 * with a pre-built identity and no checks. Target: the added p95 under 0.5 ms.
 */
export async function authOverhead(config: BenchConfig): Promise<void> {
  const portalKeys = generateSigningKeyPair();
  const identityKeys = generateSigningKeyPair();
  const portal = await PortalTokenVerifier.create({ issuer: DEV_TOKEN_ISSUER, audience: DEV_TOKEN_AUDIENCE, publicKeysPem: [portalKeys.publicKeyPem] });
  const signer = await IdentitySigner.fromPem(identityKeys.privateKeyPem);
  const verifier = await IdentityVerifier.fromPem(identityKeys.publicKeyPem);
  // The subgraph's directory answers partner lookups from its in-process cache once warm.
  const partners = new Map([[TENANT, PARTNER]]);
  const lookup = async (ids: readonly string[]) => new Map(ids.map((id) => [id, partners.get(id) ?? null]));

  const tenantUser: Identity = { role: 'tenant-admin', subject: 'bench', tenantId: TENANT };
  const partnerUser: Identity = { role: 'partner', subject: 'bench', partnerId: PARTNER };
  const reusedToken = await signDevToken(portalKeys.privateKeyPem, tenantUser);
  const partnerToken = await signDevToken(portalKeys.privateKeyPem, partnerUser);
  const iterations = config.BENCH_AUTH_ITERATIONS;
  const freshTokens = await Promise.all(
    Array.from({ length: Math.min(iterations, 2000) }, (_, index) => signDevToken(portalKeys.privateKeyPem, { ...tenantUser, subject: `user-${index}` })),
  );

  const authenticatedRequest = async (token: string) => {
    const identity = await portal.verify(token);
    await Promise.all(
      Array.from({ length: SUBGRAPH_FETCHES }, async () => {
        const forwarded = await verifier.verify(await signer.sign(identity));
        await new Scope(forwarded, lookup).requireTenant(TENANT, 'read');
      }),
    );
  };
  const unauthenticatedRequest = async () => {
    await Promise.all(Array.from({ length: SUBGRAPH_FETCHES }, async () => new Scope(ANONYMOUS, lookup)));
  };

  const measure = async (run: (index: number) => Promise<unknown>, count: number) => {
    for (let index = 0; index < Math.min(200, count); index += 1) await run(index); // warm-up
    const samples: number[] = [];
    for (let index = 0; index < count; index += 1) {
      const started = process.hrtime.bigint();
      await run(index);
      samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    samples.sort((a, b) => a - b);
    return { p50: percentile(samples, 0.5), p95: percentile(samples, 0.95), p99: percentile(samples, 0.99) };
  };

  const baseline = await measure(() => unauthenticatedRequest(), iterations);
  const scenarios: Array<[string, (index: number) => Promise<unknown>, number]> = [
    ['tenant user, JWT reused (the usual case)', () => authenticatedRequest(reusedToken), iterations],
    ['partner, JWT reused, partner scope lookup', () => authenticatedRequest(partnerToken).catch(() => undefined), iterations],
    ['tenant user, a new JWT every request', (index) => authenticatedRequest(freshTokens[index % freshTokens.length]!), freshTokens.length],
  ];
  const round = (value: number) => Math.round(value * 1000) / 1000;
  const rows: ResultRow[] = [
    {
      scenario: 'without authentication (baseline)',
      p50: round(baseline.p50),
      p95: round(baseline.p95),
      p99: round(baseline.p99),
      addedP50: 0,
      addedP95: 0,
      target: '-',
      met: true,
    },
  ];
  for (const [scenario, run, count] of scenarios) {
    const result = await measure(run, count);
    const addedP95 = round(result.p95 - baseline.p95);
    rows.push({
      scenario,
      p50: round(result.p50),
      p95: round(result.p95),
      p99: round(result.p99),
      addedP50: round(result.p50 - baseline.p50),
      addedP95,
      target: 'added p95 < 0.5 ms',
      met: addedP95 < 0.5,
    });
  }
  await report('auth-overhead', rows, { iterations, subgraphFetchesPerRequest: SUBGRAPH_FETCHES, unit: 'ms' });
}
