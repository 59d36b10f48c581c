// Which event bus a standalone subgraph gets from its configuration (EVENT_BUS, KAFKA_BROKERS, KAFKA_CLIENT_ID).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '@saldo/config';
import { InProcessEventBus, KafkaEventBus } from '@saldo/events';
import { createEventBus, subgraphConfigSchema, type SubgraphConfig } from '@saldo/subgraph';
import { testLogger } from '@saldo/testing';

const logger = testLogger();

describe('event bus selection (EVENT_BUS)', () => {
  const busSettings = subgraphConfigSchema.pick({ EVENT_BUS: true, KAFKA_BROKERS: true, KAFKA_CLIENT_ID: true });
  const configFor = (env: Record<string, string>) => ({ ...({} as SubgraphConfig), ...busSettings.parse(env) });

  test('memory by default; kafka with KAFKA_BROKERS; kafka without brokers is a configuration error', async () => {
    assert.deepEqual(busSettings.parse({}), { EVENT_BUS: 'memory' });
    assert.deepEqual(busSettings.parse({ EVENT_BUS: 'kafka', KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092', KAFKA_CLIENT_ID: 'billing-1' }), {
      EVENT_BUS: 'kafka',
      KAFKA_BROKERS: ['kafka-1:9092', 'kafka-2:9092'],
      KAFKA_CLIENT_ID: 'billing-1',
    });
    assert.equal(busSettings.safeParse({ KAFKA_BROKERS: 'kafka-1' }).success, false, 'brokers are host:port');
    assert.equal(busSettings.safeParse({ EVENT_BUS: 'rabbit' }).success, false);

    const memory = createEventBus(configFor({}), logger, 'billing');
    assert.ok(memory instanceof InProcessEventBus);
    const kafka = createEventBus(configFor({ EVENT_BUS: 'kafka', KAFKA_BROKERS: '127.0.0.1:9' }), logger, 'billing');
    assert.ok(kafka instanceof KafkaEventBus);
    await Promise.all([memory.close(), kafka.close()]);
    assert.throws(
      () => createEventBus(configFor({ EVENT_BUS: 'kafka' }), logger, 'billing'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /KAFKA_BROKERS: required when EVENT_BUS=kafka/);
        return true;
      },
    );
  });
});
