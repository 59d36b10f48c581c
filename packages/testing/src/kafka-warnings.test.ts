// Test output without noise: kafkajs 2.2.4 scheduled its request-queue check with a negative delay (-Date.now()) on
// every broker connection, which Node 24 reports as a TimeoutNegativeWarning (kafkajs#1751). patches/kafkajs@2.2.4.patch
// clamps that delay at its source; this test connects, produces and consumes against the mock cluster and fails on
// any TimeoutNegativeWarning (warnings are not switched off).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { KafkaEventBus, Topic, type EventEnvelope } from '@saldo/events';
import { createLogger } from '@saldo/service';
import { startKafkaMockCluster, type KafkaMockCluster } from './kafka-mock.js';
import { waitUntil } from './wait.js';

const warnings: Error[] = [];
process.on('warning', (warning) => warnings.push(warning));
const quiet = createLogger({ service: 'test', level: 'error', write: () => undefined });
let cluster: KafkaMockCluster | undefined;
const buses: KafkaEventBus[] = [];
after(async () => {
  for (const bus of buses) await bus.close();
  await cluster?.stop();
});

test('kafkajs connects, produces and consumes on this Node without a TimeoutNegativeWarning', async () => {
  cluster = await startKafkaMockCluster();
  const options = { brokers: cluster.brokers, clientId: 'saldo-warnings', logger: quiet, idempotent: false, maxWaitTimeMs: 100, sessionTimeoutMs: 4_000 };
  const producer = new KafkaEventBus(options);
  const consumer = new KafkaEventBus(options);
  buses.push(producer, consumer);
  const received: EventEnvelope[] = [];
  consumer.subscribe(Topic.TenantEvents, 'warnings-check', async (event) => {
    received.push(event);
  });
  const event: EventEnvelope = {
    id: randomUUID(),
    type: 'test.warnings',
    version: 1,
    topic: Topic.TenantEvents,
    key: randomUUID(),
    occurredAt: new Date().toISOString(),
    payload: {},
  };
  await producer.publish([event]);
  await waitUntil(() => received.some((got) => got.id === event.id), 'the event consumed', { timeoutMs: 60_000 });
  // Warnings are emitted on the next tick; one more turn of the event loop lets any pending one arrive.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    warnings.filter((warning) => warning.name === 'TimeoutNegativeWarning').map((warning) => warning.message),
    [],
  );
  // Nothing hides warnings wholesale: the test runs with warnings on.
  assert.equal(
    process.execArgv.some((arg) => arg === '--no-warnings' || arg.startsWith('--disable-warning')),
    false,
  );
});

// kafkajs re-armed that same check on every run, pending requests or not, so each connection spun a 1 ms timer for as
// long as it lived (most of an idle subgraph's CPU). The patch schedules it only while requests wait: connected and idle
// (the consumer above long-polling, the producer done), the request queues set next to no timers.
test('idle kafkajs connections do not spin a request-queue timer', async () => {
  assert.ok(cluster, 'runs after the produce-and-consume test');
  const original = globalThis.setTimeout;
  let requestQueueTimers = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    if (new Error().stack?.includes('requestQueue')) requestQueueTimers += 1;
    return original(...args);
  }) as typeof setTimeout;
  try {
    // A measuring window, not a wait for a condition: unpatched, every connection set about a thousand such timers in it.
    await new Promise((resolve) => original(resolve, 1_000));
  } finally {
    globalThis.setTimeout = original;
  }
  assert.ok(requestQueueTimers < 20, `request-queue timers set in 1 s of idling: ${requestQueueTimers}`);
});
