import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { NotificationCreated, Topic, decode, type EventBus, type EventEnvelope, type Unsubscribe } from '@saldo/events';
import { ErrorCode, SaldoError } from '@saldo/graphql';
import { BoundedStream } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';

/** A notification as the portal shows it (live and in the list). */
export interface NotificationView {
  id: string;
  tenantId: string;
  kind: string;
  audience: 'TENANT' | 'OPERATOR';
  title: string;
  body: string;
  data: Record<string, unknown>;
  eventId: string;
  createdAt: Date;
}

/**
 * Live notifications for `Subscription.notificationReceived`: consumes `notification.created` (notification-feed) in a
 * consumer group of its own per process starting at the latest offset (every instance must see every notification:
 * its subscribers may be any tenant's), and fans each out to this instance's streams of that tenant. Operator
 * notifications reach operators' streams only.
 */
export class NotificationFeed {
  readonly group = `tenants.notification-feed.${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly listeners = new Map<string, Set<(view: NotificationView) => void>>();
  private readonly seen = new Set<string>();

  constructor(private readonly bufferSize = 64) {}

  start(bus: EventBus): Unsubscribe {
    return bus.subscribe(Topic.NotificationFeed, this.group, async (event) => this.handle(event), { startAt: 'latest' });
  }

  handle(envelope: EventEnvelope): void {
    const created = decode(NotificationCreated, envelope);
    if (!created) return;
    // At-least-once bus: a notification already fanned out is not shown twice.
    if (this.seen.has(created.notificationId)) return;
    if (this.seen.size > 10_000) this.seen.clear();
    this.seen.add(created.notificationId);
    const view: NotificationView = {
      id: created.notificationId,
      tenantId: created.tenantId,
      kind: created.kind,
      audience: created.audience,
      title: created.title,
      body: created.body,
      data: created.data,
      eventId: created.eventId,
      createdAt: new Date(created.createdAt),
    };
    for (const listener of this.listeners.get(created.tenantId) ?? []) listener(view);
  }

  /** How many live streams of the tenant this instance serves (a subscriber sees notifications from when it counts). */
  subscribers(tenantId: string): number {
    return this.listeners.get(tenantId)?.size ?? 0;
  }

  /** The tenant's live notifications from now on; operator ones only when `operator` (the caller is a platform admin). */
  open(tenantId: string, operator: boolean): AsyncIterableIterator<NotificationView> {
    const listeners = this.listeners.get(tenantId) ?? new Set();
    const listener = (view: NotificationView) => {
      if (view.audience === 'OPERATOR' && !operator) return;
      stream.push(view);
    };
    const stream = new BoundedStream<NotificationView>(this.bufferSize, {
      onClose: () => {
        listeners.delete(listener);
        if (listeners.size === 0) this.listeners.delete(tenantId);
      },
    });
    listeners.add(listener);
    this.listeners.set(tenantId, listeners);
    return stream;
  }
}

/** A tenant's recorded notifications, newest first. */
export async function recentNotifications(db: ShardedDatabase, tenantId: string, first: number, operator: boolean): Promise<NotificationView[]> {
  const located = await db.emForTenant(tenantId);
  if (!located) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${tenantId}.`);
  const rows = await located.em.execute<
    {
      id: string;
      tenant_id: string;
      kind: string;
      audience: 'TENANT' | 'OPERATOR';
      title: string;
      body: string;
      data: Record<string, unknown>;
      event_id: string;
      created_at: Date | string;
    }[]
  >(
    `select id, tenant_id, kind, audience, title, body, data, event_id, created_at from notification
      where tenant_id = ? ${operator ? '' : "and audience = 'TENANT'"} order by created_at desc, id desc limit ?`,
    [tenantId, first],
  );
  return rows.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind,
    audience: row.audience,
    title: row.title,
    body: row.body,
    data: row.data,
    eventId: row.event_id,
    createdAt: new Date(row.created_at),
  }));
}
