import { TenantCreated, Topic, decode, type Unsubscribe } from '@saldo/events';
import type { SubgraphRuntime } from './service.js';

/**
 * Every subgraph learns each new tenant from `tenant.created`: it places the tenant on one of its shards and
 * records the tenant's partner, which partner scope checks need. Idempotent, so replays change nothing.
 */
export function subscribeTenantRegistry(subgraph: string, runtime: SubgraphRuntime): Unsubscribe {
  return runtime.bus.subscribe(Topic.TenantEvents, `${subgraph}.tenant-registry`, async (event) => {
    const created = decode(TenantCreated, event);
    if (!created) return;
    await runtime.db.directory.place(created.tenantId, created.partnerId);
  });
}
