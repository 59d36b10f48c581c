import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestSubgraph, type GraphQLResponse, type TestSubgraph } from '@saldo/testing';
import { loadWhiteLabelConfig } from './config.js';
import { buildWhiteLabelSchema, whiteLabelSubgraph } from './definition.js';
import type { WhiteLabelServices } from './graphql/context.js';

const PLATFORM = {
  displayName: 'Saldo',
  primaryColor: '#0F766E',
  accentColor: '#F59E0B',
  logoUrl: null,
  supportEmail: 'support@saldo.example',
  source: 'PLATFORM',
};
const BRANDING_FIELDS = 'displayName primaryColor accentColor logoUrl supportEmail source';

let subgraph: TestSubgraph<WhiteLabelServices>;

function graphql(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  return subgraph.query(query, variables);
}

/** Runs a query that must succeed and returns its data. */
async function ok(query: string, variables: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const result = await graphql(query, variables);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as Record<string, unknown>;
}

/** Runs a query that must fail and returns the first error's code. */
async function errorCode(query: string, variables: Record<string, unknown> = {}): Promise<string | undefined> {
  const result = await graphql(query, variables);
  assert.ok(result.errors && result.errors.length > 0, `expected an error, got ${JSON.stringify(result.data)}`);
  return result.errors[0]?.extensions?.code;
}

