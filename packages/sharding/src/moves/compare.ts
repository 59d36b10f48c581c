import type pg from 'pg';
import { ident, type TenantTable } from './capture.js';
import { lastCopyKey, range, rangeEnd, type CopyKey } from './copy.js';
import type { CopyPace } from './pace.js';

/**
 * The comparison of a whole tenant table before the fence (see ShardMover.verifyAllButPending), in keyset ranges of the
 * table's copy key, paced like the copy.
 *
 * In one statement per shard, the comparison of a 1,000,000-entry tenant took both shards for 3.5 s, and the tenant's
 * writes queued behind it (recordUsage p99 2.2 s, against 0.33 s while the paced copy ran). Range by range, each range's
 * row count and order-independent checksum are compared on both shards at once, and between ranges the pace probes the
 * shards and waits as its rate asks, so the writes get the shards back every few milliseconds. The ranges are cut from
 * the source's keys in the caller's snapshot (the copy's rangeEnd, an index-only walk) and tile the tenant's rows: from
 * the first key to the source's last, then everything after it (rows only the target holds). Comparing per range is
 * stronger than comparing the sums, and a failure names its range and the rows of it that differ.
 */

/** A row's text without the columns each shard numbers itself (alias `t`): what the checksum hashes. */
export function rowText(table: TenantTable): string {
  return table.localColumns.length > 0 ? `(to_jsonb(t) - ${textArray(table.localColumns)})::text` : 't::text';
}

