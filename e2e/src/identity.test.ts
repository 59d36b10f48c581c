import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, INTERNAL_AUDIENCE, IdentitySigner, SUBGRAPH_AUDIENCE, generateSigningKeyPair, signDevToken } from '@saldo/identity';
import { errorCodes, graphql, type GraphQLResponse } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

const ADMIN: Identity = { role: 'platform-admin', subject: 'ops' };
type Ids = { p1: string; p2: string; t1: string; t2: string; t3: string };

const TENANT_ALL_FIELDS = `query($id: ID!) { tenant(id: $id) { id name balance { available { amountMinor } } usage(days: 1) { quantity } branding { displayName } } }`;

describe('identity and tenant isolation', () => {
  let stack: TestStack;
  const ids = {} as Ids;
  let roles: Record<'admin' | 'partner1' | 'partner2' | 'tenantAdmin' | 'tenantMember', Identity>;

  const as = (identity: Identity | null, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse<Record<string, any>>> =>
    identity ? stack.gql(query, variables, identity) : graphql(stack.graphqlUrl, query, variables);

  before(async () => {
    stack = await startTestStack('identity', { apiKeyCacheTtlMs: 0 });
    const partner = async (name: string) =>
      (await as(ADMIN, `mutation { createPartner(input: { name: "${name}", country: "DE" }) { id } }`)).data?.createPartner.id as string;
    ids.p1 = await partner('Partner One');
    ids.p2 = await partner('Partner Two');
    const tenant = async (name: string, partnerId: string | null) =>
      (
        await as(ADMIN, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }`, {
          input: { name, currency: 'EUR', country: 'DE', partnerId },
        })
      ).data?.createTenant.id as string;
    ids.t1 = await tenant('Tenant of One', ids.p1);
    ids.t2 = await tenant('Tenant of Two', ids.p2);
    ids.t3 = await tenant('Direct tenant', null);
    await stack.flushEvents();
    roles = {
      admin: ADMIN,
      partner1: { role: 'partner', subject: 'p1-user', partnerId: ids.p1 },
      partner2: { role: 'partner', subject: 'p2-user', partnerId: ids.p2 },
      tenantAdmin: { role: 'tenant-admin', subject: 't1-admin', tenantId: ids.t1 },
      tenantMember: { role: 'tenant-member', subject: 't1-member', tenantId: ids.t1 },
    };
  });

  after(async () => {
    await stack?.destroy();
  });

  describe('through the gateway', () => {
    it('refuses every operation without credentials except introspection', async () => {
      assert.deepEqual(errorCodes(await as(null, `{ tenants { edges { cursor } } }`)), ['UNAUTHENTICATED']);
      assert.deepEqual(errorCodes(await as(null, `{ defaultBranding { displayName } }`)), ['UNAUTHENTICATED']);
      const introspection = await as(null, `{ __schema { queryType { name } } }`);
      assert.equal(introspection.errors, undefined);
    });

    it('shows each role exactly the tenants in its scope, with fields from every subgraph', async () => {
      const visible: Record<keyof typeof roles, Array<keyof Ids>> = {
        admin: ['t1', 't2', 't3'],
        partner1: ['t1'],
        partner2: ['t2'],
        tenantAdmin: ['t1'],
        tenantMember: ['t1'],
      };
      for (const [role, identity] of Object.entries(roles) as Array<[keyof typeof roles, Identity]>) {
        for (const tenant of ['t1', 't2', 't3'] as const) {
          const result = await as(identity, TENANT_ALL_FIELDS, { id: ids[tenant] });
          assert.equal(result.errors, undefined, `${role} reading ${tenant}: ${JSON.stringify(result.errors)}`);
          const expected = visible[role].includes(tenant);
          assert.equal(result.data?.tenant?.id ?? null, expected ? ids[tenant] : null, `${role} reading ${tenant}`);
          if (expected) assert.ok(result.data?.tenant.branding.displayName && result.data.tenant.usage.length === 1);
        }
        const listed = await as(identity, `{ tenants(first: 100) { edges { node { id } } } }`);
        const listedIds = listed.data?.tenants.edges
          .map((edge: { node: { id: string } }) => edge.node.id)
          .filter((id: string) => Object.values(ids).includes(id));
        assert.deepEqual(listedIds.sort(), visible[role].map((tenant) => ids[tenant]).sort(), `${role} listing tenants`);
      }
    });

    it('lets a partner list only its own tenants and partners see only themselves', async () => {
      assert.deepEqual(errorCodes(await as(roles.partner1, `query($p: ID) { tenants(partnerId: $p) { edges { cursor } } }`, { p: ids.p2 })), ['FORBIDDEN']);
      const partners = await as(roles.partner1, `{ partners { edges { node { id } } } }`);
      assert.deepEqual(
        partners.data?.partners.edges.map((edge: { node: { id: string } }) => edge.node.id),
        [ids.p1],
      );
      assert.deepEqual(errorCodes(await as(roles.tenantAdmin, `{ partners { edges { cursor } } }`)), ['FORBIDDEN']);
      assert.equal((await as(roles.partner1, `query($id: ID!) { partner(id: $id) { id } }`, { id: ids.p2 })).data?.partner, null);
      assert.equal((await as(roles.tenantAdmin, `query($id: ID!) { partner(id: $id) { id } }`, { id: ids.p1 })).data?.partner, null);
    });

    const mutationMatrix: Array<{ name: string; query: (ids: Ids) => string; allowed: Array<keyof typeof roles> }> = [
      { name: 'createPartner', query: () => `mutation { createPartner(input: { name: "X", country: "DE" }) { id } }`, allowed: ['admin'] },
      {
        name: 'createTenant',
        query: () => `mutation { createTenant(input: { name: "New", currency: "EUR", country: "DE" }) { id } }`,
        allowed: ['admin', 'partner1', 'partner2'],
      },
      {
        name: 'updateTenant',
        query: (i) => `mutation { updateTenant(id: "${i.t1}", input: { name: "Renamed" }) { id } }`,
        allowed: ['admin', 'partner1', 'tenantAdmin'],
      },
      {
        name: 'setTenantBranding',
        query: (i) => `mutation { setTenantBranding(tenantId: "${i.t1}", input: { logoUrl: "https://x.example/l.png" }) { logoUrl } }`,
        allowed: ['admin', 'partner1', 'tenantAdmin'],
      },
      {
        name: 'setPartnerBranding',
        query: (i) => `mutation { setPartnerBranding(partnerId: "${i.p1}", input: { displayName: "One" }) { displayName } }`,
        allowed: ['admin', 'partner1'],
      },
      { name: 'createApiKey', query: (i) => `mutation { createApiKey(partnerId: "${i.p1}", name: "ci") { secret } }`, allowed: ['admin', 'partner1'] },
      {
        name: 'tenantUsage',
        query: (i) => `{ tenantUsage(tenantId: "${i.t1}", days: 1) { quantity } }`,
        allowed: ['admin', 'partner1', 'tenantAdmin', 'tenantMember'],
      },
    ];
    for (const { name, query, allowed } of mutationMatrix) {
      it(`allows ${name} on tenant/partner one only to ${allowed.join(', ')}`, async () => {
        for (const [role, identity] of Object.entries(roles) as Array<[keyof typeof roles, Identity]>) {
          const result = await as(identity, query(ids));
          if (allowed.includes(role)) assert.equal(result.errors, undefined, `${role}: ${JSON.stringify(result.errors)}`);
          else assert.deepEqual(errorCodes(result), ['FORBIDDEN'], `${role} must be refused ${name}`);
        }
      });
    }

    it("keeps suspension to operators and the tenant's own partner", async () => {
      for (const role of ['tenantAdmin', 'tenantMember', 'partner2'] as const) {
        assert.deepEqual(errorCodes(await as(roles[role], `mutation { suspendTenant(id: "${ids.t1}", reason: "x") { id } }`)), ['FORBIDDEN'], role);
      }
      const suspended = await as(roles.partner1, `mutation { suspendTenant(id: "${ids.t1}", reason: "unpaid") { status } }`);
      assert.equal(suspended.data?.suspendTenant.status, 'SUSPENDED');
      await as(roles.admin, `mutation { reactivateTenant(id: "${ids.t1}") { status } }`);
    });

    it('answers an out-of-scope tenant exactly like a missing one', async () => {
      const missing = '01900000-0000-7000-8000-00000000abcd';
      const outOfScope = await as(roles.partner1, `mutation { updateTenant(id: "${ids.t2}", input: { name: "x" }) { id } }`);
      const absent = await as(roles.partner1, `mutation { updateTenant(id: "${missing}", input: { name: "x" }) { id } }`);
      assert.deepEqual(errorCodes(outOfScope), errorCodes(absent));
      assert.equal(outOfScope.errors?.[0]?.message, absent.errors?.[0]?.message);
    });

    it('rejects forged, expired, wrong-issuer and wrong-audience tokens', async () => {
      const stranger = generateSigningKeyPair();
      const tokens = {
        forged: await signDevToken(stranger.privateKeyPem, ADMIN),
        expired: await signDevToken(stack.keys.portal.privateKeyPem, ADMIN, { ttlSeconds: 60, now: Date.now() - 3_600_000 }),
        wrongIssuer: await signDevToken(stack.keys.portal.privateKeyPem, ADMIN, { issuer: 'someone-else' }),
        wrongAudience: await signDevToken(stack.keys.portal.privateKeyPem, ADMIN, { audience: 'another-api' }),
        garbage: 'not.a.jwt',
      };
      for (const [kind, token] of Object.entries(tokens)) {
        const result = await graphql(
          stack.graphqlUrl,
          `
            {
              tenants {
                edges {
                  cursor
                }
              }
            }
          `,
          {},
          { authorization: `Bearer ${token}` },
        );
        assert.deepEqual(errorCodes(result), ['UNAUTHENTICATED'], kind);
      }
      const malformed = await graphql(
        stack.graphqlUrl,
        `
          {
            tenants {
              edges {
                cursor
              }
            }
          }
        `,
        {},
        { authorization: 'Basic abc' },
      );
      assert.deepEqual(errorCodes(malformed), ['UNAUTHENTICATED']);
    });
  });

  describe('partner API keys', () => {
    const issue = async () => {
      const result = await as(roles.partner1, `mutation($p: ID!) { createApiKey(partnerId: $p, name: "integration") { secret apiKey { id active } } }`, {
        p: ids.p1,
      });
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      return result.data?.createApiKey as { secret: string; apiKey: { id: string } };
    };
    const withKey = (key: string, header: 'authorization' | 'x-api-key' = 'authorization') =>
      graphql(
        stack.graphqlUrl,
        `
          {
            tenants(first: 100) {
              edges {
                node {
                  id
                }
              }
            }
          }
        `,
        {},
        header === 'authorization' ? { authorization: `Bearer ${key}` } : { 'x-api-key': key },
      );

    it('authenticates a partner by API key, scoped to its own tenants, in either header', async () => {
      const { secret } = await issue();
      for (const header of ['authorization', 'x-api-key'] as const) {
        const result = await withKey(secret, header);
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
        const listed = result.data?.tenants.edges.map((edge: { node: { id: string } }) => edge.node.id);
        assert.ok(listed.includes(ids.t1) && !listed.includes(ids.t2) && !listed.includes(ids.t3));
      }
    });

    it("shows a key's secret only once and stores no way to recover it", async () => {
      const { apiKey } = await issue();
      const listed = await as(roles.partner1, `query($p: ID!) { partner(id: $p) { apiKeys { id name active } } }`, { p: ids.p1 });
      const key = listed.data?.partner.apiKeys.find((candidate: { id: string }) => candidate.id === apiKey.id);
      assert.deepEqual(key, { id: apiKey.id, name: 'integration', active: true });
      const row = await stack.tenants.services.apiKeys.get(apiKey.id);
      assert.ok(row && !JSON.stringify(row).includes('saldo_pk_'));
    });

    it('stops accepting a revoked key', async () => {
      const { secret, apiKey } = await issue();
      assert.equal((await withKey(secret)).errors, undefined);
      await as(roles.partner1, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: apiKey.id });
      assert.deepEqual(errorCodes(await withKey(secret)), ['UNAUTHENTICATED']);
    });

    it('rotates a key: the new one works, the old one stops at once or after its grace period', async () => {
      const first = await issue();
      const rotated = await as(roles.partner1, `mutation($id: ID!) { rotateApiKey(id: $id) { secret } }`, { id: first.apiKey.id });
      assert.deepEqual(errorCodes(await withKey(first.secret)), ['UNAUTHENTICATED']);
      assert.equal((await withKey(rotated.data?.rotateApiKey.secret)).errors, undefined);

      const second = await issue();
      const graceful = await as(roles.partner1, `mutation($id: ID!) { rotateApiKey(id: $id, graceSeconds: 3600) { secret } }`, { id: second.apiKey.id });
      assert.equal((await withKey(second.secret)).errors, undefined, 'old key still valid during grace');
      assert.equal((await withKey(graceful.data?.rotateApiKey.secret)).errors, undefined);
    });

    it("refuses tampered and unknown keys, and another partner's key management", async () => {
      const { secret, apiKey } = await issue();
      assert.deepEqual(errorCodes(await withKey(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`)), ['UNAUTHENTICATED']);
      assert.deepEqual(errorCodes(await withKey('saldo_pk_0000000000000000_' + 'x'.repeat(43))), ['UNAUTHENTICATED']);
      assert.deepEqual(errorCodes(await as(roles.partner2, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: apiKey.id })), ['NOT_FOUND']);
    });
  });

  describe('directly against the subgraphs', () => {
    const subgraphs = () => [stack.tenants, stack.billing, stack.usageForecast, stack.whiteLabel];
    const post = (url: string, query: string, headers: Record<string, string> = {}, variables: Record<string, unknown> = {}) =>
      fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });

    it('gives nothing, not even _service or _entities, to a request without a gateway-signed identity', async () => {
      for (const subgraph of subgraphs()) {
        for (const query of ['{ _service { sdl } }', `{ _entities(representations: [{ __typename: "Tenant", id: "${ids.t1}" }]) { __typename } }`]) {
          const response = await post(subgraph.url, query);
          assert.equal(response.status, 401, `${subgraph.name}: ${query}`);
          const body = (await response.json()) as GraphQLResponse;
          assert.equal(body.data, undefined);
          assert.deepEqual(errorCodes(body), ['UNAUTHENTICATED']);
        }
      }
    });

    it('refuses forged, replayed-after-expiry and wrong-audience identities', async () => {
      const genuine = await IdentitySigner.fromPem(stack.keys.identity.privateKeyPem, 30);
      const forger = await IdentitySigner.fromPem(generateSigningKeyPair().privateKeyPem, 30);
      const identities = {
        forged: await forger.sign(ADMIN),
        expired: await genuine.sign(ADMIN, SUBGRAPH_AUDIENCE, Date.now() - 60_000),
        internalAudience: await genuine.sign(ADMIN, INTERNAL_AUDIENCE),
      };
      for (const subgraph of subgraphs()) {
        for (const [kind, token] of Object.entries(identities)) {
          const response = await post(subgraph.url, '{ _service { sdl } }', { [IDENTITY_HEADER]: token });
          assert.equal(response.status, 401, `${subgraph.name} must refuse a ${kind} identity`);
        }
        const valid = await post(subgraph.url, '{ _service { sdl } }', { [IDENTITY_HEADER]: await genuine.sign(ADMIN) });
        assert.equal(valid.status, 200, `${subgraph.name} accepts a fresh gateway identity`);
      }
    });

    it('enforces tenant scope in _entities of every subgraph for a validly signed identity', async () => {
      const signer = await IdentitySigner.fromPem(stack.keys.identity.privateKeyPem, 30);
      const member = { [IDENTITY_HEADER]: await signer.sign(roles.tenantMember) };
      const representations = [{ __typename: 'Tenant', id: ids.t2, currency: 'EUR', partner: { id: ids.p2 } }];
      const queries: Record<string, string> = {
        tenants: `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { id name } } }`,
        billing: `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { balance { version } } } }`,
        'usage-forecast': `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { usage(days: 1) { quantity } } } }`,
        'white-label': `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { branding { displayName } } } }`,
      };
      for (const subgraph of subgraphs()) {
        const response = await post(subgraph.url, queries[subgraph.name]!, member, { r: representations });
        const body = (await response.json()) as GraphQLResponse;
        const entity = (body.data?.['_entities'] as unknown[] | undefined)?.[0] as Record<string, unknown> | null | undefined;
        const leaked = entity && Object.keys(entity).length > 0 && Object.values(entity).some((value) => value !== null);
        assert.ok(!leaked, `${subgraph.name} leaked another tenant's data: ${JSON.stringify(body)}`);
      }
    });
  });
});
