import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { errorCodes } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

const CREATE = /* GraphQL */ `
  mutation ($input: CreateTenantInput!) {
    createTenant(input: $input) {
      id
    }
  }
`;
const VALID = { name: 'Valid GmbH', currency: 'EUR', country: 'DE', vatId: 'DE123456789' };

/** Rows in every table that bad input could touch, across all subgraphs' databases. */
async function rowCounts(stack: TestStack): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const url of stack.databaseUrls) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = 'public' and table_name <> 'mikro_orm_migrations'",
      );
      for (const { table_name } of tables.rows) {
        const result = await client.query<{ count: string }>(`select count(*) from "${table_name}"`);
        counts[`${url.split('/').at(-1)}.${table_name}`] = Number(result.rows[0]!.count);
      }
    } finally {
      await client.end();
    }
  }
  return counts;
}

describe('bad input', () => {
  let stack: TestStack;
  let existingTenantId: string;

  before(async () => {
    stack = await startTestStack('badinput');
    existingTenantId = (await stack.tenants.services.tenants.create(VALID)).id;
    await stack.flushEvents();
  });

  after(async () => {
    await stack?.destroy();
  });

  const rejects = (title: string, query: string, variables: Record<string, unknown>, code: string) =>
    it(`${title} is rejected with ${code} and writes nothing`, async () => {
      const before = await rowCounts(stack);
      const result = await stack.gql(query, variables);
      assert.deepEqual(errorCodes(result), [code], JSON.stringify(result.errors));
      assert.ok(result.errors?.[0]?.message, 'the error says what is wrong');
      await stack.flushEvents();
      assert.deepEqual(await rowCounts(stack), before);
    });

  rejects('an unknown currency', CREATE, { input: { ...VALID, currency: 'EUX' } }, 'INVALID_CURRENCY');
  rejects('an unknown country', CREATE, { input: { ...VALID, country: 'XX' } }, 'INVALID_COUNTRY');
  rejects('a VAT id that does not fit the country', CREATE, { input: { ...VALID, vatId: 'DE12345' } }, 'INVALID_VAT_ID');
  rejects('a VAT id of another country', CREATE, { input: { ...VALID, vatId: 'ATU12345678' } }, 'INVALID_VAT_ID');
  rejects('an over-long name', CREATE, { input: { ...VALID, name: 'x'.repeat(201) } }, 'STRING_TOO_LONG');
  rejects('an empty name', CREATE, { input: { ...VALID, name: '   ' } }, 'BAD_USER_INPUT');
  rejects('a malformed partner id', CREATE, { input: { ...VALID, partnerId: 'partner-1' } }, 'INVALID_ID');
  rejects('an unknown partner', CREATE, { input: { ...VALID, partnerId: '01900000-0000-7000-8000-000000000001' } }, 'PARTNER_NOT_FOUND');
  rejects(
    'an update of an unknown tenant',
    `mutation($id: ID!) { updateTenant(id: $id, input: { name: "New" }) { id } }`,
    { id: '01900000-0000-7000-8000-000000000002' },
    'TENANT_NOT_FOUND',
  );
  rejects(
    'a suspension of an unknown tenant',
    `mutation { suspendTenant(id: "01900000-0000-7000-8000-000000000003", reason: "fraud") { id } }`,
    {},
    'TENANT_NOT_FOUND',
  );
  rejects('a malformed tenant id', `query { tenant(id: "42") { id } }`, {}, 'INVALID_ID');
  rejects('a malformed cursor', `query { tenants(after: "not-a-cursor!") { edges { cursor } } }`, {}, 'INVALID_CURSOR');
  rejects(
    'a cursor that decodes to something else',
    `query($after: String) { tenants(after: $after) { edges { cursor } } }`,
    { after: Buffer.from(JSON.stringify({ v: 1, k: 'drop table tenant' })).toString('base64url') },
    'INVALID_CURSOR',
  );
  rejects('a page size of zero', `query { tenants(first: 0) { edges { cursor } } }`, {}, 'BAD_USER_INPUT');
  rejects('a page size over 100', `query { tenants(first: 101) { edges { cursor } } }`, {}, 'BAD_USER_INPUT');

  it('rejects a country change that invalidates the VAT id, leaving the tenant unchanged', async () => {
    const result = await stack.gql(`mutation($id: ID!) { updateTenant(id: $id, input: { country: "FR" }) { id } }`, { id: existingTenantId });
    assert.deepEqual(errorCodes(result), ['INVALID_VAT_ID']);
    const tenant = await stack.tenants.services.tenants.get(existingTenantId);
    assert.equal(tenant?.country, 'DE');
  });

  it('refuses to suspend a tenant twice', async () => {
    const first = await stack.gql(`mutation($id: ID!) { suspendTenant(id: $id, reason: "unpaid") { status } }`, { id: existingTenantId });
    assert.equal(first.data?.suspendTenant.status, 'SUSPENDED');
    const second = await stack.gql(`mutation($id: ID!) { suspendTenant(id: $id, reason: "unpaid") { status } }`, { id: existingTenantId });
    assert.deepEqual(errorCodes(second), ['INVALID_STATE']);
  });

  it('lists every problem of an input at once', async () => {
    const result = await stack.gql(CREATE, { input: { name: '', currency: 'EUX', country: 'XX' } });
    const issues = (result.errors?.[0]?.extensions?.['issues'] ?? []) as Array<{ field: string; code: string }>;
    assert.deepEqual(issues.map((issue) => issue.field).sort(), ['country', 'currency', 'name']);
  });
});
