import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardedDatabase, ShardId } from '@saldo/sharding';

/**
 * Where notifications live: a tenant's on its shard, a partner's (its endpoints' health) in the control database.
 * Travels in job payloads as a string: `control` or `shard:<n>`.
 */
export type StoreId = string;
export const CONTROL_STORE: StoreId = 'control';

export function shardStore(shardId: ShardId): StoreId {
  return `shard:${shardId}`;
}

export function storeEm(db: ShardedDatabase, store: StoreId): EntityManager {
  if (store === CONTROL_STORE) return db.globalEm();
  const match = /^shard:(\d+)$/.exec(store);
  if (!match) throw new Error(`Unknown notification store ${store}`);
  return db.em(Number(match[1]) as ShardId);
}

export function allStores(db: ShardedDatabase): StoreId[] {
  return [CONTROL_STORE, ...db.shardIds.map(shardStore)];
}

export type DeliveryStatus = 'PENDING' | 'SENDING' | 'DELIVERED' | 'FAILED' | 'CANCELLED';
export type Channel = 'EMAIL' | 'WEBHOOK';

/** A delivery claimed for an attempt, with what its notification says. */
export interface ClaimedDelivery {
  id: string;
  seq: string;
  channel: Channel;
  endpointId: string | null;
  recipients: string[] | null;
  lane: string;
  attempts: number;
  firstAttemptAt: Date | null;
  notificationId: string;
  tenantId: string | null;
  partnerId: string | null;
  eventId: string;
  kind: string;
  version: number;
  language: string;
  audience: string;
  data: Record<string, unknown>;
  occurredAt: Date;
}

interface ClaimedRow {
  id: string;
  seq: string;
  channel: Channel;
  endpoint_id: string | null;
  recipients: string[] | null;
  lane: string;
  attempts: number;
  first_attempt_ms: string | null;
  notification_id: string;
  tenant_id: string | null;
  partner_id: string | null;
  event_id: string;
  kind: string;
  event_version: number;
  language: string;
  audience: string;
  data: Record<string, unknown>;
  occurred_ms: string;
}

interface OpenRow {
  id: string;
  lane: string;
  status: DeliveryStatus;
  due: boolean;
  lease_expired: boolean;
}

/**
 * Claims deliveries for an attempt, keeping each lane (one receiver and tenant) in order: in a lane only a prefix of
 * its open deliveries (oldest first) is claimed, and only while each is due (PENDING whose time has come, or SENDING
 * whose lease ran out: its sender died). `only` restricts claims to those ids (the fast path's batch); a lane whose
 * head is not among them, waits for a retry, or is being sent elsewhere gets nothing. The lanes' open rows are locked
 * while deciding (in (lane, seq) order), so two claimers of one lane serialize and never send out of order.
 */
export async function claimDeliveries(em: EntityManager, lanes: readonly string[], leaseMs: number, only?: ReadonlySet<string>): Promise<ClaimedDelivery[]> {
  if (lanes.length === 0) return [];
  return em.transactional(async (tx) => {
    const open = await tx.execute<OpenRow[]>(
      `select id, lane, status, next_attempt_at <= now() as due, coalesce(lease_until < now(), false) as lease_expired
         from notification_delivery
        where lane = any(?::text[]) and status in ('PENDING', 'SENDING')
        order by lane, seq
        for update`,
      [`{${lanes.map(quoteArrayElement).join(',')}}`],
    );
    const claim: string[] = [];
    let lane: string | null = null;
    let blocked = false;
    for (const row of open) {
      if (row.lane !== lane) {
        lane = row.lane;
        blocked = false;
      }
      if (blocked) continue;
      const claimable = (row.status === 'PENDING' && row.due) || (row.status === 'SENDING' && row.lease_expired);
      if (!claimable || (only && !only.has(row.id))) {
        blocked = true;
        continue;
      }
      claim.push(row.id);
    }
    if (claim.length === 0) return [];
    const rows = await tx.execute<ClaimedRow[]>(
      `update notification_delivery d set status = 'SENDING', lease_until = now() + (? * interval '1 millisecond')
         from notification n
        where d.id = any(?::uuid[]) and n.id = d.notification_id
        returning d.id, d.seq, d.channel, d.endpoint_id, d.recipients, d.lane, d.attempts,
                  floor(extract(epoch from d.first_attempt_at) * 1000)::bigint as first_attempt_ms,
                  d.notification_id, n.tenant_id, n.partner_id, n.event_id, n.kind, n.event_version, n.language, n.audience, n.data,
                  floor(extract(epoch from n.occurred_at) * 1000)::bigint as occurred_ms`,
      [leaseMs, `{${claim.join(',')}}`],
    );
    return rows
      .map((row) => ({
        id: row.id,
        seq: String(row.seq),
        channel: row.channel,
        endpointId: row.endpoint_id,
        recipients: row.recipients,
        lane: row.lane,
        attempts: row.attempts,
        firstAttemptAt: row.first_attempt_ms === null ? null : new Date(Number(row.first_attempt_ms)),
        notificationId: row.notification_id,
        tenantId: row.tenant_id,
        partnerId: row.partner_id,
        eventId: row.event_id,
        kind: row.kind,
        version: row.event_version,
        language: row.language,
        audience: row.audience,
        data: row.data,
        occurredAt: new Date(Number(row.occurred_ms)),
      }))
      .sort((a, b) => (a.lane === b.lane ? Number(BigInt(a.seq) - BigInt(b.seq)) : a.lane < b.lane ? -1 : 1));
  });
}