const SET_PARTNER = `mutation($partnerId: ID!, $input: BrandingInput!) { setPartnerBranding(partnerId: $partnerId, input: $input) { ${BRANDING_FIELDS} } }`;
const SET_TENANT = `mutation($tenantId: ID!, $input: BrandingInput!) { setTenantBranding(tenantId: $tenantId, input: $input) { ${BRANDING_FIELDS} } }`;
const CLEAR_TENANT = 'mutation($tenantId: ID!) { clearTenantBranding(tenantId: $tenantId) }';
const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Tenant { id branding { ${BRANDING_FIELDS} } }
    ... on Partner { id branding { ${BRANDING_FIELDS} } }
  }
}`;

const setPartner = (partnerId: string, input: Record<string, unknown>) => ok(SET_PARTNER, { partnerId, input });
const setTenant = (tenantId: string, input: Record<string, unknown>) => ok(SET_TENANT, { tenantId, input });

/** The effective branding of tenants as the gateway asks for it: representations carrying the required partner. */
async function tenantBrandings(tenants: Array<{ id: string; partnerId: string | null }>): Promise<Array<Record<string, unknown>>> {
  const representations = tenants.map(({ id, partnerId }) => ({ __typename: 'Tenant', id, partner: partnerId ? { id: partnerId } : null }));
  const data = await ok(ENTITIES, { representations });
  return (data['_entities'] as Array<{ id: string; branding: Record<string, unknown> }>).map((entity, index) => {
    assert.equal(entity.id, tenants[index]?.id);
    return entity.branding;
  });
}

async function tenantBranding(id: string, partnerId: string | null): Promise<Record<string, unknown>> {
  return (await tenantBrandings([{ id, partnerId }]))[0] as Record<string, unknown>;
}

/** Counts calls to a method of `target` until the returned function restores it. */
function spy<T extends object, K extends keyof T>(target: T, method: K, calls: unknown[][]): () => void {
  const original = target[method] as (...args: unknown[]) => unknown;
  target[method] = ((...args: unknown[]) => {
    calls.push(args);
    return original.apply(target, args);
  }) as T[K];
  return () => {
    target[method] = original as T[K];
  };
}

describe('white-label subgraph', () => {
  before(async () => {
    subgraph = await startTestSubgraph(whiteLabelSubgraph, loadWhiteLabelConfig, { env: { OUTBOX_POLL_INTERVAL_MS: '60000' } });
  });

  after(async () => {
    await subgraph?.destroy();
  });

  it('prints a Tenant stub whose branding requires the partner id from the tenants subgraph', async () => {
    const { sdl } = await buildWhiteLabelSchema();
    assert.match(sdl, /type Tenant @key\(fields: "id"\) \{\s+id: ID!\s+partner: Partner @external/);
    assert.match(sdl, /branding: Branding! @requires\(fields: "partner \{ id \}"\)/);
    assert.match(sdl, /type Partner @key\(fields: "id"\) \{\s+id: ID!/);
    assert.match(sdl, /enum BrandingSource \{[^}]*TENANT[^}]*PARTNER[^}]*PLATFORM/);
  });

  it('serves the platform default as defaultBranding', async () => {
    const data = await ok(`{ defaultBranding { ${BRANDING_FIELDS} } }`);
    assert.deepEqual(data['defaultBranding'], PLATFORM);
  });

  it('gives a tenant the platform default when neither it nor its partner set anything', async () => {
    assert.deepEqual(await tenantBranding(randomUUID(), null), PLATFORM);
    assert.deepEqual(await tenantBranding(randomUUID(), randomUUID()), PLATFORM);
  });

  it("lets a tenant that overrides only its logo inherit its partner's name, colors and support address", async () => {
    const partnerId = randomUUID();
    const tenantId = randomUUID();
    await setPartner(partnerId, { displayName: 'Acme Voice', primaryColor: '#112233', accentColor: '#445566', supportEmail: 'help@acme.example' });
    await setTenant(tenantId, { logoUrl: 'https://cdn.tenant.example/logo.png' });

    assert.deepEqual(await tenantBranding(tenantId, partnerId), {
      displayName: 'Acme Voice',
      primaryColor: '#112233',
      accentColor: '#445566',
      logoUrl: 'https://cdn.tenant.example/logo.png',
      supportEmail: 'help@acme.example',
      source: 'TENANT',
    });
  });

  it("gives a tenant without own branding its partner's values and the platform default for the rest", async () => {
    const partnerId = randomUUID();
    await setPartner(partnerId, { primaryColor: '#abcdef' });
    assert.deepEqual(await tenantBranding(randomUUID(), partnerId), { ...PLATFORM, primaryColor: '#ABCDEF', source: 'PARTNER' });
  });

  it('resolves a Partner entity to its branding merged with the platform default', async () => {
    const partnerId = randomUUID();
    const unbranded = randomUUID();
    await setPartner(partnerId, { displayName: 'Reseller One', logoUrl: 'https://r1.example/logo.svg' });
    const data = await ok(ENTITIES, {
      representations: [
        { __typename: 'Partner', id: partnerId },
        { __typename: 'Partner', id: unbranded },
      ],
    });
    assert.deepEqual(data['_entities'], [
      { id: partnerId, branding: { ...PLATFORM, displayName: 'Reseller One', logoUrl: 'https://r1.example/logo.svg', source: 'PARTNER' } },
      { id: unbranded, branding: PLATFORM },
    ]);
  });

  it("returns the tenant's own values merged with the platform default from setTenantBranding, without its partner's", async () => {
    const partnerId = randomUUID();
    const tenantId = randomUUID();
    await setPartner(partnerId, { displayName: 'Partner Name', accentColor: '#000000' });
    const data = await setTenant(tenantId, { primaryColor: '#0a0b0c' });
    assert.deepEqual(data['setTenantBranding'], { ...PLATFORM, primaryColor: '#0A0B0C', source: 'TENANT' });
  });

  it('leaves omitted fields unchanged and clears a field set to null', async () => {
    const tenantId = randomUUID();
    await setTenant(tenantId, { displayName: 'First', logoUrl: 'https://a.example/l.png', supportEmail: 'a@a.example' });
    const data = await setTenant(tenantId, { displayName: 'Second', logoUrl: null });
    assert.deepEqual(data['setTenantBranding'], { ...PLATFORM, displayName: 'Second', supportEmail: 'a@a.example', source: 'TENANT' });

    const partnerId = randomUUID();
    await setPartner(partnerId, { displayName: 'P', primaryColor: '#111111' });
    const partner = await setPartner(partnerId, { primaryColor: null });
    assert.deepEqual(partner['setPartnerBranding'], { ...PLATFORM, displayName: 'P', source: 'PARTNER' });
  });

  it('keeps both of two concurrent changes to different fields of one tenant', async () => {
    const tenantId = randomUUID();
    await setTenant(tenantId, { displayName: 'Base' });
    await Promise.all([setTenant(tenantId, { primaryColor: '#101010' }), setTenant(tenantId, { accentColor: '#202020' })]);
    const branding = await tenantBranding(tenantId, null);
    assert.equal(branding['displayName'], 'Base');
    assert.equal(branding['primaryColor'], '#101010');
    assert.equal(branding['accentColor'], '#202020');
  });

  it("lets a cleared tenant inherit its partner's branding again", async () => {
    const partnerId = randomUUID();
    const tenantId = randomUUID();
    await setPartner(partnerId, { displayName: 'Partner Brand' });
    await setTenant(tenantId, { displayName: 'Tenant Brand' });
    assert.equal((await tenantBranding(tenantId, partnerId))['displayName'], 'Tenant Brand');

    assert.equal((await ok(CLEAR_TENANT, { tenantId }))['clearTenantBranding'], true);
    assert.deepEqual(await tenantBranding(tenantId, partnerId), { ...PLATFORM, displayName: 'Partner Brand', source: 'PARTNER' });
    assert.equal((await ok(CLEAR_TENANT, { tenantId }))['clearTenantBranding'], false);
    assert.equal((await ok(CLEAR_TENANT, { tenantId: randomUUID() }))['clearTenantBranding'], false);
  });

  it('resolves many tenants in one _entities call with one directory lookup, one query per shard and one partner query', async () => {
    const partners = [randomUUID(), randomUUID(), randomUUID()];
    for (const [index, partnerId] of partners.entries()) await setPartner(partnerId, { displayName: `Partner ${index}`, primaryColor: `#00000${index}` });
    const tenants = Array.from({ length: 12 }, (_unused, index) => ({ id: randomUUID(), partnerId: index % 4 === 3 ? null : (partners[index % 3] ?? null) }));
    for (const [index, tenant] of tenants.entries()) if (index % 2 === 0) await setTenant(tenant.id, { logoUrl: `https://t${index}.example/logo.png` });
    // Tenants white-label has never seen (no row, no placement) ride in the same batch.
    const unseen = [
      { id: randomUUID(), partnerId: partners[0] ?? null },
      { id: randomUUID(), partnerId: null },
    ];
    const batch = [...tenants, ...unseen];

    const db = subgraph.service.runtime.db;
    const calls = {
      groupByShard: [] as unknown[][],
      em: [] as unknown[][],
      globalEm: [] as unknown[][],
      tenantRows: [] as unknown[][],
      partnerRows: [] as unknown[][],
    };
    const restore = [
      spy(db, 'groupByShard', calls.groupByShard),
      spy(db, 'em', calls.em),
      spy(db, 'globalEm', calls.globalEm),
      spy(subgraph.service.services.tenantBranding, 'getMany', calls.tenantRows),
      spy(subgraph.service.services.partnerBranding, 'getMany', calls.partnerRows),
    ];
    // The relay polls the outboxes; stop it so only the batch's own SQL statements are counted.
    await subgraph.service.runtime.relay.stop();
    const queriesBefore = subgraph.service.metrics().databaseQueries;
    let results: Array<Record<string, unknown>>;
    try {
      results = await tenantBrandings(batch);
    } finally {
      for (const undo of restore) undo();
      subgraph.service.runtime.relay.start();
    }

    // One directory lookup (the unseen tenants are not in its cache), one query per shard, one for partners.
    assert.equal(subgraph.service.metrics().databaseQueries - queriesBefore, 1 + db.shardIds.length + 1, 'SQL statements for the whole batch');

    assert.equal(calls.tenantRows.length, 1, 'one batch of tenant rows');
    assert.equal(calls.partnerRows.length, 1, 'one batch of partner rows');
    assert.equal(calls.groupByShard.length, 1, 'one directory lookup');
    assert.equal(calls.em.length, 2, 'one query per shard');
    assert.equal(calls.globalEm.length, 1, 'one control-database query for all partners');

    batch.forEach((tenant, index) => {
      const partnerIndex = tenant.partnerId === null ? -1 : partners.indexOf(tenant.partnerId);
      const ownLogo = index < tenants.length && index % 2 === 0 ? `https://t${index}.example/logo.png` : null;
      assert.deepEqual(
        results[index],
        {
          ...PLATFORM,
          displayName: partnerIndex >= 0 ? `Partner ${partnerIndex}` : 'Saldo',
          primaryColor: partnerIndex >= 0 ? `#00000${partnerIndex}` : PLATFORM.primaryColor,
          logoUrl: ownLogo,
          source: ownLogo ? 'TENANT' : partnerIndex >= 0 ? 'PARTNER' : 'PLATFORM',
        },
        `tenant #${index}`,
      );
    });
  });

  it('refuses malformed input with a stable code and writes nothing', async () => {
    const fresh = randomUUID();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ primaryColor: 'teal' }, 'INVALID_COLOR'],
      [{ accentColor: '#FFF' }, 'INVALID_COLOR'],
      [{ logoUrl: 'http://insecure.example/logo.png' }, 'INVALID_URL'],
      [{ logoUrl: `https://cdn.example/${'x'.repeat(2100)}` }, 'STRING_TOO_LONG'],
      [{ supportEmail: 'not-an-email' }, 'INVALID_EMAIL'],
      [{ displayName: 'n'.repeat(101) }, 'STRING_TOO_LONG'],
      [{ displayName: '' }, 'BAD_USER_INPUT'],
      // A valid field next to an invalid one is not written either.
      [{ displayName: 'Would be fine', primaryColor: '#12345Z' }, 'INVALID_COLOR'],
    ];
    for (const [input, code] of cases) {
      assert.equal(await errorCode(SET_TENANT, { tenantId: fresh, input }), code, `tenant ${JSON.stringify(input).slice(0, 60)}`);
      assert.equal(await errorCode(SET_PARTNER, { partnerId: fresh, input }), code, `partner ${JSON.stringify(input).slice(0, 60)}`);
    }
    // Nothing written: the fresh tenant was never placed on a shard, and the fresh partner has no row.
    assert.equal(await subgraph.service.runtime.db.directory.lookupOne(fresh), undefined);
    assert.deepEqual(await subgraph.service.services.partnerBranding.getMany([fresh]), [null]);

    // An existing tenant keeps its values when a change is refused.
    const existing = randomUUID();
    await setTenant(existing, { displayName: 'Kept', primaryColor: '#123456' });
    assert.equal(await errorCode(SET_TENANT, { tenantId: existing, input: { displayName: 'Lost', primaryColor: 'nope' } }), 'INVALID_COLOR');
    const [row] = await subgraph.service.services.tenantBranding.getMany([existing]);
    assert.equal(row?.displayName, 'Kept');
    assert.equal(row?.primaryColor, '#123456');
  });

  it('refuses malformed ids with INVALID_ID in mutations and entity representations', async () => {
    assert.equal(await errorCode(SET_TENANT, { tenantId: 'tenant-1', input: { displayName: 'X' } }), 'INVALID_ID');
    assert.equal(await errorCode(SET_PARTNER, { partnerId: '42', input: { displayName: 'X' } }), 'INVALID_ID');
    assert.equal(await errorCode(CLEAR_TENANT, { tenantId: 'nope' }), 'INVALID_ID');
    assert.equal(await errorCode(ENTITIES, { representations: [{ __typename: 'Tenant', id: 'nope', partner: null }] }), 'INVALID_ID');
    assert.equal(await errorCode(ENTITIES, { representations: [{ __typename: 'Tenant', id: randomUUID(), partner: { id: 7 } }] }), 'INVALID_ID');
    assert.equal(await errorCode(ENTITIES, { representations: [{ __typename: 'Partner', id: 'x' }] }), 'INVALID_ID');
  });

  it("stores a tenant's row only on the shard its directory entry names, and partner rows only in the control database", async () => {
    const tenantIds = Array.from({ length: 6 }, () => randomUUID());
    for (const tenantId of tenantIds) await setTenant(tenantId, { displayName: 'Sharded' });
    const db = subgraph.service.runtime.db;

    const placements = new Map<string, number>();
    for (const tenantId of tenantIds) {
      const shardId = await db.directory.lookupOne(tenantId);
      assert.notEqual(shardId, undefined, `tenant ${tenantId} is placed`);
      placements.set(tenantId, shardId as number);
    }
    assert.equal(new Set(placements.values()).size, 2, 'new tenants spread over both shards');

    for (const shardId of db.shardIds) {
      const rows = await db.em(shardId).execute<Array<{ tenant_id: string }>>('select tenant_id from tenant_branding where tenant_id in (?)', [tenantIds]);
      const expected = tenantIds.filter((id) => placements.get(id) === shardId).sort();
      assert.deepEqual(rows.map((row) => row.tenant_id).sort(), expected, `shard ${shardId}`);
      const [partnerTable] = await db.em(shardId).execute<Array<{ present: string | null }>>("select to_regclass('partner_branding')::text as present");
      assert.equal(partnerTable?.present, null, `no partner_branding table on shard ${shardId}`);
    }
    const [tenantTable] = await db.globalEm().execute<Array<{ present: string | null }>>("select to_regclass('tenant_branding')::text as present");
    assert.equal(tenantTable?.present, null, 'no tenant_branding table in the control database');
  });
});
