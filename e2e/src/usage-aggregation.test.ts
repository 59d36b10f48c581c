import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Topic, type EventEnvelope } from '@saldo/events';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { startTestStack, type TestStack } from './test-stack.js';

const USAGE = `query($id: ID!) { tenant(id: $id) { usage(days: 1) { date quantity } } }`;

describe('charged usage feeds the daily aggregates', () => {
  let stack: TestStack;
  let tenantId: string;

  before(async () => {
    stack = await startTestStack('aggregation');
    await stack.billing.services.rates.publish({ product: 'sms', currency: 'EUR', unitPriceMinor: '9', validFrom: new Date(Date.now() - 86_400_000) });
    const created = await stack.gql(`mutation { createTenant(input: { name: "Aggregated", currency: "EUR", country: "DE" }) { id } }`);
    tenantId = created.data?.createTenant.id;
    await stack.flushEvents();
  });

  after(async () => {
    await stack?.destroy();
  });

  it('shows usage recorded through the gateway in Tenant.usage, counted once even when the event is delivered again', async () => {
    const recorded: EventEnvelope[] = [];
    const unsubscribe = stack.bus.subscribe(Topic.UsageEvents, 'test.capture', async (event) => {
      if (event.type === 'usage.recorded') recorded.push(event);
    });
    const occurredAt = new Date().toISOString();
    await stack.billing.services.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 1_000n, idempotencyKey: 'test:top-up' }] });
    const allowed = await stack.gql(`mutation($input: RecordUsageInput!) { recordUsage(input: $input) { accepted } }`, {
      input: {
        tenantId,
        events: [
          { id: 'sms-1', product: 'sms', quantity: 3, occurredAt },
          { id: 'sms-2', product: 'sms', quantity: 2, occurredAt },
        ],
      },
    });
    assert.equal(allowed.errors, undefined, JSON.stringify(allowed.errors));
    await stack.flushEvents();
    const usage = await stack.gql(USAGE, { id: tenantId });
    assert.deepEqual(usage.data?.tenant.usage, [{ date: occurredAt.slice(0, 10), quantity: 5 }]);

    // At-least-once delivery: the same event again changes nothing.
    await unsubscribe();
    assert.equal(recorded.length, 1);
    await stack.bus.publish([...recorded]);
    const again = await stack.gql(USAGE, { id: tenantId });
    assert.deepEqual(again.data?.tenant.usage, [{ date: occurredAt.slice(0, 10), quantity: 5 }]);
  });
});
