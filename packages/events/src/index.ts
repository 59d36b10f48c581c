export {
  Topic,
  TenantCreated,
  TenantUpdated,
  PartnerSellerProfileChanged,
  BrandingChanged,
  sellerProfileSchema,
  TransactionPosted,
  BalanceChanged,
  UsageRecorded,
  UsageReported,
  AutoTopUpFailed,
  DocumentIssued,
  OverdraftPolicyChanged,
  AutoTopUpChanged,
  DepletionSoon,
  AnomalyDetected,
  ANOMALY_SEVERITIES,
  FraudCaseOpened,
  FraudCaseResolved,
  LEDGER_ENTRY_TYPES,
  decode,
  defineEvent,
  envelopeSchema,
  type EventContract,
  type EventEnvelope,
  type PayloadOf,
} from './contracts.js';
export {
  AutoTopUpSucceeded,
  BalanceAlertsConfigured,
  BalanceDepleted,
  BalanceLow,
  NotificationCreated,
  PLATFORM_BRANDING_VALUES,
} from './notification-contracts.js';
export {
  OutboxEvent,
  Migration20261123000100Outbox,
  Migration20261129120000OutboxTraceparent,
  Migration20261129160000OutboxTenantKey,
  Migration20261130010000OutboxPublishedAt,
  OUTBOX_INSERT,
  enqueueEvent,
  outboxRow,
  toEnvelope,
  type OutboxRow,
} from './outbox.js';
export {
  InProcessEventBus,
  DEFAULT_MAX_BATCH_SIZE,
  type BatchEventHandler,
  type BatchSubscribeOptions,
  type ConsumerLag,
  type EventBus,
  type EventHandler,
  type SubscribeOptions,
  type Unsubscribe,
} from './bus.js';
export { EventHeader, KafkaEventBus, type KafkaEventBusOptions } from './kafka-bus.js';
export {
  ConsumedEvent,
  Migration20261125000100ConsumedEvent,
  Migration20261129002000ConsumedEventTenant,
  Migration20261129160100ConsumedEventTenantKey,
  consumeOnce,
  consumeOnceMany,
  type ConsumedEventKey,
  type ConsumeResult,
} from './consume-once.js';
export { OutboxRelay, type OutboxRelayOptions, type OutboxSource } from './relay.js';
export { OUTBOX_RETENTION_BATCH_SIZE, deleteOutboxEventsPublishedBefore, type OutboxRetentionOptions } from './retention.js';
export { consumeInTrace, startPublishSpans } from './tracing.js';
