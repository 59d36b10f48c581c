import type pg from 'pg';
import { MOVER_SETTING, ident, type TenantTable } from './capture.js';
import { copyIn, copyOut } from './pg-copy.js';

/**
 * The shard mover's bulk copy of one tenant table (the COPYING phase), in keyset ranges of the table's copy key.
 *
 * Each range travels with PostgreSQL's COPY in binary format: `COPY (select ...) TO STDOUT` on the source, the bytes as
 * they came into `COPY ... FROM STDIN` on the target. Nothing is built or parsed per row on either side (the JSON text
 * of a batch, built by the source and parsed back by the target's jsonb_populate_recordset, was most of the copy's
 * cost: about 8,000 rows/s), and nothing per row is parsed in this process, which shares its event loop with the
 * subgraph's requests. Binary COPY needs the same column types on both shards, which their migrations give; a
 * difference fails the move loudly rather than converting values.
 *
 * COPY has no ON CONFLICT: a range is made idempotent instead by deleting the target's rows of the tenant in that range
 * first, in the same transaction. The ranges tile the table from the first key to the last, so a run resumed after a
 * crash (from the last range recorded) replaces whatever a range written but not recorded left behind. Only the copy
 * writes the tenant's rows on the target during COPYING.
 *
 * COPY takes no parameters: the tenant and the range's keys are SQL literals (quoted by pg's escapeLiteral, cast to the
 * column's type), which also lets the planner use the copy key's index for the range.
 */

/** A position in the copy key: the key columns' values (text from the database, so a bigint stays exact). */
export type CopyKey = Record<string, unknown>;

/** The tenant's last key of `table` (in the copy key's order), or null when it has no rows there. */
export async function lastCopyKey(client: pg.Client, table: TenantTable, tenantId: string): Promise<CopyKey | null> {
  const { rows } = await client.query<{ last: CopyKey }>(
    `select ${keyObject(table, 't')} as last from ${ident(table.name)} t where ${tenantLiteral(client, table, tenantId, 't')}
      order by ${table.copyKey.map((column) => `t.${ident(column)} desc`).join(', ')} limit 1`,
  );
  return rows[0]?.last ?? null;
}

/** The end of the next range: the key `size` rows after `after` (excluded), or `upTo` when fewer are left. */
export async function rangeEnd(
  client: pg.Client,
  table: TenantTable,
  tenantId: string,
  after: CopyKey | undefined,
  upTo: CopyKey,
  size: number,
): Promise<CopyKey> {
  // An index-only walk of `size` entries of the copy key's index: cheap next to copying the rows.
  const { rows } = await client.query<{ last: CopyKey }>(
    `select ${keyObject(table, 't')} as last from ${ident(table.name)} t where ${range(client, table, tenantId, after, upTo, 't')}
      order by ${table.copyKey.map((column) => `t.${ident(column)}`).join(', ')} offset ${Math.max(0, Math.floor(size) - 1)} limit 1`,
  );
  return rows[0]?.last ?? upTo;
}

/**
 * The source's rows of the tenant in (`after`, `end`] as COPY binary data: without the columns each shard numbers itself,
 * in the source's numbering order (the target numbers them as they arrive, so they keep their order), and for the outbox
 * its published events only (unpublished ones wait in the change log until the source has published them).
 */
export async function readRange(
  client: pg.Client,
  table: TenantTable,
  tenantId: string,
  after: CopyKey | undefined,
  end: CopyKey,
): Promise<{ data: Buffer; rows: number }> {
  const order = table.localColumns.length > 0 ? [table.localColumns[0]!] : table.copyKey;
  const ready = table.name === 'outbox_event' ? 'and t."published_at" is not null' : '';
  return copyOut(
    client,
    `copy (select ${copiedColumns(table, 't')} from ${ident(table.name)} t where ${range(client, table, tenantId, after, end, 't')} ${ready}
            order by ${order.map((column) => `t.${ident(column)}`).join(', ')}) to stdout (format binary)`,
  );
}

