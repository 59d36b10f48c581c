import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import { Scope, type PartnerLookup } from './scope.js';

/**
 * Who is asking, as verified at the edge. Every resolver and every __resolveReference reads it through
 * `RequestContext`, and every scope decision goes through `ctx.scope` (scope.ts).
 */
export type Identity = (
  | { role: 'anonymous' }
  | { role: 'platform-admin'; subject: string }
  | { role: 'partner'; subject: string; partnerId: string }
  | { role: 'tenant-admin' | 'tenant-member'; subject: string; tenantId: string; partnerId?: string }
) & {
  /**
   * Set when the request came through a partner's custom domain (the gateway maps the Host header): whoever the caller
   * is, it sees that partner's world only (its branding, its tenants).
   */
  hostPartnerId?: string;
  /**
   * With hostPartnerId: the custom domain's hostname itself (lower case, no port), as the gateway matched it against the
   * partner's served domains. Billing sends Checkout payers back to it (never to a hostname a client names).
   */
  hostName?: string;
  /**
   * Who vouched for the identity at the gateway: the portal token's `iss`, or `saldo-api-keys` for partner API keys.
   * Keeps rate-limit budgets of different issuers apart; not forwarded to subgraphs.
   */
  issuer?: string;
};

export const PLATFORM_OPERATOR: Identity = { role: 'platform-admin', subject: 'platform-operator' };

export type Loader<K, V> = DataLoader<K, V, K>;

export const ANONYMOUS: Identity = { role: 'anonymous' };

export interface RequestContext {
  readonly requestId: string;
  readonly identity: Identity;
  /** Tenant scope checks for this request's identity. */
  readonly scope: Scope;
  /** Per-request DataLoaders, created on first use; they batch entity fetches and die with the request. */
  loader<K, V>(name: string, batch: DataLoader.BatchLoadFn<K, V>, options?: DataLoader.Options<K, V, K>): DataLoader<K, V, K>;
}

/**
 * `cacheLoaders: false` is for contexts that outlive one result (a subscription's context serves every event): its
 * loaders still batch the loads of one tick but remember nothing, so each event reads current data.
 */
export function createRequestContext(
  identity: Identity,
  lookupPartners: PartnerLookup,
  requestId: string = randomUUID(),
  options: { cacheLoaders?: boolean } = {},
): RequestContext {
  const loaders = new Map<string, DataLoader<unknown, unknown, unknown>>();
  const cache = options.cacheLoaders ?? true;
  return {
    requestId,
    identity,
    scope: new Scope(identity, lookupPartners),
    loader<K, V>(name: string, batch: DataLoader.BatchLoadFn<K, V>, options?: DataLoader.Options<K, V, K>) {
      let loader = loaders.get(name) as DataLoader<K, V, K> | undefined;
      if (!loader) {
        loader = new DataLoader<K, V, K>(batch, cache ? options : { ...options, cache: false });
        loaders.set(name, loader as DataLoader<unknown, unknown, unknown>);
      }
      return loader;
    },
  };
}
