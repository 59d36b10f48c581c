import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { ErrorCode, SaldoError, assertUuid, validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import type { Dispatcher } from './delivery/dispatcher.js';
import type { SecretBox } from '@saldo/secrets';
import {
  ENDPOINT_COLUMNS,
  endpointFromRow,
  endpointsOfOwners,
  isActiveSecret,
  sealSecret,
  type EndpointRecord,
  type EndpointSecret,
} from './delivery/endpoints.js';
import { generateSecret } from './delivery/signing.js';
import { checkTarget, UnsafeTargetError, type TargetPolicy } from './delivery/ssrf.js';
import { CONTROL_STORE, allStores, shardStore, storeEm, type DeliveryStatus, type StoreId } from './delivery/store.js';
import { LIMITS, createEndpointSchema, overlapSchema, updateEndpointSchema } from './inputs.js';

export interface IssuedEndpoint {
  endpoint: EndpointRecord;
  /** The signing secret (`whsec_...`): returned once, at creation and rotation. */
  secret: string;
}

export interface DeliveryRecord {
  id: string;
  store: StoreId;
  endpointId: string | null;
  channel: string;
  tenantId: string | null;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  responseCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

export interface AttemptRecord {
  attempt: number;
  attemptedAt: Date;
  durationMs: number;
  succeeded: boolean;
  responseCode: number | null;
  error: string | null;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string | null;
  channel: string;
  tenant_id: string | null;
  event_id: string;
  kind: string;
  status: DeliveryStatus;
  attempts: number;
  response_code: number | null;
  last_error: string | null;
  next_attempt_at: Date | string;
  last_attempt_at: Date | string | null;
  delivered_at: Date | string | null;
  created_at: Date | string;
}

const DELIVERY_COLUMNS = `d.id, d.endpoint_id, d.channel, d.tenant_id, n.event_id, n.kind, d.status, d.attempts, d.response_code, d.last_error,
  d.next_attempt_at, d.last_attempt_at, d.delivered_at, d.created_at`;

/**
 * Webhook endpoints of tenants (on their shard) and partners (control database): register (URL checked against the
 * SSRF policy, DNS included), change, enable again, delete, rotate the secret with an overlap in which both secrets
 * sign; the delivery log per endpoint and redelivery of one delivery.
 */
export class WebhookEndpointService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly dispatcher: Dispatcher,
    private readonly policy: TargetPolicy,
    /** Seals signing secrets at rest. */
    private readonly box: SecretBox,
  ) {}

  async create(input: unknown): Promise<IssuedEndpoint> {
    const command = validateInput(createEndpointSchema, input);
    await this.checkUrl(command.url);
    const owner = command.tenantId ? { type: 'TENANT' as const, id: command.tenantId } : { type: 'PARTNER' as const, id: command.partnerId! };
    const secret = generateSecret();
    const id = uuidv7();
    const row = await this.onOwner(owner.type, owner.id, async (em) => {
      const existing = await endpointsOfOwners(em, [owner.id], false);
      if (existing.length >= LIMITS.endpointsPerOwner)
        throw new SaldoError(ErrorCode.BadUserInput, `At most ${LIMITS.endpointsPerOwner} webhook endpoints per owner.`);
      const now = new Date();
      // Stored sealed (AES-256-GCM with the service's key), bound to this endpoint: shown in plaintext this once only.
      const secrets: EndpointSecret[] = [sealSecret(this.box, id, secret, now.toISOString())];
      const [inserted] = await em.execute<Parameters<typeof endpointFromRow>[0][]>(
        `insert into webhook_endpoint (id, owner_type, owner_id, url, description, event_types, enabled, secrets, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?::jsonb, true, ?::jsonb, ?, ?) returning ${ENDPOINT_COLUMNS}`,
        [id, owner.type, owner.id, command.url, command.description, JSON.stringify(command.eventTypes), JSON.stringify(secrets), now, now],
      );
      return inserted!;
    });
    return { endpoint: endpointFromRow(row), secret };
  }

  /** Changes an endpoint; `enabled: true` on a disabled one enables it again (deliveries from now on). */
  async update(id: string, input: unknown): Promise<EndpointRecord> {
    const changes = validateInput(updateEndpointSchema, input);
    if (changes.url !== undefined) await this.checkUrl(changes.url);
    const sets: string[] = ['updated_at = now()'];
    const params: unknown[] = [];
    const set = (sql: string, value: unknown) => {
      sets.push(sql);
      params.push(value);
    };
    if (changes.url !== undefined) set('url = ?', changes.url);
    if (changes.description !== undefined) set('description = ?', changes.description);
    if (changes.eventTypes !== undefined) set('event_types = ?::jsonb', JSON.stringify(changes.eventTypes));
    if (changes.enabled === true) sets.push('enabled = true', 'disabled_reason = null', 'disabled_at = null');
    if (changes.enabled === false) sets.push('enabled = false', "disabled_reason = 'disabled by its owner'", 'disabled_at = now()');
    const [row] = await this.onEndpoint(id, (em) =>
      em.execute<Parameters<typeof endpointFromRow>[0][]>(`update webhook_endpoint set ${sets.join(', ')} where id = ? returning ${ENDPOINT_COLUMNS}`, [
        ...params,
        id,
      ]),
    );
    if (!row) throw notFound(id);
    return endpointFromRow(row);
  }

  /** Deletes an endpoint; its open deliveries are cancelled when their turn comes. */
  async delete(id: string): Promise<boolean> {
    const result = (await this.onEndpoint(id, (em) => em.execute('delete from webhook_endpoint where id = ?', [id], 'run'))) as unknown as {
      affectedRows: number;
    };
    return result.affectedRows > 0;
  }

  /**
   * A new secret signs from now on; the previous ones keep signing beside it for `overlapSeconds` (receivers switch
   * without missing a delivery: every attempt carries one signature per active secret).
   */
  async rotateSecret(id: string, overlapSeconds: unknown): Promise<IssuedEndpoint> {
    const overlap = validateInput(overlapSchema, overlapSeconds);
    const secret = generateSecret();
    const issued = await this.onEndpoint(id, (em) =>
      em.transactional(async (tx) => {
        const [current] = await tx.execute<Parameters<typeof endpointFromRow>[0][]>(
          `select ${ENDPOINT_COLUMNS} from webhook_endpoint where id = ? for update`,
          [id],
        );
        if (!current) throw notFound(id);
        const now = new Date();
        const until = new Date(now.getTime() + overlap * 1000).toISOString();
        // The old secrets keep their stored (sealed) form; only their end of signing changes.
        const kept = endpointFromRow(current)
          .secrets.filter((old) => isActiveSecret(old, now))
          .map((old) => ({ ...old, expiresAt: old.expiresAt === null || old.expiresAt > until ? until : old.expiresAt }))
          .filter((old) => overlap > 0 && new Date(old.expiresAt!) > now);
        const secrets: EndpointSecret[] = [sealSecret(this.box, id, secret, now.toISOString()), ...kept];
        const [row] = await tx.execute<Parameters<typeof endpointFromRow>[0][]>(
          `update webhook_endpoint set secrets = ?::jsonb, updated_at = ? where id = ? returning ${ENDPOINT_COLUMNS}`,
          [JSON.stringify(secrets), now, id],
        );
        return endpointFromRow(row!);
      }),
    );
    return { endpoint: issued, secret };
  }

  async get(id: string): Promise<EndpointRecord | null> {
    try {
      return (await this.locate(id)).endpoint;
    } catch (error) {
      if (error instanceof SaldoError && error.code === ErrorCode.NotFound) return null;
      throw error;
    }
  }

  async ofTenant(tenantId: string): Promise<EndpointRecord[]> {
    const located = await this.db.emForTenant(tenantId);
    return located ? endpointsOfOwners(located.em, [tenantId], false) : [];
  }

  async ofPartner(partnerId: string): Promise<EndpointRecord[]> {
    return endpointsOfOwners(this.db.globalEm(), [partnerId], false);
  }

  /** The endpoint's delivery log, newest first: a tenant's from its shard, a partner's from every shard. */
  async deliveries(endpoint: EndpointRecord, first: number, status: DeliveryStatus | null): Promise<DeliveryRecord[]> {
    const stores = endpoint.ownerType === 'TENANT' ? [await this.tenantStore(endpoint.ownerId)] : allStores(this.db).filter((store) => store !== CONTROL_STORE);
    const pages = await Promise.all(
      stores.map(async (store) => {
        const rows = await storeEm(this.db, store).execute<DeliveryRow[]>(
          `select ${DELIVERY_COLUMNS} from notification_delivery d join notification n on n.id = d.notification_id
            where d.endpoint_id = ? ${status ? 'and d.status = ?' : ''} order by d.seq desc limit ?`,
          [endpoint.id, ...(status ? [status] : []), first],
        );
        return rows.map((row) => deliveryFromRow(row, store));
      }),
    );
    return pages
      .flat()
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .slice(0, first);
  }

  async attempts(delivery: Pick<DeliveryRecord, 'id' | 'store'>): Promise<AttemptRecord[]> {
    const rows = await storeEm(this.db, delivery.store).execute<
      { attempt: number; attempted_at: Date | string; duration_ms: number; succeeded: boolean; response_code: number | null; error: string | null }[]
    >('select attempt, attempted_at, duration_ms, succeeded, response_code, error from notification_delivery_attempt where delivery_id = ? order by attempt', [
      delivery.id,
    ]);
    return rows.map((row) => ({
      attempt: row.attempt,
      attemptedAt: new Date(row.attempted_at),
      durationMs: row.duration_ms,
      succeeded: row.succeeded,
      responseCode: row.response_code,
      error: row.error,
    }));
  }

  /** Finds a webhook delivery wherever it lives; null when there is none. */
  async findDelivery(id: string): Promise<DeliveryRecord | null> {
    assertUuid(id, 'deliveryId');
    for (const store of allStores(this.db)) {
      const [row] = await storeEm(this.db, store).execute<DeliveryRow[]>(
        `select ${DELIVERY_COLUMNS} from notification_delivery d join notification n on n.id = d.notification_id where d.id = ? and d.channel = 'WEBHOOK'`,
        [id],
      );
      if (row) return deliveryFromRow(row, store);
    }
    return null;
  }

  /**
   * Delivers one webhook again now (any status: a receiver that lost it, or one that was down until its endpoint was
   * disabled), with a fresh retry window; it keeps its place in its lane, so later deliveries of the lane wait for it.
   * Returns the delivery after this attempt.
   */
  async redeliver(delivery: DeliveryRecord): Promise<DeliveryRecord> {
    const endpoint = delivery.endpointId ? await this.get(delivery.endpointId) : null;
    if (!endpoint) throw new SaldoError(ErrorCode.InvalidState, 'The endpoint of this delivery was deleted.');
    if (!endpoint.enabled)
      throw new SaldoError(ErrorCode.InvalidState, 'The endpoint is disabled: enable it first (updateWebhookEndpoint with enabled: true).');
    const em = storeEm(this.db, delivery.store);
    const [row] = await em.execute<{ lane: string }[]>(
      `update notification_delivery set status = 'PENDING', next_attempt_at = now(), first_attempt_at = null, lease_until = null
        where id = ? and status <> 'SENDING' returning lane`,
      [delivery.id],
    );
    if (!row) throw new SaldoError(ErrorCode.InvalidState, 'This delivery is being sent right now.');
    await this.dispatcher.drainLanes(delivery.store, [row.lane]);
    return (await this.findDelivery(delivery.id))!;
  }

  private async checkUrl(url: string): Promise<void> {
    try {
      await checkTarget(new URL(url), this.policy);
    } catch (error) {
      if (error instanceof UnsafeTargetError) throw new SaldoError(ErrorCode.UrlNotAllowed, `url: ${error.message}`, { field: 'url' });
      throw error;
    }
  }

  /** Runs a write where the owner's endpoints live: a partner's in the control database, a tenant's on its shard (retried after a move). */
  private async onOwner<T>(type: 'TENANT' | 'PARTNER', id: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (type === 'PARTNER') {
      const [partner] = await this.db.globalEm().execute<{ id: string }[]>('select id from partner where id = ?', [id]);
      if (!partner) throw new SaldoError(ErrorCode.PartnerNotFound, `No partner with id ${id}.`, { field: 'partnerId' });
      return work(this.db.globalEm());
    }
    const done = await this.db.forTenantIfPlaced(id, async (em) => ({ value: await work(em) }));
    if (!done) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${id}.`, { field: 'tenantId' });
    return done.value;
  }

  /** Runs a write on the endpoint's database (its owner's: a tenant's shard is asked of the directory, retried after a move). */
  private async onEndpoint<T>(id: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    const { endpoint } = await this.locate(id);
    return this.onOwner(endpoint.ownerType, endpoint.ownerId, work);
  }

  private async tenantStore(tenantId: string): Promise<StoreId> {
    const located = await this.db.emForTenant(tenantId);
    if (!located) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${tenantId}.`);
    return shardStore(located.shardId);
  }

  private async locate(id: string): Promise<{ em: EntityManager; endpoint: EndpointRecord }> {
    assertUuid(id, 'id');
    for (const store of allStores(this.db)) {
      const em = storeEm(this.db, store);
      const [row] = await em.execute<Parameters<typeof endpointFromRow>[0][]>(`select ${ENDPOINT_COLUMNS} from webhook_endpoint where id = ?`, [id]);
      if (row) return { em, endpoint: endpointFromRow(row) };
    }
    throw notFound(id);
  }
}

function notFound(id: string): SaldoError {
  return new SaldoError(ErrorCode.NotFound, `No webhook endpoint with id ${id}.`, { field: 'id' });
}

function deliveryFromRow(row: DeliveryRow, store: StoreId): DeliveryRecord {
  const open = row.status === 'PENDING' || row.status === 'SENDING';
  return {
    id: row.id,
    store,
    endpointId: row.endpoint_id,
    channel: row.channel,
    tenantId: row.tenant_id,
    eventId: row.event_id,
    eventType: row.kind,
    status: row.status,
    attempts: row.attempts,
    responseCode: row.response_code,
    lastError: row.last_error,
    nextAttemptAt: open ? new Date(row.next_attempt_at) : null,
    lastAttemptAt: row.last_attempt_at === null ? null : new Date(row.last_attempt_at),
    deliveredAt: row.delivered_at === null ? null : new Date(row.delivered_at),
    createdAt: new Date(row.created_at),
  };
}
