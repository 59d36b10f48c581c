import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { NotificationCreated, OUTBOX_INSERT, outboxRow } from '@saldo/events';
import type { Audience } from './kinds.js';
import type { Channel } from './delivery/store.js';
import { renderNotification, type Language } from './templates.js';

/** A delivery to create with its notification. */
export interface PlannedDelivery {
  channel: Channel;
  /** `email`, or the endpoint id: one delivery per notification, channel and target. */
  target: string;
  endpointId: string | null;
  recipients: string[] | null;
  /** Deliveries of one lane go out in order, one at a time (see delivery/store.ts). */
  lane: string;
}

export interface PlannedNotification {
  tenantId: string | null;
  partnerId: string | null;
  eventId: string;
  kind: string;
  version: number;
  audience: Audience;
  language: Language;
  data: Record<string, unknown>;
  occurredAt: Date;
  /** Announced on the live feed (notification-feed). */
  live: boolean;
  deliveries: PlannedDelivery[];
}

export interface WriteResult {
  /** Event ids whose notification this call created (the others existed: a redelivered event). */
  fresh: Set<string>;
  /** Deliveries waiting to go out, new ones and those of redelivered events still open: for the dispatcher. */
  open: Array<{ id: string; lane: string }>;
}

export function webhookLane(endpointId: string, tenantId: string | null, partnerId: string | null): string {
  return `wh:${endpointId}:${tenantId ?? `partner-${partnerId}`}`;
}

export function mailLane(owner: string): string {
  return `mail:${owner}`;
}

/**
 * Records notifications and their deliveries, in the caller's transaction: exactly one notification per event
 * (unique event id) and one delivery per notification, channel and target, however often an event is delivered.
 * Two statements for any number of notifications: the notifications, then deliveries plus live-feed events.
 */
export async function writeNotifications(tx: EntityManager, planned: readonly PlannedNotification[]): Promise<WriteResult> {
  if (planned.length === 0) return { fresh: new Set(), open: [] };
  const now = new Date();
  const rows = planned.map((notification) => {
    const text = renderNotification(notification.kind, notification.language, notification.data);
    return { notification, id: uuidv7(), title: text.title, body: text.body };
  });
  const inserted = await tx.execute<{ id: string; event_id: string }[]>(
    `insert into notification (id, tenant_id, partner_id, event_id, kind, event_version, audience, language, title, body, data, occurred_at, created_at)
     select r.id, r.tenant_id, r.partner_id, r.event_id, r.kind, r.event_version, r.audience, r.language, r.title, r.body, r.data, r.occurred_at, ?
       from jsonb_to_recordset(?::jsonb) as r(id uuid, tenant_id uuid, partner_id uuid, event_id uuid, kind text, event_version integer, audience text,
                                              language text, title text, body text, data jsonb, occurred_at timestamptz)
     on conflict (event_id) do nothing
     returning id, event_id`,
    [
      now,
      JSON.stringify(
        rows.map(({ notification, id, title, body }) => ({
          id,
          tenant_id: notification.tenantId,
          partner_id: notification.partnerId,
          event_id: notification.eventId,
          kind: notification.kind,
          event_version: notification.version,
          audience: notification.audience,
          language: notification.language,
          title,
          body,
          data: notification.data,
          occurred_at: notification.occurredAt.toISOString(),
        })),
      ),
    ],
  );
  const fresh = new Set(inserted.map((row) => row.event_id));
  const created = rows.filter((row) => fresh.has(row.notification.eventId));
  const deliveries = created.flatMap(({ notification, id }) =>
    notification.deliveries.map((delivery) => ({
      id: uuidv7(),
      notification_id: id,
      tenant_id: notification.tenantId,
      channel: delivery.channel,
      target: delivery.target,
      endpoint_id: delivery.endpointId,
      recipients: delivery.recipients,
      lane: delivery.lane,
    })),
  );
  const events = created
    .filter(({ notification }) => notification.live && notification.tenantId !== null)
    .map(({ notification, id, title, body }) =>
      outboxRow(
        NotificationCreated,
        notification.tenantId!,
        {
          notificationId: id,
          tenantId: notification.tenantId!,
          kind: notification.kind,
          audience: notification.audience === 'OPERATOR' ? 'OPERATOR' : 'TENANT',
          title,
          body,
          data: notification.data,
          eventId: notification.eventId,
          createdAt: now.toISOString(),
        },
        now,
      ),
    );
  // Events delivered before: their notification exists, and so do its deliveries (written with it); any still open
  // are handed to the dispatcher again (a crash may have come between commit and dispatch).
  const repeated = planned.filter((notification) => !fresh.has(notification.eventId)).map((notification) => notification.eventId);
  const open = await tx.execute<{ id: string; lane: string }[]>(
    `with new_deliveries as (
       insert into notification_delivery (id, notification_id, tenant_id, channel, target, endpoint_id, recipients, lane, status, next_attempt_at, created_at)
       select d.id, d.notification_id, d.tenant_id, d.channel, d.target, d.endpoint_id, d.recipients, d.lane, 'PENDING', ?, ?
         from jsonb_to_recordset(?::jsonb) as d(id uuid, notification_id uuid, tenant_id uuid, channel text, target text, endpoint_id uuid, recipients jsonb, lane text)
       returning id, lane
     ),
     events as (${OUTBOX_INSERT} returning 1)
     select id, lane from new_deliveries
     union all
     select d.id, d.lane from notification_delivery d join notification n on n.id = d.notification_id
      where n.event_id = any(?::uuid[]) and d.status in ('PENDING', 'SENDING')`,
    [now, now, JSON.stringify(deliveries), JSON.stringify(events), `{${repeated.join(',')}}`],
  );
  return { fresh, open };
}
