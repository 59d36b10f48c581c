import type { EntityManager } from '@mikro-orm/postgresql';
import type { SecretBox } from '@saldo/secrets';

export type EndpointOwnerType = 'TENANT' | 'PARTNER';

/**
 * A signing secret as stored: `sealed` by the service's SecretBox (AES-256-GCM, bound to the endpoint and the secret's
 * creation time). Rows written before secrets were sealed hold `secret` in plaintext until the start-up pass
 * (`sealStoredSecrets`) seals them; both sign meanwhile.
 */
export interface EndpointSecret {
  sealed?: string;
  /** Plaintext of a row written before secrets were sealed. */
  secret?: string;
  createdAt: string;
  /** Set on rotation: the old secret still signs (beside the new one) until then. */
  expiresAt: string | null;
}

/** What a sealed secret is bound to: its endpoint and creation time (a sealed value copied elsewhere does not open). */
function secretContext(endpointId: string, createdAt: string): string {
  return `webhook_endpoint:${endpointId}:secret:${createdAt}`;
}

/** Seals a new secret of `endpointId` for storage. */
export function sealSecret(box: SecretBox, endpointId: string, secret: string, createdAt: string): EndpointSecret {
  return { sealed: box.seal(secret, secretContext(endpointId, createdAt)), createdAt, expiresAt: null };
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

/** Whether a stored secret still signs at `now` (the current one, or a rotated one inside its overlap). */
export function isActiveSecret(secret: EndpointSecret, now: Date = new Date()): boolean {
  return secret.expiresAt === null || new Date(secret.expiresAt) > now;
}

/**
 * The secrets that sign now, opened: the current one and any rotated one still inside its overlap. Throws when one
 * cannot be opened (sealed with a key that is not configured, or altered).
 */
export function signingSecrets(endpoint: EndpointRecord, box: SecretBox, now: Date = new Date()): string[] {
  return endpoint.secrets
    .filter((secret) => isActiveSecret(secret, now))
    .map((secret) => (secret.sealed !== undefined ? box.open(secret.sealed, secretContext(endpoint.id, secret.createdAt)) : secret.secret!));
}

/**
 * Seals what is not sealed with the current key, on one database: plaintext secrets of rows written before secrets
 * were sealed, and secrets sealed with an earlier key (so the earlier key can be dropped once every instance ran this).
 * Expired secrets are dropped on the way. A row changed meanwhile (a rotation) is left to the next run. Returns the
 * number of endpoints sealed anew, and those whose secrets no configured key opens (left untouched).
 */
export async function sealStoredSecrets(em: EntityManager, box: SecretBox, now: Date = new Date()): Promise<{ sealed: number; unopenable: string[] }> {
  const rows = await em.execute<Array<{ id: string; secrets: EndpointSecret[] }>>(
    `select id, secrets from webhook_endpoint
      where exists (select 1 from jsonb_array_elements(secrets) as e where e->>'sealed' is null or split_part(e->>'sealed', '.', 2) <> ?)`,
    [box.currentKeyId],
  );
  let sealed = 0;
  const unopenable: string[] = [];
  for (const row of rows) {
    let resealed: EndpointSecret[];
    try {
      resealed = row.secrets
        .filter((secret) => isActiveSecret(secret, now))
        .map((secret) => {
          const context = secretContext(row.id, secret.createdAt);
          const plaintext = secret.sealed !== undefined ? box.open(secret.sealed, context) : secret.secret!;
          return { sealed: box.seal(plaintext, context), createdAt: secret.createdAt, expiresAt: secret.expiresAt };
        });
    } catch {
      // Sealed with a key that is not configured (or altered): left as it is, for an operator to configure the key.
      unopenable.push(row.id);
      continue;
    }
    const result = (await em.execute(
      'update webhook_endpoint set secrets = ?::jsonb where id = ? and secrets = ?::jsonb',
      [JSON.stringify(resealed), row.id, JSON.stringify(row.secrets)],
      'run',
    )) as unknown as { affectedRows: number };
    sealed += result.affectedRows;
  }
  return { sealed, unopenable };
}

/** Whether the endpoint takes events of this type. */
export function subscribes(endpoint: EndpointRecord, eventType: string): boolean {
  return endpoint.eventTypes.length === 0 || endpoint.eventTypes.includes(eventType);
}
