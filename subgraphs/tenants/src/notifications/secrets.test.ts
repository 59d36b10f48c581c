import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { AutoTopUpFailed, InProcessEventBus, outboxRow, toEnvelope } from '@saldo/events';
import { startTestSubgraph, startWebhookReceiver, testLogger, verifiesWith, type TestSubgraph, type WebhookReceiver } from '@saldo/testing';
import { loadTenantsConfig, type TenantsConfig } from '../config.js';
import { tenantsSubgraph } from '../definition.js';
import type { TenantsServices } from '../graphql/context.js';
import { generateSecret } from './delivery/signing.js';

type Tenants = TestSubgraph<TenantsServices, TenantsConfig>;

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const keyId = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);

let receiver: WebhookReceiver;
let first: Tenants;
let second: Tenants | undefined;

async function ok<T>(subgraph: Tenants, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await subgraph.query<T>(query, variables);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as T;
}

async function storedSecrets(subgraph: Tenants, tenantId: string): Promise<Map<string, Array<Record<string, unknown>>>> {
  const located = await subgraph.service.runtime.db.emForTenant(tenantId);
  const rows = await located!.em.execute<{ id: string; secrets: Array<Record<string, unknown>> }[]>(
    'select id, secrets from webhook_endpoint where owner_id = ?',
    [tenantId],
  );
  return new Map(rows.map((row) => [row.id, row.secrets]));
}

before(async () => {
  receiver = await startWebhookReceiver();
  first = await startTestSubgraph(tenantsSubgraph, loadTenantsConfig, {
    label: 'notifysecrets',
    env: { WEBHOOK_SECRETS_KEY: oldKey.toString('base64') },
  });
});

after(async () => {
  await second?.service.stop();
  await first?.destroy();
  await receiver?.close();
});

it('stores webhook secrets sealed; after a key rotation (and from plaintext rows of before) they are sealed anew at start and keep signing, overlapping rotated secrets too', async () => {
  const { createTenant } = await ok<{ createTenant: { id: string } }>(
    first,
    'mutation { createTenant(input: { name: "Tresor GmbH", currency: "EUR", country: "DE" }) { id } }',
  );
  const tenantId = createTenant.id;
  const created = await ok<{ createWebhookEndpoint: { secret: string; endpoint: { id: string } } }>(
    first,
    'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id } } }',
    { input: { tenantId, url: receiver.url } },
  );
  const endpointId = created.createWebhookEndpoint.endpoint.id;
  const firstSecret = created.createWebhookEndpoint.secret;
  const rotated = await ok<{ rotateWebhookSecret: { secret: string } }>(
    first,
    'mutation($id: ID!) { rotateWebhookSecret(id: $id, overlapSeconds: 3600) { secret } }',
    { id: endpointId },
  );
  const secondSecret = rotated.rotateWebhookSecret.secret;

  // At rest: sealed with the configured key, no trace of either secret.
  const sealed = (await storedSecrets(first, tenantId)).get(endpointId)!;
  assert.equal(sealed.length, 2);
  for (const entry of sealed) {
    assert.equal(entry['secret'], undefined, 'no plaintext');
    assert.match(String(entry['sealed']), new RegExp(`^v1\\.${keyId(oldKey)}\\.`));
  }
  const raw = JSON.stringify(sealed);
  for (const secret of [firstSecret, secondSecret]) assert.ok(!raw.includes(secret.slice('whsec_'.length, 20)), 'the secret is not stored readable');

  // A row of before secrets were sealed: its secret in plaintext.
  const legacySecret = generateSecret();
  const legacyId = '0190a0a0-0000-7000-8000-00000000beef';
  const located = await first.service.runtime.db.emForTenant(tenantId);
  await located!.em.execute(
    `insert into webhook_endpoint (id, owner_type, owner_id, url, description, event_types, enabled, secrets, created_at, updated_at)
     values (?, 'TENANT', ?, ?, null, '[]'::jsonb, true, ?::jsonb, now(), now())`,
    [legacyId, tenantId, receiver.url, JSON.stringify([{ secret: legacySecret, createdAt: new Date().toISOString(), expiresAt: null }])],
  );
  await first.service.stop();

  // The key rotates: the new instance seals with the new key and opens with the old one, then re-seals everything.
  const bus = new InProcessEventBus(testLogger());
  second = await startTestSubgraph(tenantsSubgraph, loadTenantsConfig, {
    sharing: first,
    bus,
    env: { WEBHOOK_SECRETS_KEY: newKey.toString('hex'), WEBHOOK_SECRETS_PREVIOUS_KEYS: oldKey.toString('base64') },
  });
  const resealed = await storedSecrets(second, tenantId);
  assert.equal(resealed.get(endpointId)!.length, 2, 'the overlapping secret is kept');
  for (const entry of [...resealed.values()].flat()) {
    assert.equal(entry['secret'], undefined, 'no plaintext left');
    assert.match(String(entry['sealed']), new RegExp(`^v1\\.${keyId(newKey)}\\.`), 'sealed with the new key');
  }

  const now = new Date().toISOString();
  const declined = toEnvelope(
    outboxRow(AutoTopUpFailed, tenantId, {
      tenantId,
      attemptId: '0190a0a0-0000-7000-8000-000000000001',
      amountMinor: '2000',
      currency: 'EUR',
      balanceMinor: '100',
      failureCode: 'card_declined',
      declineCode: null,
      message: 'declined',
      consecutiveFailures: 1,
      nextAttemptAfter: now,
      failedAt: now,
    }),
  );
  await bus.publish([declined]);
  const hooks = await receiver.waitForAccepted(2);
  const verifies = verifiesWith;
  const [toRotated, toLegacy] = [hooks.find((hook) => hook.signature.includes(' ')), hooks.find((hook) => !hook.signature.includes(' '))];
  assert.ok(toRotated && toLegacy, 'one delivery per endpoint; the rotated one signed twice');
  assert.ok(verifies(firstSecret, toRotated) && verifies(secondSecret, toRotated), 'both overlapping secrets sign');
  assert.ok(verifies(legacySecret, toLegacy), 'the secret of before still signs');
  assert.ok(!verifies(firstSecret, toLegacy));
});
