import type { EntityManager } from '@mikro-orm/postgresql';

export type EndpointOwnerType = 'TENANT' | 'PARTNER';

export interface EndpointSecret {
  secret: string;
  createdAt: string;
  /** Set on rotation: the old secret still signs (beside the new one) until then. */
  expiresAt: string | null;
}

/** A webhook endpoint as stored: a tenant's on its shard, a partner's in the control database. */
export interface EndpointRecord {
  id: string;
  ownerType: EndpointOwnerType;
  ownerId: string;
  url: string;
  description: string | null;
  /** Event types it receives; empty: every type a webhook may carry. */
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  secrets: EndpointSecret[];
  createdAt: Date;
  updatedAt: Date;
}

interface EndpointRow {
  id: string;
  owner_type: EndpointOwnerType;
  owner_id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: Date | string | null;
  secrets: EndpointSecret[];
  created_at: Date | string;
  updated_at: Date | string;
}

export const ENDPOINT_COLUMNS =
  'id, owner_type, owner_id, url, description, event_types, enabled, disabled_reason, disabled_at, secrets, created_at, updated_at';

export function endpointFromRow(row: EndpointRow): EndpointRecord {
  return {
    id: row.id,
    ownerType: row.owner_type,
    ownerId: row.owner_id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at === null ? null : new Date(row.disabled_at),
    secrets: row.secrets,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export async function endpointsByIds(em: EntityManager, ids: readonly string[]): Promise<EndpointRecord[]> {
  if (ids.length === 0) return [];
  const rows = await em.execute<EndpointRow[]>(`select ${ENDPOINT_COLUMNS} from webhook_endpoint where id = any(?::uuid[])`, [`{${ids.join(',')}}`]);
  return rows.map(endpointFromRow);
}

export async function endpointsOfOwners(em: EntityManager, ownerIds: readonly string[], onlyEnabled: boolean): Promise<EndpointRecord[]> {
  if (ownerIds.length === 0) return [];
  const rows = await em.execute<EndpointRow[]>(
    `select ${ENDPOINT_COLUMNS} from webhook_endpoint where owner_id = any(?::uuid[]) ${onlyEnabled ? 'and enabled' : ''} order by created_at, id`,
    [`{${ownerIds.join(',')}}`],
  );
  return rows.map(endpointFromRow);
}

/** The secrets that sign now: the current one and any rotated one still inside its overlap. */
export function signingSecrets(endpoint: EndpointRecord, now: Date = new Date()): string[] {
  return endpoint.secrets.filter((secret) => secret.expiresAt === null || new Date(secret.expiresAt) > now).map((secret) => secret.secret);
}

/** Whether the endpoint takes events of this type. */
export function subscribes(endpoint: EndpointRecord, eventType: string): boolean {
  return endpoint.eventTypes.length === 0 || endpoint.eventTypes.includes(eventType);
}
