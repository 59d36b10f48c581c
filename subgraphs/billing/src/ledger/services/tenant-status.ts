import { TenantCreated, TenantUpdated, Topic, decode, type EventBus, type Unsubscribe } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';

/** Consumer group keeping billing's copy of each tenant's lifecycle status (the tenants subgraph owns it). */
export const TENANT_STATUS_GROUP = 'billing.tenant-status';

/** The one status under which usage is charged; any other (SUSPENDED today) refuses it with TENANT_SUSPENDED. */
export const ACTIVE_TENANT_STATUS = 'ACTIVE';

/**
 * Keeps `tenant_status` in step with `tenant.created` / `tenant.updated`: postings that charge usage read it with the
 * account row lock they take anyway (LedgerService, `refuseUnlessActive`), so a suspension and a posting serialize and
 * the check costs no round trip. Ordered by the event's own time: a redelivered or late event never overwrites a newer
 * status. Independent of the account row (its own table), so a status that arrives before the account is kept.
 */
export function subscribeTenantStatus(bus: EventBus, db: ShardedDatabase, logger: Logger): Unsubscribe {
  return bus.subscribe(Topic.TenantEvents, TENANT_STATUS_GROUP, async (event) => {
    const tenant = decode(TenantCreated, event) ?? decode(TenantUpdated, event);
    if (!tenant) return;
    await db.forTenant(
      tenant.tenantId,
      (em) =>
        em.execute(
          `insert into tenant_status (tenant_id, status, changed_at) values (?, ?, ?)
           on conflict (tenant_id) do update set status = excluded.status, changed_at = excluded.changed_at
            where tenant_status.changed_at <= excluded.changed_at`,
          [tenant.tenantId, tenant.status, new Date(event.occurredAt)],
          'run',
        ),
      { place: true, partnerId: tenant.partnerId },
    );
    logger.debug('tenant status', { tenant: tenant.tenantId, status: tenant.status });
  });
}
