import type { EntityManager } from '@mikro-orm/postgresql';
import type { StatementSummary, StatementUsageLine } from './model.js';

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
  usage: StatementSummary['usage'];
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
    Array<{ kind: 'usage' | 'entry'; id: string | null; type: string; product: string | null; unit_price_micros: string | null; events: string; quantity: string | null; amount: string; at: Date | null; description: string | null; external_ref: string | null; version: number }>
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
      usage.push({ product: row.product ?? '', quantity: row.quantity ?? '0', unitPriceMicros: BigInt(row.unit_price_micros ?? '0'), amountMinor: amount, events: Number(row.events) });
    } else {
      entries.push({ id: row.id!, type: row.type, amountMinor: amount, at: new Date(row.at!), description: row.description, externalRef: row.external_ref });
    }
  }
  usage.sort((a, b) => (a.product === b.product ? (a.unitPriceMicros < b.unitPriceMicros ? -1 : 1) : a.product < b.product ? -1 : 1));
  return { fromVersion: afterVersion, toVersion, openingBalanceMinor: opening, closingBalanceMinor: opening + sum, usage, entries };
}

/** The usage entries of a version range, in order: a statement's itemization. */
export async function readUsageLines(em: EntityManager, tenantId: string, fromVersion: number, toVersion: number): Promise<StatementUsageLine[]> {
  const rows = await em.execute<Array<{ at: Date; product: string; quantity: string; unit_price_micros: string; amount_minor: string }>>(
    `select coalesce(occurred_at, created_at) as at, product, quantity::text, unit_price_micros::text, amount_minor::text
       from ledger_entry where tenant_id = ? and account_version > ? and account_version <= ? and type = 'USAGE'
      order by account_version`,
    [tenantId, fromVersion, toVersion],
  );
  return rows.map((row) => ({ at: new Date(row.at), product: row.product, quantity: BigInt(row.quantity ?? '0'), unitPriceMicros: BigInt(row.unit_price_micros ?? '0'), amountMinor: BigInt(row.amount_minor) }));
}
