import { z } from 'zod';

/** Topics are part of the public contract of the event backbone (Kafka in the full stack). */
export const Topic = {
  TenantEvents: 'tenant-events',
  UsageEvents: 'usage-events',
  TransactionEvents: 'transaction-events',
  BalanceEvents: 'balance-events',
} as const;
export type Topic = (typeof Topic)[keyof typeof Topic];

/** A typed, versioned event: consumers validate the payload against the schema of its (type, version). */
export interface EventContract<T extends string, P extends z.ZodType> {
  readonly type: T;
  readonly version: number;
  readonly topic: Topic;
  readonly payload: P;
}

export function defineEvent<T extends string, P extends z.ZodType>(contract: EventContract<T, P>): EventContract<T, P> {
  return contract;
}

/** What travels on the bus: keyed by tenant id so one tenant's events stay in order. */
export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  version: z.number().int().positive(),
  topic: z.string().min(1),
  key: z.string().min(1),
  occurredAt: z.iso.datetime(),
  payload: z.unknown(),
});
export type EventEnvelope = z.infer<typeof envelopeSchema>;

export type PayloadOf<C> = C extends EventContract<string, infer P> ? z.output<P> : never;

/** Narrows and validates an envelope against a contract; returns undefined for other event types. */
export function decode<C extends EventContract<string, z.ZodType>>(contract: C, envelope: EventEnvelope): PayloadOf<C> | undefined {
  if (envelope.type !== contract.type || envelope.version !== contract.version) return undefined;
  return contract.payload.parse(envelope.payload) as PayloadOf<C>;
}

// ---- Contracts ------------------------------------------------------------------------------------

export const TenantCreated = defineEvent({
  type: 'tenant.created',
  version: 1,
  topic: Topic.TenantEvents,
  payload: z.object({
    tenantId: z.uuid(),
    partnerId: z.uuid().nullable(),
    name: z.string(),
    currency: z.string().length(3),
    country: z.string().length(2),
    status: z.string(),
  }),
});

export const TenantUpdated = defineEvent({
  type: 'tenant.updated',
  version: 1,
  topic: Topic.TenantEvents,
  payload: z.object({
    tenantId: z.uuid(),
    partnerId: z.uuid().nullable(),
    name: z.string(),
    status: z.string(),
  }),
});
