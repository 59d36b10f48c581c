// The tenants subgraph on its own (no gateway), against the machine's PostgreSQL: what it prints, tenant creation and
// placement, bad input, tenant and partner scope (also in _entities), the lifecycle, the fraud policy it carries out,
// and partner API keys with the internal verification endpoint the gateway calls.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  FraudCaseOpened,
  FraudCaseResolved,
  InProcessEventBus,
  TenantCreated,
  TenantUpdated,
  Topic,
  decode,
  outboxRow,
  toEnvelope,
  type EventEnvelope,
} from '@saldo/events';
import type { Identity } from '@saldo/graphql';
import { INTERNAL_AUDIENCE } from '@saldo/identity';
import { TEST_ADMIN, errorCodes, startTestSubgraph, testLogger, waitUntil, type GraphQLResponse, type TestSubgraph } from '@saldo/testing';
import { loadTenantsConfig } from './config.js';
import { buildTenantsSchema, tenantsSubgraph } from './definition.js';
import type { TenantsServices } from './graphql/context.js';

let subgraph: TestSubgraph<TenantsServices>;
let bus: InProcessEventBus;
/** Everything the subgraph published on tenant-events. */
const tenantEvents: EventEnvelope[] = [];

async function ok<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, identity: Identity = TEST_ADMIN): Promise<T> {
  const result = await subgraph.query<T>(query, variables, identity);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as T;
}

/** Runs an operation that must fail; returns the response for its codes. */
async function refused(query: string, variables: Record<string, unknown> = {}, identity: Identity = TEST_ADMIN): Promise<GraphQLResponse> {
  const result = await subgraph.query(query, variables, identity);
  assert.ok(result.errors && result.errors.length > 0, `expected an error, got ${JSON.stringify(result.data)}`);
  return result;
}

const CREATE_TENANT = 'mutation($input: CreateTenantInput!) { createTenant(input: $input) { id name currency country status partner { id } } }';
const TENANT = 'query($id: ID!) { tenant(id: $id) { id name status suspensionReason } }';
const TENANT_IDS =
  'query($partnerId: ID, $after: String) { tenants(first: 100, partnerId: $partnerId, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }';

async function createPartner(name: string): Promise<string> {
  const data = await ok<{ createPartner: { id: string } }>('mutation($input: CreatePartnerInput!) { createPartner(input: $input) { id } }', {
    input: { name, country: 'DE' },
  });
  return data.createPartner.id;
}

async function createTenant(
  input: Record<string, unknown>,
  identity: Identity = TEST_ADMIN,
): Promise<{ id: string; name: string; currency: string; country: string; status: string; partner: { id: string } | null }> {
  return (await ok<{ createTenant: any }>(CREATE_TENANT, { input: { name: 'Tenant GmbH', currency: 'EUR', country: 'DE', ...input } }, identity)).createTenant;
}

/** Every tenant id the caller's `tenants` list shows (all pages). */
async function listedTenantIds(identity: Identity, partnerId: string | null = null): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (;;) {
    const data: any = await ok(TENANT_IDS, { partnerId, after: cursor }, identity);
    ids.push(...data.tenants.edges.map((edge: { node: { id: string } }) => edge.node.id));
    if (!data.tenants.pageInfo.hasNextPage) return ids;
    cursor = data.tenants.pageInfo.endCursor;
  }
}

const tenantAdmin = (tenantId: string): Identity => ({ role: 'tenant-admin', subject: `admin-${tenantId}`, tenantId });
const tenantMember = (tenantId: string): Identity => ({ role: 'tenant-member', subject: `member-${tenantId}`, tenantId });
const partner = (partnerId: string): Identity => ({ role: 'partner', subject: `partner-${partnerId}`, partnerId });

/** Publishes an event as another subgraph's outbox relay would. */
async function publish(contract: Parameters<typeof outboxRow>[0], tenantId: string, payload: unknown): Promise<void> {
  await bus.publish([toEnvelope(outboxRow(contract, tenantId, payload as never))]);
}

