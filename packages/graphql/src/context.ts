import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import { ErrorCode, SaldoError } from './errors.js';

/**
 * Who is asking. Every resolver and every __resolveReference reads it through `RequestContext`,
 * and every scope decision goes through `assertTenantAccess`/`assertPartnerAccess` below.
 * Verification of tokens and API keys plugs in at `createRequestContext` (identity issue);
 * until it does, requests carry the platform-operator identity of the embedded/dev deployment.
 */
export type Identity =
  | { role: 'platform-admin'; subject: string }
  | { role: 'partner'; subject: string; partnerId: string }
  | { role: 'tenant-admin' | 'tenant-member'; subject: string; tenantId: string; partnerId?: string };

export const PLATFORM_OPERATOR: Identity = { role: 'platform-admin', subject: 'platform-operator' };

export type Loader<K, V> = DataLoader<K, V, K>;

export interface RequestContext {
  readonly requestId: string;
  readonly identity: Identity;
  /** Per-request DataLoaders, created on first use; they batch entity fetches and die with the request. */
  loader<K, V>(name: string, batch: DataLoader.BatchLoadFn<K, V>, options?: DataLoader.Options<K, V, K>): DataLoader<K, V, K>;
}

export function createRequestContext(identity: Identity, requestId: string = randomUUID()): RequestContext {
  const loaders = new Map<string, DataLoader<unknown, unknown, unknown>>();
  return {
    requestId,
    identity,
    loader<K, V>(name: string, batch: DataLoader.BatchLoadFn<K, V>, options?: DataLoader.Options<K, V, K>) {
      let loader = loaders.get(name) as DataLoader<K, V, K> | undefined;
      if (!loader) {
        loader = new DataLoader<K, V, K>(batch, options);
        loaders.set(name, loader as DataLoader<unknown, unknown, unknown>);
      }
      return loader;
    },
  };
}

/** True when the identity may read the tenant; `partnerId` is the tenant's partner, if any. */
export function canAccessTenant(identity: Identity, tenantId: string, partnerId: string | null): boolean {
  switch (identity.role) {
    case 'platform-admin':
      return true;
    case 'partner':
      return partnerId !== null && partnerId === identity.partnerId;
    case 'tenant-admin':
    case 'tenant-member':
      return identity.tenantId === tenantId;
  }
}

export function assertPlatformAdmin(identity: Identity): void {
  if (identity.role !== 'platform-admin') throw new SaldoError(ErrorCode.Forbidden, 'This operation needs a platform operator.');
}