/** One attempt's result as recorded: the delivery's new state and a row of its attempt log. */
export interface AttemptOutcome {
  id: string;
  status: DeliveryStatus;
  /** The attempt number (attempts so far, this one included); unchanged for a cancellation. */
  attempts: number;
  nextAttemptAt: Date;
  attemptedAt: Date;
  durationMs: number;
  succeeded: boolean;
  responseCode: number | null;
  error: string | null;
  /** False for a cancellation without an attempt (disabled endpoint): no attempt row. */
  attempted: boolean;
}

/**
 * Records outcomes and releases claimed-but-unsent deliveries (a lane stopped at a failure: they wait behind it), in
 * one statement: deliveries updated, attempts logged.
 */
export async function recordOutcomes(em: EntityManager, outcomes: readonly AttemptOutcome[], released: readonly string[]): Promise<void> {
  if (outcomes.length === 0 && released.length === 0) return;
  const rows = outcomes.map((outcome) => ({
    id: outcome.id,
    status: outcome.status,
    attempts: outcome.attempts,
    next_attempt_at: outcome.nextAttemptAt.toISOString(),
    attempted_at: outcome.attemptedAt.toISOString(),
    duration_ms: outcome.durationMs,
    succeeded: outcome.succeeded,
    response_code: outcome.responseCode,
    error: outcome.error === null ? null : outcome.error.slice(0, 1000),
    attempted: outcome.attempted,
  }));
  await em.execute(
    `with o as (
       select * from jsonb_to_recordset(?::jsonb) as o(id uuid, status text, attempts integer, next_attempt_at timestamptz, attempted_at timestamptz,
                                                       duration_ms integer, succeeded boolean, response_code integer, error text, attempted boolean)
     ),
     updated as (
       update notification_delivery d
          set status = o.status, attempts = o.attempts, next_attempt_at = o.next_attempt_at, lease_until = null,
              first_attempt_at = case when o.attempted then coalesce(d.first_attempt_at, o.attempted_at) else d.first_attempt_at end,
              last_attempt_at = case when o.attempted then o.attempted_at else d.last_attempt_at end,
              response_code = case when o.attempted then o.response_code else d.response_code end,
              last_error = o.error,
              delivered_at = case when o.succeeded then o.attempted_at else d.delivered_at end
         from o where d.id = o.id
       returning 1
     ),
     logged as (
       insert into notification_delivery_attempt (delivery_id, attempt, attempted_at, duration_ms, succeeded, response_code, error, tenant_id)
       select o.id, o.attempts, o.attempted_at, o.duration_ms, o.succeeded, o.response_code, o.error, d.tenant_id
         from o join notification_delivery d on d.id = o.id where o.attempted
       on conflict do nothing
       returning 1
     ),
     released as (
       update notification_delivery set status = 'PENDING', lease_until = null where id = any(?::uuid[]) and status = 'SENDING' returning 1
     )
     select (select count(*) from updated) as updated, (select count(*) from logged) as logged, (select count(*) from released) as released`,
    [JSON.stringify(rows), `{${released.join(',')}}`],
  );
}

/** Lanes with a delivery that is due now (PENDING whose time came, or SENDING whose sender's lease ran out). */
export async function dueLanes(em: EntityManager, limit: number): Promise<string[]> {
  const rows = await em.execute<{ lane: string }[]>(
    `select lane from notification_delivery
      where status in ('PENDING', 'SENDING') and next_attempt_at <= now() and (status = 'PENDING' or lease_until < now())
      group by lane order by min(next_attempt_at) limit ?`,
    [limit],
  );
  return rows.map((row) => row.lane);
}

/** A text[] literal element: quoted, with backslashes and quotes escaped (lanes are ids and colons, but stay safe). */
function quoteArrayElement(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
