import type { EntityManager } from '@mikro-orm/postgresql';

/** Usage of one product at one unit price within a period. */
export interface UsageSummaryLine {
  product: string;
  /** Sum of the quantities, as a decimal string. */
  quantity: string;
  unitPriceMicros: bigint;
  amountMinor: bigint;
  events: number;
}

/** One usage entry (a statement's itemization). */
export interface UsageLine {
  at: Date;
  product: string;
  quantity: bigint;
  unitPriceMicros: bigint;
  /** Non-positive: usage debits the balance. */
  amountMinor: bigint;
}

/**
 * What a statement needs from a tenant's ledger, read on the tenant's shard. A month is the contiguous range of
 * account versions (fromVersion, toVersion]: toVersion is the last entry posted before the month ended. Entries are
 * stamped under the account's row lock, so posting time grows with the version and the range is exactly the month's
 * postings; and because each entry's balance_after is the previous one plus its amount, opening + the range's amounts =
 * closing, always. The scan starts at the previous statement's toVersion and walks the (tenant, version) index.
 */
export interface LedgerMonth {
  fromVersion: number;
  toVersion: number;
  openingBalanceMinor: bigint;
  closingBalanceMinor: bigint;
  usage: UsageSummaryLine[];
  /** Every entry but usage, in version order. */
  entries: Array<{ id: string; type: string; amountMinor: bigint; at: Date; description: string | null; externalRef: string | null }>;
}

export async function readLedgerMonth(em: EntityManager, tenantId: string, afterVersion: number, end: Date): Promise<LedgerMonth> {
  const [bounds] = await em.execute<{ to_version: number | null; opening: string | null }[]>(
    `select (select max(account_version) from ledger_entry where tenant_id = ? and account_version > ? and created_at < ?) as to_version,
            (select balance_after_minor from ledger_entry where tenant_id = ? and account_version = ?)::text as opening`,
    [tenantId, afterVersion, end, tenantId, afterVersion],
  );
  const opening = BigInt(bounds?.opening ?? '0');
  const toVersion = bounds?.to_version ?? afterVersion;
  if (toVersion === afterVersion) {
    return { fromVersion: afterVersion, toVersion, openingBalanceMinor: opening, closingBalanceMinor: opening, usage: [], entries: [] };
  }
  const rows = await em.execute<
    Array<{
      kind: 'usage' | 'entry';
      id: string | null;
      type: string;
      product: string | null;
      unit_price_micros: string | null;
      events: string;
      quantity: string | null;
      amount: string;
      at: Date | null;
      description: string | null;
      external_ref: string | null;
      version: number;
    }>
  >(
    `select 'usage' as kind, null::uuid as id, 'USAGE' as type, product, unit_price_micros::text, count(*)::text as events, sum(quantity)::text as quantity,
            sum(amount_minor)::text as amount, null::timestamptz as at, null::text as description, null::text as external_ref, min(account_version) as version
       from ledger_entry where tenant_id = ? and account_version > ? and account_version <= ? and type = 'USAGE'
      group by product, unit_price_micros
     union all
     select 'entry', id, type, null, null, '1', null, amount_minor::text, created_at, description, external_ref, account_version
       from ledger_entry where tenant_id = ? and account_version > ? and account_version <= ? and type <> 'USAGE'
     order by version`,
    [tenantId, afterVersion, toVersion, tenantId, afterVersion, toVersion],
  );
  let sum = 0n;
  const usage: LedgerMonth['usage'] = [];
  const entries: LedgerMonth['entries'] = [];
  for (const row of rows) {
    const amount = BigInt(row.amount);
    sum += amount;
    if (row.kind === 'usage') {
      usage.push({
        product: row.product ?? '',
        quantity: row.quantity ?? '0',
        unitPriceMicros: BigInt(row.unit_price_micros ?? '0'),
        amountMinor: amount,
        events: Number(row.events),
      });
    } else {
      entries.push({ id: row.id!, type: row.type, amountMinor: amount, at: new Date(row.at!), description: row.description, externalRef: row.external_ref });
    }
  }
  usage.sort((a, b) => (a.product === b.product ? (a.unitPriceMicros < b.unitPriceMicros ? -1 : 1) : a.product < b.product ? -1 : 1));
  return { fromVersion: afterVersion, toVersion, openingBalanceMinor: opening, closingBalanceMinor: opening + sum, usage, entries };
}

/** The usage entries of a version range, in order: a statement's itemization. */
export async function readUsageLines(em: EntityManager, tenantId: string, fromVersion: number, toVersion: number): Promise<UsageLine[]> {
  const rows = await em.execute<Array<{ at: Date; product: string; quantity: string; unit_price_micros: string; amount_minor: string }>>(
    `select coalesce(occurred_at, created_at) as at, product, quantity::text, unit_price_micros::text, amount_minor::text
       from ledger_entry where tenant_id = ? and account_version > ? and account_version <= ? and type = 'USAGE'
      order by account_version`,
    [tenantId, fromVersion, toVersion],
  );
  return rows.map((row) => ({
    at: new Date(row.at),
    product: row.product,
    quantity: BigInt(row.quantity ?? '0'),
    unitPriceMicros: BigInt(row.unit_price_micros ?? '0'),
    amountMinor: BigInt(row.amount_minor),
  }));
}

/** A ledger entry as documents read it: what a top-up or refund was, from its metadata. */
export interface EntryDetails {
  id: string;
  tenantId: string;
  type: string;
  amountMinor: bigint;
  currency: string;
  idempotencyKey: string;
  externalRef: string | null;
  occurredAt: Date | null;
  createdAt: Date;
  metadata: Record<string, unknown> | null;
}

/** Entries of one tenant by id or by idempotency key (one query). */
export async function readEntries(em: EntityManager, tenantId: string, lookup: { ids?: readonly string[]; keys?: readonly string[] }): Promise<EntryDetails[]> {
  const rows = await em.execute<
    Array<{
      id: string;
      tenant_id: string;
      type: string;
      amount_minor: string;
      currency: string;
      idempotency_key: string;
      external_ref: string | null;
      occurred_at: Date | null;
      created_at: Date;
      metadata: Record<string, unknown> | null;
    }>
  >(
    `select id, tenant_id, type, amount_minor::text, currency, idempotency_key, external_ref, occurred_at, created_at, metadata
       from ledger_entry
      where tenant_id = ? and (id in (select jsonb_array_elements_text(?::jsonb)::uuid) or idempotency_key in (select jsonb_array_elements_text(?::jsonb)))`,
    [tenantId, JSON.stringify(lookup.ids ?? []), JSON.stringify(lookup.keys ?? [])],
  );
  return rows.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    type: row.type,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency.trim(),
    idempotencyKey: row.idempotency_key,
    externalRef: row.external_ref,
    occurredAt: row.occurred_at ? new Date(row.occurred_at) : null,
    createdAt: new Date(row.created_at),
    metadata: row.metadata,
  }));
}
