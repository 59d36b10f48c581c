export {
  Topic,
  TenantCreated,
  TenantUpdated,
  decode,
  defineEvent,
  envelopeSchema,
  type EventContract,
  type EventEnvelope,
  type PayloadOf,
} from './contracts.js';
export { OutboxEvent, Migration20261123000100Outbox, enqueueEvent } from './outbox.js';
export { InProcessEventBus, type EventBus, type EventHandler } from './bus.js';
export { OutboxRelay, type OutboxRelayOptions, type OutboxSource } from './relay.js';