/**
 * Replaces the target's rows of the tenant in (`after`, `end`] with `data` (readRange's output), in one transaction, as
 * the mover: not captured, and allowed by the guards (the ledger is append-only but for rows arriving or leaving).
 */
export async function writeRange(
  client: pg.Client,
  table: TenantTable,
  tenantId: string,
  after: CopyKey | undefined,
  end: CopyKey,
  data: Buffer,
): Promise<number> {
  await client.query('begin');
  try {
    await client.query(`select set_config('${MOVER_SETTING}', 'on', true), set_config('saldo.ledger_maintenance', 'on', true)`);
    // Nothing to delete but after a crash between this range's commit and its progress record.
    await client.query(`delete from ${ident(table.name)} t where ${range(client, table, tenantId, after, end, 't')}`);
    const rows = data.length > 0 ? await copyIn(client, `copy ${ident(table.name)} (${copiedColumns(table)}) from stdin (format binary)`, data) : 0;
    await client.query('commit');
    return rows;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** The columns copied: all but those each shard numbers itself. */
function copiedColumns(table: TenantTable, alias?: string): string {
  return table.columns
    .filter((column) => !table.localColumns.includes(column))
    .map((column) => (alias ? `${alias}.${ident(column)}` : ident(column)))
    .join(', ');
}

/** The copy key's values of a row as a JSON object of their text. */
function keyObject(table: TenantTable, alias: string): string {
  return `jsonb_build_object(${table.copyKey.map((column) => `'${column.replace(/'/g, "''")}', ${alias}.${ident(column)}::text`).join(', ')})`;
}

function columnType(table: TenantTable, column: string): string {
  const type = table.columnTypes[table.columns.indexOf(column)];
  if (!type) throw new Error(`Column ${column} of ${table.name} has no type in the catalog`);
  return type;
}

function tenantLiteral(client: pg.Client, table: TenantTable, tenantId: string, alias: string): string {
  return `${alias}.${ident(table.tenantColumn)} = ${client.escapeLiteral(tenantId)}::${table.tenantColumnType}`;
}

/**
 * `(k1, k2) > (v1, v2)`-style bounds of the tenant's rows in (`after`, `end`] (no lower bound without `after`, no upper
 * bound without `end`).
 */
export function range(client: pg.Client, table: TenantTable, tenantId: string, after: CopyKey | undefined, end: CopyKey | undefined, alias: string): string {
  const columns = `(${table.copyKey.map((column) => `${alias}.${ident(column)}`).join(', ')})`;
  const values = (key: CopyKey) => {
    const literals = table.copyKey.map((column) => {
      const value = key[column];
      if (value === null || value === undefined) throw new Error(`Copy key of ${table.name} lacks ${column}`);
      return `${client.escapeLiteral(String(value))}::${columnType(table, column)}`;
    });
    return `(${literals.join(', ')})`;
  };
  // With the tenant's equality beside a row comparison on the same leading column, PostgreSQL's btree cannot tell which
  // bound is tighter and starts the scan at the tenant's first entry: every range read the index from there, so a range
  // near the end of a 1,000,000-entry tenant cost a walk of the whole tenant (the paced comparison took 78 s instead of
  // a few). When the keyset begins with the tenant column, the row comparisons bound the tenant by themselves (the upper
  // bound of an open range is the tenant column's own).
  const tenantLeads = table.copyKey[0] === table.tenantColumn && after !== undefined;
  const tenant = `${client.escapeLiteral(tenantId)}::${table.tenantColumnType}`;
  return [
    ...(tenantLeads ? [] : [tenantLiteral(client, table, tenantId, alias)]),
    ...(after ? [`${columns} > ${values(after)}`] : []),
    ...(end ? [`${columns} <= ${values(end)}`] : tenantLeads ? [`${alias}.${ident(table.tenantColumn)} <= ${tenant}`] : []),
  ].join(' and ');
}
