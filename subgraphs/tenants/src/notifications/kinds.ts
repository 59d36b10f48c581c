import {
  AnomalyDetected,
  AutoTopUpFailed,
  AutoTopUpSucceeded,
  BalanceDepleted,
  BalanceLow,
  DocumentIssued,
  DepletionSoon,
  FraudCaseOpened,
  type EventContract,
  type EventEnvelope,
} from '@saldo/events';
import type { z } from 'zod';

/** Who sees a notification: the tenant's users, platform operators, or a partner (its own endpoints' health). */
export type Audience = 'TENANT' | 'OPERATOR' | 'PARTNER';

/** Told when the notifier disables an endpoint after persistent failure (produced here, not consumed from the bus). */
export const ENDPOINT_DISABLED_KIND = 'webhook_endpoint.disabled';

interface KindDefinition {
  contract: EventContract<string, z.ZodType>;
  audience: Audience;
}

/** Every event the notifier turns into notifications, by event type (the kind's name is the event type). */
const CONSUMED: Record<string, KindDefinition> = {
  [BalanceLow.type]: { contract: BalanceLow, audience: 'TENANT' },
  [BalanceDepleted.type]: { contract: BalanceDepleted, audience: 'TENANT' },
  [AutoTopUpFailed.type]: { contract: AutoTopUpFailed, audience: 'TENANT' },
  [AutoTopUpSucceeded.type]: { contract: AutoTopUpSucceeded, audience: 'TENANT' },
  [DocumentIssued.type]: { contract: DocumentIssued, audience: 'TENANT' },
  [DepletionSoon.type]: { contract: DepletionSoon, audience: 'TENANT' },
  [AnomalyDetected.type]: { contract: AnomalyDetected, audience: 'TENANT' },
  [FraudCaseOpened.type]: { contract: FraudCaseOpened, audience: 'OPERATOR' },
};

/** Topics the notifier consumes (those of the contracts above). */
export const CONSUMED_TOPICS = [...new Set(Object.values(CONSUMED).map((kind) => kind.contract.topic))];

/** Event types a webhook endpoint may subscribe to: what tenants are told, versioned in the payload. */
export const WEBHOOK_EVENT_TYPES: readonly string[] = Object.entries(CONSUMED)
  .filter(([, kind]) => kind.audience === 'TENANT')
  .map(([type]) => type);

/** Kinds a tenant chooses channels for (email, live): the webhook event types plus endpoint health. */
export const TENANT_KINDS: readonly string[] = [...WEBHOOK_EVENT_TYPES, ENDPOINT_DISABLED_KIND];

/** A consumed event, validated against its contract. */
export interface NotifiableEvent {
  eventId: string;
  tenantId: string;
  kind: string;
  version: number;
  audience: Audience;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** The event as a notification source, or undefined for events the notifier does not handle (other types, versions). */
export function notifiable(envelope: EventEnvelope): NotifiableEvent | undefined {
  const kind = CONSUMED[envelope.type];
  if (!kind || kind.contract.version !== envelope.version) return undefined;
  const data = kind.contract.payload.parse(envelope.payload) as Record<string, unknown> & { tenantId: string };
  return {
    eventId: envelope.id,
    tenantId: data.tenantId,
    kind: envelope.type,
    version: envelope.version,
    audience: kind.audience,
    occurredAt: new Date(envelope.occurredAt),
    data,
  };
}
