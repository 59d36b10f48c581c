import DataLoader from 'dataloader';
import { ErrorCode, SaldoError } from './errors.js';
import type { Identity } from './context.js';

/** What a caller wants to do with a tenant. */
export type TenantAction = 'read' | 'write' | 'pay';

/**
 * Who may do what (the one place these rules live):
 * - platform admin: everything;
 * - partner: read and write its own tenants (not their payments), its own branding and domains;
 * - tenant admin: read and write its tenant, including payments;
 * - tenant member: read its tenant.
 */
const TENANT_ROLE_ACTIONS: Record<'tenant-admin' | 'tenant-member', ReadonlySet<TenantAction>> = {
  'tenant-admin': new Set(['read', 'write', 'pay']),
  'tenant-member': new Set(['read']),
};
const PARTNER_ACTIONS: ReadonlySet<TenantAction> = new Set(['read', 'write']);

/** tenant id -> its partner id (null: a direct customer); tenants this subgraph does not know are absent. */
export type PartnerLookup = (tenantIds: readonly string[]) => Promise<Map<string, string | null>>;

/**
 * Tenant scope for one request. Every resolver and every __resolveReference asks it before touching a tenant,
 * so a request that reaches a subgraph directly gets nothing its identity does not allow. Partner checks need
 * the tenant's partner; lookups are batched per request.
 */
export class Scope {
  private readonly partners: DataLoader<string, string | null | undefined>;

  constructor(
    readonly identity: Identity,
    lookupPartners: PartnerLookup,
  ) {
    this.partners = new DataLoader(async (ids) => {
      const found = await lookupPartners(ids);
      return ids.map((id) => (found.has(id) ? found.get(id) : undefined));
    });
  }

  get isPlatformAdmin(): boolean {
    return this.identity.role === 'platform-admin';
  }

  /** Throws UNAUTHENTICATED without an identity. */
  requireAuthenticated(): void {
    if (this.identity.role === 'anonymous') throw new SaldoError(ErrorCode.Unauthenticated, 'Authentication is required.');
  }

  requirePlatformAdmin(): void {
    this.requireAuthenticated();
    if (!this.isPlatformAdmin) throw new SaldoError(ErrorCode.Forbidden, 'This operation needs a platform operator.');
  }

  /** The partner whose custom domain the request came through; it narrows everything this scope allows. */
  get hostPartnerId(): string | undefined {
    return this.identity.hostPartnerId;
  }

  /** Platform admin or the partner itself; through a custom domain, only for that domain's partner. */
  mayActForPartner(partnerId: string): boolean {
    if (this.hostPartnerId !== undefined && this.hostPartnerId !== partnerId) return false;
    return this.isPlatformAdmin || (this.identity.role === 'partner' && this.identity.partnerId === partnerId);
  }

  /** Platform admin, or the partner itself. */
  requirePartner(partnerId: string): void {
    this.requireAuthenticated();
    if (this.mayActForPartner(partnerId)) return;
    throw new SaldoError(ErrorCode.Forbidden, 'You may not act for this partner.');
  }

  /** True when the identity may perform `action` on the tenant. Never throws for scope reasons. */
  async allows(tenantId: string, action: TenantAction): Promise<boolean> {
    if (!(await this.allowsByRole(tenantId, action))) return false;
    // Through a partner's custom domain only that partner's tenants exist.
    if (this.hostPartnerId === undefined) return true;
    return (await this.partners.load(tenantId)) === this.hostPartnerId;
  }

  private async allowsByRole(tenantId: string, action: TenantAction): Promise<boolean> {
    const identity = this.identity;
    switch (identity.role) {
      case 'anonymous':
        return false;
      case 'platform-admin':
        return true;
      case 'tenant-admin':
      case 'tenant-member':
        return identity.tenantId === tenantId && TENANT_ROLE_ACTIONS[identity.role].has(action);
      case 'partner': {
        if (!PARTNER_ACTIONS.has(action)) return false;
        const partnerId = await this.partners.load(tenantId);
        return partnerId !== undefined && partnerId !== null && partnerId === identity.partnerId;
      }
    }
  }

  /**
   * Throws UNAUTHENTICATED or FORBIDDEN unless allowed. The message is the same whether or not the tenant
   * exists, so a refusal reveals nothing about other tenants.
   */
  async requireTenant(tenantId: string, action: TenantAction): Promise<void> {
    this.requireAuthenticated();
    if (!(await this.allows(tenantId, action))) throw new SaldoError(ErrorCode.Forbidden, 'You may not access this tenant.');
  }

  /** Keeps the items whose tenant the identity may `action` (lists, entity batches). */
  async filter<T>(items: readonly T[], tenantIdOf: (item: T) => string, action: TenantAction = 'read'): Promise<T[]> {
    const allowed = await Promise.all(items.map((item) => this.allows(tenantIdOf(item), action)));
    return items.filter((_item, index) => allowed[index]);
  }
}
