import type { EntityManager } from '@mikro-orm/postgresql';
import type { MoveCheck } from '@saldo/sharding';

interface Baseline {
  /** The highest account version summed (0: none). */
  upTo: number;
  entries: string;
  sum: string;
}

interface LedgerCheck {
  balance: string;
  version: number;
  entries: string;
  sum: string;
}

/**
 * A tenant moving between shards: besides every table's rows and checksum, its ledger must add up on the target (sum of
 * entries = cached balance, entries = version). Entries are append-only and numbered by account version, so the sum up
 * to a version is taken before the fence (over the whole ledger, while the tenant keeps writing) and the fence adds only
 * the entries after it: one range of the (tenant_id, account_version) index, however long the ledger.
 */
export const ledgerMoveCheck: MoveCheck = {
  name: 'ledger',
  baseline: async (em: EntityManager, tenantId: string): Promise<Baseline> => {
    const [row] = await em.execute<Array<{ up_to: number | null; entries: string; sum: string }>>(
      `select max(account_version) as up_to, count(*)::text as entries, coalesce(sum(amount_minor), 0)::text as sum
         from ledger_entry where tenant_id = ?`,
      [tenantId],
    );
    return { upTo: row?.up_to ?? 0, entries: row?.entries ?? '0', sum: row?.sum ?? '0' };
  },
  run: async (em: EntityManager, tenantId: string, baseline?: unknown): Promise<LedgerCheck | null> => {
    const before = (baseline as Baseline | undefined) ?? { upTo: 0, entries: '0', sum: '0' };
    const [row] = await em.execute<Array<{ balance: string; version: number; entries: string; sum: string }>>(
      `select a.balance_minor::text as balance, a.version, count(e.id)::text as entries, coalesce(sum(e.amount_minor), 0)::text as sum
         from account a left join ledger_entry e on e.tenant_id = a.tenant_id and e.account_version > ?
        where a.tenant_id = ? group by a.tenant_id, a.balance_minor, a.version`,
      [before.upTo, tenantId],
    );
    if (!row) return null;
    return {
      balance: row.balance,
      version: row.version,
      entries: String(BigInt(before.entries) + BigInt(row.entries)),
      sum: String(BigInt(before.sum) + BigInt(row.sum)),
    };
  },
  consistent: (result) => {
    const row = result as LedgerCheck | null;
    return row === null || (row.balance === row.sum && String(row.version) === row.entries);
  },
};