describe('tenants subgraph', () => {
  before(async () => {
    bus = new InProcessEventBus(testLogger());
    bus.subscribe(Topic.TenantEvents, 'test.observer', async (event) => {
      tenantEvents.push(event);
    });
    subgraph = await startTestSubgraph(tenantsSubgraph, loadTenantsConfig, { bus, shards: 2 });
  });

  after(async () => {
    await subgraph?.destroy();
    await bus?.close();
  });

  it('prints Tenant and Partner as entities it owns, resolvable by id', async () => {
    const { sdl } = await buildTenantsSchema();
    assert.match(sdl, /type Tenant @key\(fields: "id"\)/);
    assert.match(sdl, /type Partner @key\(fields: "id"\)/);
    assert.doesNotMatch(sdl, / @external/, 'the tenants subgraph owns every field it serves');
  });

  it('creates a tenant on the least-loaded shard and announces it with its partner', async () => {
    const partnerId = await createPartner('Placement Partner');
    const before = await subgraph.service.runtime.db.directory.load();
    const created = await Promise.all([1, 2, 3, 4].map((n) => createTenant({ name: `Placed ${n}`, currency: 'chf', country: 'ch', partnerId })));
    assert.deepEqual(
      created.map(({ currency, country, status, partner }) => ({ currency, country, status, partner })),
      created.map(() => ({ currency: 'CHF', country: 'CH', status: 'ACTIVE', partner: { id: partnerId } })),
    );
    const load = await subgraph.service.runtime.db.directory.load();
    const [first = 0, second = 0] = [load.get(0), load.get(1)];
    assert.equal(first + second, [...before.values()].reduce((sum, n) => sum + n, 0) + 4);
    assert.ok(Math.abs(first - second) <= 1, `placements stay balanced over the two shards: ${first} and ${second}`);

    const announced = await waitUntil(() => {
      const payloads = tenantEvents.map((event) => decode(TenantCreated, event)).filter((payload) => created.some((tenant) => tenant.id === payload?.tenantId));
      return payloads.length === created.length ? payloads : undefined;
    }, 'tenant.created for each new tenant');
    for (const payload of announced) {
      assert.equal(payload?.partnerId, partnerId);
      assert.equal(payload?.currency, 'CHF');
    }
  });

  it('refuses bad input with a stable code and creates nothing', async () => {
    const load = async () => [...(await subgraph.service.runtime.db.directory.load()).values()].reduce((sum, n) => sum + n, 0);
    const placed = await load();
    const events = tenantEvents.length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ currency: 'EURO' }, 'INVALID_CURRENCY'],
      [{ country: 'XX' }, 'INVALID_COUNTRY'],
      [{ country: 'DE', vatId: 'FR123' }, 'INVALID_VAT_ID'],
      [{ name: '   ' }, 'BAD_USER_INPUT'],
      [{ name: 'x'.repeat(201) }, 'STRING_TOO_LONG'],
      [{ partnerId: randomUUID() }, 'PARTNER_NOT_FOUND'],
      [{ partnerId: 'not-a-uuid' }, 'INVALID_ID'],
    ];
    for (const [input, code] of cases) {
      const result = await refused(CREATE_TENANT, { input: { name: 'Bad GmbH', currency: 'EUR', country: 'DE', ...input } });
      assert.deepEqual(errorCodes(result), [code], JSON.stringify(input));
    }
    assert.equal(await load(), placed, 'no tenant was placed');
    assert.equal(tenantEvents.length, events, 'nothing was announced');
  });

  it("shows a tenant's users their own tenant only, and another tenant exactly like a missing one", async () => {
    const mine = await createTenant({ name: 'Mine GmbH' });
    const theirs = await createTenant({ name: 'Theirs GmbH' });
    for (const identity of [tenantAdmin(mine.id), tenantMember(mine.id)]) {
      assert.equal((await ok(TENANT, { id: mine.id }, identity)).tenant.name, 'Mine GmbH');
      assert.equal((await ok(TENANT, { id: theirs.id }, identity)).tenant, null);
      assert.equal((await ok(TENANT, { id: randomUUID() }, identity)).tenant, null);
      assert.deepEqual(await listedTenantIds(identity), [mine.id]);
    }
    // Anonymous callers (the gateway's own connection) get nothing.
    assert.deepEqual(errorCodes(await refused(TENANT, { id: mine.id }, { role: 'anonymous' })), ['UNAUTHENTICATED']);
  });

  it('lets a partner list and create only its own tenants', async () => {
    const [acme, other] = await Promise.all([createPartner('Acme Voice'), createPartner('Other Reseller')]);
    const own = await createTenant({ name: 'Via Partner' }, partner(acme));
    assert.deepEqual(own.partner, { id: acme }, 'created under the partner itself');
    const foreign = await createTenant({ name: "Other Partner's", partnerId: other });
    const direct = await createTenant({ name: 'Direct Customer' });

    assert.deepEqual(await listedTenantIds(partner(acme)), [own.id]);
    assert.deepEqual(await listedTenantIds(partner(acme), acme), [own.id]);
    assert.deepEqual(errorCodes(await refused(TENANT_IDS, { partnerId: other, after: null }, partner(acme))), ['FORBIDDEN']);
    assert.deepEqual(errorCodes(await refused(CREATE_TENANT, { input: { name: 'Sneaky', currency: 'EUR', country: 'DE', partnerId: other } }, partner(acme))), [
      'FORBIDDEN',
    ]);
    assert.equal((await ok(TENANT, { id: foreign.id }, partner(acme))).tenant, null);
    assert.equal((await ok(TENANT, { id: direct.id }, partner(acme))).tenant, null);
    // Tenants' users cannot create tenants.
    assert.deepEqual(errorCodes(await refused(CREATE_TENANT, { input: { name: 'Self-made', currency: 'EUR', country: 'DE' } }, tenantAdmin(own.id))), [
      'FORBIDDEN',
    ]);
  });

  it('enforces the same scope in _entities', async () => {
    const mine = await createTenant({ name: 'Entity Mine' });
    const theirs = await createTenant({ name: 'Entity Theirs' });
    const query = 'query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Tenant { id name } } }';
    const representations = [mine.id, theirs.id, randomUUID()].map((id) => ({ __typename: 'Tenant', id }));
    const asMember = await ok(query, { representations }, tenantMember(mine.id));
    assert.deepEqual(asMember._entities, [{ id: mine.id, name: 'Entity Mine' }, null, null]);
    const asAdmin = await ok(query, { representations });
    assert.deepEqual(asAdmin._entities, [{ id: mine.id, name: 'Entity Mine' }, { id: theirs.id, name: 'Entity Theirs' }, null]);
  });

  it('suspends and reactivates a tenant for operators and its partner, never for the tenant itself', async () => {
    const partnerId = await createPartner('Lifecycle Partner');
    const tenant = await createTenant({ name: 'Lifecycle GmbH', partnerId });
    const suspend = 'mutation($id: ID!, $reason: String!) { suspendTenant(id: $id, reason: $reason) { status suspensionReason } }';
    const reactivate = 'mutation($id: ID!) { reactivateTenant(id: $id) { status suspensionReason } }';

    assert.deepEqual(errorCodes(await refused(suspend, { id: tenant.id, reason: 'self' }, tenantAdmin(tenant.id))), ['FORBIDDEN']);
    assert.deepEqual((await ok(suspend, { id: tenant.id, reason: 'unpaid invoices' }, partner(partnerId))).suspendTenant, {
      status: 'SUSPENDED',
      suspensionReason: 'unpaid invoices',
    });
    assert.deepEqual(errorCodes(await refused(suspend, { id: tenant.id, reason: 'again' })), ['INVALID_STATE']);
    assert.equal((await ok(TENANT, { id: tenant.id })).tenant.suspensionReason, 'unpaid invoices', 'the refused suspension changed nothing');
    assert.deepEqual(errorCodes(await refused(reactivate, { id: tenant.id }, tenantAdmin(tenant.id))), ['FORBIDDEN']);
    assert.deepEqual((await ok(reactivate, { id: tenant.id })).reactivateTenant, { status: 'ACTIVE', suspensionReason: null });
    assert.deepEqual(errorCodes(await refused(suspend, { id: randomUUID(), reason: 'nobody' })), ['TENANT_NOT_FOUND']);

    const statuses = await waitUntil(() => {
      const updates = tenantEvents.map((event) => decode(TenantUpdated, event)).filter((payload) => payload?.tenantId === tenant.id);
      return updates.length === 2 ? updates.map((payload) => payload?.status) : undefined;
    }, 'tenant.updated for the suspension and the reactivation');
    assert.deepEqual(statuses, ['SUSPENDED', 'ACTIVE']);
  });

  it("suspends a tenant when its partner's fraud policy asks to, and reactivates it when the case is dismissed", async () => {
    const tenant = await createTenant({ name: 'Fraud Policy GmbH' });
    const caseId = randomUUID();
    const opened = {
      caseId,
      tenantId: tenant.id,
      partnerId: null,
      score: 97,
      severity: 'CRITICAL',
      signals: [{ kind: 'burst', score: 97, detail: 'usage 40x its profile' }],
      suspendUsage: true,
      openedAt: new Date().toISOString(),
    };
    await publish(FraudCaseOpened, tenant.id, opened);
    const suspended = await waitUntil(async () => {
      const current = (await ok(TENANT, { id: tenant.id })).tenant;
      return current.status === 'SUSPENDED' ? current : undefined;
    }, 'the fraud suspension');
    assert.equal(suspended.suspensionReason, `fraud case ${caseId}`);
    // A redelivery changes nothing (the tenant is suspended already).
    await publish(FraudCaseOpened, tenant.id, opened);

    await publish(FraudCaseResolved, tenant.id, {
      caseId,
      tenantId: tenant.id,
      resolution: 'DISMISSED',
      resumeUsage: true,
      resolvedAt: new Date().toISOString(),
    });
    await waitUntil(async () => (await ok(TENANT, { id: tenant.id })).tenant.status === 'ACTIVE', 'the reactivation');
    assert.equal((await ok(TENANT, { id: tenant.id })).tenant.suspensionReason, null);
  });

  describe('partner API keys', () => {
    const verifyUrl = () => `${subgraph.service.url}/internal/api-keys/verify`;
    /** The gateway's call: {keyId, secret} with an identity signed for the internal audience. */
    async function verify(plaintext: string, headers?: Record<string, string>): Promise<{ status: number; body: any }> {
      const [keyId, secret] = [plaintext.slice('saldo_pk_'.length, 'saldo_pk_'.length + 16), plaintext.slice('saldo_pk_'.length + 17)];
      const response = await fetch(verifyUrl(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(headers ?? (await subgraph.identityHeaders(TEST_ADMIN, INTERNAL_AUDIENCE))) },
        body: JSON.stringify({ keyId, secret }),
      });
      return { status: response.status, body: await response.json() };
    }
    const CREATE_KEY = 'mutation($partnerId: ID!, $name: String!) { createApiKey(partnerId: $partnerId, name: $name) { secret apiKey { id name active } } }';

    it('issues a key whose secret is shown once, and verifies it for the gateway only', async () => {
      const partnerId = await createPartner('Key Partner');
      const issued = (await ok(CREATE_KEY, { partnerId, name: 'production' }, partner(partnerId))).createApiKey;
      assert.match(issued.secret, /^saldo_pk_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/);
      assert.equal(issued.secret.slice(9, 25), issued.apiKey.id);
      assert.deepEqual({ name: issued.apiKey.name, active: issued.apiKey.active }, { name: 'production', active: true });

      const listed = await ok('query($id: ID!) { partner(id: $id) { apiKeys { id name active } } }', { id: partnerId }, partner(partnerId));
      assert.deepEqual(listed.partner.apiKeys, [{ id: issued.apiKey.id, name: 'production', active: true }]);
      const stored = await subgraph.service.runtime.db.globalEm().execute('select * from api_key where id = ?', [issued.apiKey.id]);
      assert.ok(!JSON.stringify(stored).includes(issued.secret.slice(26)), 'the secret is not stored');

      assert.deepEqual(await verify(issued.secret), { status: 200, body: { partnerId, keyId: issued.apiKey.id } });
      // Only the gateway may ask: not without an identity, nor with one signed for GraphQL requests.
      for (const headers of [{}, await subgraph.identityHeaders(TEST_ADMIN)]) {
        const refusedCaller = await verify(issued.secret, headers);
        assert.equal(refusedCaller.status, 401);
        assert.deepEqual(
          refusedCaller.body.errors.map((error: any) => error.extensions.code),
          ['UNAUTHENTICATED'],
        );
      }
      // A tampered secret is not a key.
      const tampered = issued.secret.slice(0, -1) + (issued.secret.endsWith('A') ? 'B' : 'A');
      const refusedKey = await verify(tampered);
      assert.equal(refusedKey.status, 401);
      assert.deepEqual(
        refusedKey.body.errors.map((error: any) => error.extensions.code),
        ['INVALID_API_KEY'],
      );
    });

    it('stops verifying a revoked key at once and a rotated key after its grace period', async () => {
      const partnerId = await createPartner('Rotating Partner');
      const first = (await ok(CREATE_KEY, { partnerId, name: 'first' }, partner(partnerId))).createApiKey;
      const revoked = await ok('mutation($id: ID!) { revokeApiKey(id: $id) { active revokedAt } }', { id: first.apiKey.id }, partner(partnerId));
      assert.equal(revoked.revokeApiKey.active, false);
      assert.equal((await verify(first.secret)).status, 401);

      const second = (await ok(CREATE_KEY, { partnerId, name: 'second' }, partner(partnerId))).createApiKey;
      const rotate = 'mutation($id: ID!, $grace: Int) { rotateApiKey(id: $id, graceSeconds: $grace) { secret apiKey { id name } } }';
      const graceful = (await ok(rotate, { id: second.apiKey.id, grace: 3600 }, partner(partnerId))).rotateApiKey;
      assert.equal(graceful.apiKey.name, 'second');
      assert.equal((await verify(second.secret)).status, 200, 'the old key works during its grace period');
      assert.equal((await verify(graceful.secret)).status, 200);

      const immediate = (await ok(rotate, { id: graceful.apiKey.id, grace: 0 }, partner(partnerId))).rotateApiKey;
      assert.equal((await verify(graceful.secret)).status, 401, 'rotated without grace: stops at once');
      assert.deepEqual(await verify(immediate.secret), { status: 200, body: { partnerId, keyId: immediate.apiKey.id } });
    });

    it("keeps one partner away from another's keys", async () => {
      const [mine, theirs] = await Promise.all([createPartner('Key Owner'), createPartner('Key Prober')]);
      const issued = (await ok(CREATE_KEY, { partnerId: mine, name: 'mine' }, partner(mine))).createApiKey;
      assert.deepEqual(errorCodes(await refused(CREATE_KEY, { partnerId: mine, name: 'not yours' }, partner(theirs))), ['FORBIDDEN']);
      assert.deepEqual(errorCodes(await refused('mutation($id: ID!) { revokeApiKey(id: $id) { active } }', { id: issued.apiKey.id }, partner(theirs))), [
        'NOT_FOUND',
      ]);
      assert.equal((await verify(issued.secret)).status, 200, 'the refused revocation changed nothing');
    });
  });
});
