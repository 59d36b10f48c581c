import { OptionalProps } from '@mikro-orm/core';
import { Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** What became of a Stripe webhook event. */
export enum StripeEventStatus {
  /** Verified and recorded; processing has not finished (or failed and Stripe will retry). */
  RECEIVED = 'RECEIVED',
  /** Acted upon (credited, refunded, marked); a redelivery is acknowledged without work. */
  PROCESSED = 'PROCESSED',
  /** Not for us: an event type billing does not handle, or a payment without a Saldo tenant. */
  IGNORED = 'IGNORED',
  /** Names a tenant billing holds no account for: acknowledged (retrying cannot help), logged for an operator. */
  TENANT_UNKNOWN = 'TENANT_UNKNOWN',
}

/**
 * Every verified Stripe webhook event, once (its id is the key), in billing's control database: Stripe events belong
 * to the platform's Stripe account, not to one tenant, and events naming no (known) tenant must be recorded too. It is
 * the audit trail and a fast path for redeliveries; exactly-once crediting does not depend on it (the ledger's
 * `stripe:pi:<payment intent>` key does that, in the posting's own transaction).
 */
@Entity({ tableName: 'stripe_event' })
@Index({ properties: ['tenantId'] })
export class StripeEvent {
  [OptionalProps]?: 'tenantId' | 'objectId' | 'result' | 'error' | 'processedAt' | 'deliveries';

  /** evt_... */
  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'text' })
  type!: string;

  @Property({ type: 'boolean' })
  livemode!: boolean;

  @Enum({ items: () => StripeEventStatus, type: 'text' })
  status!: StripeEventStatus;

  @Property({ type: 'uuid', nullable: true })
  tenantId: string | null = null;

  /** The id of the event's object (cs_..., pi_..., ch_...). */
  @Property({ type: 'text', nullable: true })
  objectId: string | null = null;

  /** What processing did (ledger entry ids, duplicates, the reason for ignoring). */
  @Property({ type: 'jsonb', nullable: true })
  result: Record<string, unknown> | null = null;

  /** The last processing failure (Stripe retries the delivery). */
  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  /** How many verified deliveries of this event arrived. */
  @Property({ type: 'integer', default: 1 })
  deliveries: number = 1;

  /** The event's `created`. */
  @Property({ type: 'timestamptz' })
  stripeCreatedAt!: Date;

  @Property({ type: 'timestamptz' })
  receivedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  processedAt: Date | null = null;
}
