import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { KafkaEventBus, UsageReported, type EventEnvelope } from '@saldo/events';
import { createLogger } from '@saldo/service';
import { startKafkaMockCluster, startTestSubgraph, type KafkaMockCluster, type TestSubgraph } from '@saldo/testing';
import { loadBillingConfig } from '../config.js';
import { billingSubgraph, type BillingServices } from '../definition.js';
import { LedgerEntryType } from '../ledger/index.js';

const quiet = createLogger({ service: 'test', level: 'error', write: () => undefined });

function kafkaBus(brokers: string[], clientId: string): KafkaEventBus {
  // The mock cluster cannot hand out idempotent producer ids to kafkajs (see KafkaEventBusOptions.idempotent).
  return new KafkaEventBus({
    brokers,
    clientId,
    logger: quiet,
    idempotent: false,
    maxWaitTimeMs: 100,
    retry: { initialRetryTime: 50, maxRetryTime: 500, retries: 5 },
  });
}

function reported(tenantId: string, events: Array<{ id: string; product: string; quantity: number }>): EventEnvelope {
  const occurredAt = new Date(Date.now() - 60_000).toISOString();
  return {
    id: randomUUID(),
    type: UsageReported.type,
    version: UsageReported.version,
    topic: UsageReported.topic,
    key: tenantId,
    occurredAt: new Date().toISOString(),
    payload: { tenantId, events: events.map((event) => ({ ...event, occurredAt })) },
  };
}

describe('usage reported on Kafka', () => {
  let cluster: KafkaMockCluster;
  let producer: KafkaEventBus;
  let subgraph: TestSubgraph<BillingServices>;
  let services: BillingServices;

  /** The next posting for `tenantId` that appended entries: its keys and the balance it left. */
  const nextPosting = (tenantId: string) =>
    new Promise<{ keys: string[]; balanceMinor: bigint }>((resolve) => {
      const remove = services.ledger.addPostingHook((_tx, outcome) => {
        if (outcome.tenantId !== tenantId) return;
        remove();
        resolve({ keys: outcome.posted.map((entry) => entry.idempotencyKey), balanceMinor: outcome.balance.available.amountMinor });
      });
    });

  before(async () => {
    cluster = await startKafkaMockCluster();
    producer = kafkaBus(cluster.brokers, 'metering-source');
    subgraph = await startTestSubgraph(billingSubgraph, loadBillingConfig, { label: 'ingest', bus: kafkaBus(cluster.brokers, 'billing') });
    services = subgraph.service.services;
    await services.rates.publish({ product: 'inbound_minute', currency: 'EUR', unitPriceMinor: '1.25', validFrom: new Date(Date.now() - 86_400_000) });
  });

  after(async () => {
    await subgraph?.destroy();
    await producer?.close();
    await cluster?.stop();
  });

  it('charges reported usage once per event id, however often it is delivered, after skipping an invalid report', async () => {
    const tenantId = randomUUID();
    await services.accounts.open(tenantId, 'EUR');
    await services.ledger.post({ tenantId, entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 10_000n, idempotencyKey: `test:${randomUUID()}` }] });

    const first = nextPosting(tenantId);
    // An invalid report (unknown product) is skipped, not retried forever: the valid one behind it still arrives.
    await producer.publish([reported(tenantId, [{ id: 'bad-1', product: 'teleportation', quantity: 1 }])]);
    await producer.publish([reported(tenantId, [{ id: 'call-1', product: 'inbound_minute', quantity: 4 }])]);
    assert.deepEqual((await first).keys, ['usage:call-1']);

    // The source re-sends call-1 with a new call: only call-2 is charged.
    const second = nextPosting(tenantId);
    await producer.publish([
      reported(tenantId, [
        { id: 'call-1', product: 'inbound_minute', quantity: 4 },
        { id: 'call-2', product: 'inbound_minute', quantity: 2 },
      ]),
    ]);
    const charged = await second;
    assert.deepEqual(charged.keys, ['usage:call-2']);
    // 10,000 - round(4 x 1.25) - round(2 x 1.25) = 10,000 - 5 - 3
    assert.equal(charged.balanceMinor, 9_992n);
  });
});
