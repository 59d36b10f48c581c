// A tenant the shard-move tests move: created through the gateway, its billing account topped up, its branding set, so
// every subgraph holds rows of it.
import assert from 'node:assert/strict';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import type { TestStack } from './test-stack.js';

export async function createMovableTenant(
  stack: TestStack,
  options: { name: string; topUp: { amountMinor: bigint; idempotencyKey: string; externalRef?: string }; displayName: string },
): Promise<string> {
  const created = await stack.gql<{ createTenant: { id: string } }>(
    `mutation($name: String!) { createTenant(input: { name: $name, currency: "EUR", country: "DE" }) { id } }`,
    { name: options.name },
  );
  assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  const tenantId = created.data!.createTenant.id;
  await stack.flushEvents(); // billing opens the account
  await stack.billing.services.ledger.post({
    tenantId,
    currency: 'EUR',
    entries: [{ type: LedgerEntryType.TOP_UP, ...options.topUp }],
  });
  const branded = await stack.gql(`mutation($id: ID!, $name: String!) { setTenantBranding(tenantId: $id, input: { displayName: $name }) { displayName } }`, {
    id: tenantId,
    name: options.displayName,
  });
  assert.equal(branded.errors, undefined, JSON.stringify(branded.errors));
  return tenantId;
}
