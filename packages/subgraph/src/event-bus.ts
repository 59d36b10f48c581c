import { ConfigError } from '@saldo/config';
import { InProcessEventBus, KafkaEventBus, type EventBus } from '@saldo/events';
import { breakerSettings } from '@saldo/resilience';
import type { Logger } from '@saldo/service';
import type { SubgraphConfig } from './config.js';

/**
 * The event bus a standalone subgraph uses, chosen by configuration: `EVENT_BUS=memory` (default) is the
 * in-process bus, `EVENT_BUS=kafka` publishes to and consumes from `KAFKA_BROKERS`. The caller owns the bus
 * and closes it after the service stopped. The embedded stack shares one in-process bus and does not use this.
 * `name` (the subgraph's) makes the default Kafka client id, `saldo-<name>`.
 */
export function createEventBus(config: SubgraphConfig, logger: Logger, name?: string): EventBus {
  const events = logger.child('events');
  if (config.EVENT_BUS === 'memory') return new InProcessEventBus(events);
  const brokers = config.KAFKA_BROKERS ?? [];
  // Checked here rather than as a refinement of subgraphConfigSchema: a refined zod object can no longer be
  // extended with overriding keys, which each subgraph's config schema may need.
  if (brokers.length === 0) throw new ConfigError(name ?? 'subgraph', ['KAFKA_BROKERS: required when EVENT_BUS=kafka (comma-separated host:port)']);
  return new KafkaEventBus({
    brokers,
    clientId: config.KAFKA_CLIENT_ID ?? (name ? `saldo-${name}` : 'saldo'),
    idempotent: config.KAFKA_IDEMPOTENT,
    logger: events,
    breaker: { ...breakerSettings(config, 'KAFKA'), publishTimeoutMs: config.KAFKA_PUBLISH_TIMEOUT_MS },
  });
}