/** A row's primary key as a JSON object (alias `t`). */
export function primaryKeyJson(table: TenantTable): string {
  return `jsonb_build_object(${table.primaryKey.map((column) => `'${column.replace(/'/g, "''")}', to_jsonb(t) -> '${column.replace(/'/g, "''")}'`).join(', ')})`;
}

/**
 * `and` the row's primary key is (`in`) or is not (`not in`) among the JSON array of keys given as the parameter `param`
 * (`?` or `$1`): by the key's own columns (its index), not an expression over every row.
 */
export function keysFilter(table: TenantTable, operator: 'in' | 'not in', param: string): string {
  return `and (${table.primaryKey.map((column) => `t.${ident(column)}`).join(', ')}) ${operator} (select ${table.primaryKey
    .map((column) => `k.${ident(column)}`)
    .join(', ')} from jsonb_populate_recordset(null::${ident(table.name)}, ${param}::jsonb) k)`;
}

/** Rows read per shard to name the rows that differ after a failed comparison, and how many are named. */
export const DIFFERENCES_READ_MAX = 200_000;
const DIFFERENCES_SHOWN = 3;

/** `; rows that differ: key: source text, target text; ...` for the first rows whose text differs (by key), or ''. */
export function describeDifferences(source: ReadonlyMap<string, string>, target: ReadonlyMap<string, string>): string {
  const found: string[] = [];
  for (const key of new Set([...source.keys(), ...target.keys()])) {
    if (found.length >= DIFFERENCES_SHOWN) break;
    const [a, b] = [source.get(key), target.get(key)];
    if (a !== b) found.push(`${key}: source ${a ?? '(none)'}, target ${b ?? '(none)'}`);
  }
  return found.length > 0 ? `; rows that differ: ${found.join('; ')}` : '';
}

export interface TableComparison {
  /** The source's rows compared (but the keys left out). */
  rows: number;
  ranges: number;
  /** Time spent cutting the ranges (the source's keyset walk) and summing them on each shard (both at once), ms. */
  cuttingMs: number;
  sourceMs: number;
  targetMs: number;
  /** Why the shards differ (the range, both sums, the rows that differ), when they do; the comparison stopped there. */
  mismatch?: string;
}

/**
 * Compares the tenant's rows of `table` on both shards, but the primary keys `except`, range by range (`rangeRows` rows
 * of the source each). `source` reads in the snapshot the caller holds (its transaction); the target must not change
 * meanwhile. After each range `pace.afterRange` waits as the comparison's rate asks.
 */
export async function compareTable(
  shards: { source: pg.Client; target: pg.Client },
  table: TenantTable,
  tenantId: string,
  except: readonly Record<string, unknown>[],
  rangeRows: number,
  pace: CopyPace,
  signal?: AbortSignal,
): Promise<TableComparison> {
  const { source, target } = shards;
  // One parameter for both shards' statements: the keys left out, by primary key (none: no filter). By the key's own
  // columns: a JSON object built from every row to compare with the keys' JSON made the comparison 3.5 times slower.
  const params = except.length > 0 ? [JSON.stringify(except)] : [];
  const exceptFilter = except.length > 0 ? keysFilter(table, 'not in', '$1') : '';
  const last = await lastCopyKey(source, table, tenantId);
  const compared: TableComparison = { rows: 0, ranges: 0, cuttingMs: 0, sourceMs: 0, targetMs: 0 };
  let after: CopyKey | undefined;
  for (;;) {
    signal?.throwIfAborted();
    // Past the source's last key (or without one): one open range, for rows only the target holds.
    const cutting = performance.now();
    const end = last && !(after && sameKey(after, last)) ? await rangeEnd(source, table, tenantId, after, last, rangeRows) : undefined;
    compared.cuttingMs += performance.now() - cutting;
    const where = `${range(source, table, tenantId, after, end, 't')} ${exceptFilter}`;
    const sums = `select count(*)::text as count, coalesce(sum(hashtextextended(${rowText(table)}, 0)::numeric), 0)::text as checksum
                    from ${ident(table.name)} t where ${where}`;
    const sum = async (client: pg.Client, side: 'sourceMs' | 'targetMs') => {
      const begun = performance.now();
      const [row] = (await client.query<Checksum>(sums, params)).rows;
      compared[side] += performance.now() - begun;
      return row!;
    };
    const [a, b] = await Promise.all([sum(source, 'sourceMs'), sum(target, 'targetMs')]);
    const rows = Math.max(Number(a.count), Number(b.count));
    compared.rows += Number(a.count);
    compared.ranges += 1;
    if (a.count !== b.count || a.checksum !== b.checksum) {
      const differing = await rangeDifferences(shards, table, where, params);
      const bounds = `keys ${after ? `after ${JSON.stringify(after)}` : 'from the first'} ${end ? `up to ${JSON.stringify(end)}` : 'to the last'}`;
      return {
        ...compared,
        mismatch: `verification failed for ${table.name} (${bounds}): source ${a.count} rows (${a.checksum}), target ${b.count} rows (${b.checksum})${differing}`,
      };
    }
    if (!end) return compared;
    after = end;
    await pace.afterRange(rows, signal);
  }
}

interface Checksum {
  count: string;
  checksum: string;
}

/**
 * The rows of a range that differ, for the message of a failed comparison: the source's as the comparison saw them (its
 * snapshot), the target's as they are. Never the reason of a failure itself: an error here leaves the message without them.
 */
async function rangeDifferences(shards: { source: pg.Client; target: pg.Client }, table: TenantTable, where: string, params: unknown[]): Promise<string> {
  const read = async (client: pg.Client) =>
    new Map(
      (
        await client.query<{ key: string; row: string }>(
          `select ${primaryKeyJson(table)}::text as key, ${rowText(table)} as row from ${ident(table.name)} t where ${where} limit ${DIFFERENCES_READ_MAX}`,
          params,
        )
      ).rows.map(({ key, row }) => [key, row]),
    );
  try {
    const [source, target] = await Promise.all([read(shards.source), read(shards.target)]);
    return describeDifferences(source, target);
  } catch (error) {
    return `; the rows that differ could not be read: ${(error as Error).message}`;
  }
}

/** Equal keys (range ends are text from the database, compared as such). */
export function sameKey(a: CopyKey, b: CopyKey): boolean {
  const columns = Object.keys(b);
  return Object.keys(a).length === columns.length && columns.every((column) => String(a[column]) === String(b[column]));
}

/** A PostgreSQL text[] literal of catalog names (single quotes doubled). */
export function textArray(names: readonly string[]): string {
  return `array[${names.map((name) => `'${name.replace(/'/g, "''")}'`).join(', ')}]::text[]`;
}
