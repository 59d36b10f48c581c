import { z } from 'zod';
import type { Identity } from '@saldo/graphql';

const uuid = z.uuid();

/** The identity as it travels inside tokens (portal JWTs and forwarded identity tokens). */
export const identityClaimsSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('anonymous') }),
  z.object({ role: z.literal('platform-admin'), sub: z.string().min(1) }),
  z.object({ role: z.literal('partner'), sub: z.string().min(1), partner_id: uuid }),
  z.object({ role: z.enum(['tenant-admin', 'tenant-member']), sub: z.string().min(1), tenant_id: uuid, partner_id: uuid.optional() }),
]);
/** The role's claims, and `host_partner_id` when the request came through a partner's custom domain. */
export type IdentityClaims = z.infer<typeof identityClaimsSchema> & { host_partner_id?: string; host_name?: string };

/** The claim naming the partner whose custom domain a request came through (Identity.hostPartnerId). */
const HOST_PARTNER_CLAIM = 'host_partner_id';
/** The claim naming that custom domain's hostname (Identity.hostName); only together with host_partner_id. */
const HOST_NAME_CLAIM = 'host_name';
/** A lower-case DNS hostname (what the gateway matched a Host header against). */
const hostname = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/);

export function identityToClaims(identity: Identity): IdentityClaims {
  const claims = roleClaims(identity);
  if (!identity.hostPartnerId) return claims;
  return { ...claims, [HOST_PARTNER_CLAIM]: identity.hostPartnerId, ...(identity.hostName ? { [HOST_NAME_CLAIM]: identity.hostName } : {}) };
}

function roleClaims(identity: Identity): IdentityClaims {
  switch (identity.role) {
    case 'anonymous':
      return { role: 'anonymous' };
    case 'platform-admin':
      return { role: 'platform-admin', sub: identity.subject };
    case 'partner':
      return { role: 'partner', sub: identity.subject, partner_id: identity.partnerId };
    case 'tenant-admin':
    case 'tenant-member':
      return { role: identity.role, sub: identity.subject, tenant_id: identity.tenantId, ...(identity.partnerId ? { partner_id: identity.partnerId } : {}) };
  }
}

/** Parses token claims into an Identity; undefined when they do not describe a valid one. */
export function claimsToIdentity(payload: unknown): Identity | undefined {
  const identity = roleIdentity(payload);
  if (!identity) return undefined;
  const host = (payload as Record<string, unknown>)[HOST_PARTNER_CLAIM];
  if (host === undefined) return identity;
  if (!uuid.safeParse(host).success) return undefined;
  const name = (payload as Record<string, unknown>)[HOST_NAME_CLAIM];
  if (name === undefined) return { ...identity, hostPartnerId: host as string };
  return hostname.safeParse(name).success ? { ...identity, hostPartnerId: host as string, hostName: name as string } : undefined;
}

function roleIdentity(payload: unknown): Identity | undefined {
  const parsed = identityClaimsSchema.safeParse(payload);
  if (!parsed.success) return undefined;
  const claims = parsed.data;
  switch (claims.role) {
    case 'anonymous':
      return { role: 'anonymous' };
    case 'platform-admin':
      return { role: 'platform-admin', subject: claims.sub };
    case 'partner':
      return { role: 'partner', subject: claims.sub, partnerId: claims.partner_id };
    case 'tenant-admin':
    case 'tenant-member':
      return { role: claims.role, subject: claims.sub, tenantId: claims.tenant_id, ...(claims.partner_id ? { partnerId: claims.partner_id } : {}) };
  }
}

/** A stable key per identity (caches, rate limits). */
export function identityKey(identity: Identity): string {
  const key = roleKey(identity);
  return identity.hostPartnerId ? `${key}@${identity.hostPartnerId}` : key;
}

function roleKey(identity: Identity): string {
  switch (identity.role) {
    case 'anonymous':
      return 'anonymous';
    case 'platform-admin':
      return `admin:${identity.subject}`;
    case 'partner':
      return `partner:${identity.partnerId}:${identity.subject}`;
    case 'tenant-admin':
    case 'tenant-member':
      return `${identity.role}:${identity.tenantId}:${identity.subject}`;
  }
}
