import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * SQLSTATE of a write refused because its tenant moved to another shard (the directory's epoch advanced):
 * the caller forgets the cached placement and retries on the new shard.
 */
export const TENANT_MOVED_SQLSTATE = 'SMOVD';

/** First key of the two-key advisory locks that fence one tenant's writes on a shard. */
export const FENCE_LOCK_CLASS = 0x5a1d;

/** Set (transaction-local) by the mover's own writes, which the capture trigger must neither log nor refuse. */
export const MOVER_SETTING = 'saldo.shard_move';

/**
 * Per-shard objects of the change capture, created on a source shard when a move starts (idempotent):
 * - `shard_move_tenant`: the tenants being moved away (`capturing`), already moved away (`switched`) or being copied onto
 *   this shard (`arriving`, until the switch) — a shard holding `switched` or `arriving` for a tenant is not its shard;
 * - `shard_move_change`: what their writes changed since the move began (table and primary key, in order);
 * - `shard_move_capture()`: the trigger that logs those changes; a write of a tenant being moved first takes the
 *   tenant's fence lock shared, so the fence (the mover holding it exclusively) makes the write wait, and a write
 *   that finds the tenant moved away or not arrived yet is refused with SQLSTATE SMOVD, never applied here (a write
 *   routed by a stale placement to a shard the tenant is being copied back to would otherwise land behind the copy).
 */
const CAPTURE_OBJECTS = [
  `create table if not exists shard_move_tenant (
     tenant_id text primary key,
     move_id uuid not null,
     state text not null
   )`,
  `create table if not exists shard_move_change (
     seq bigserial primary key,
     tenant_id text not null,
     table_name text not null,
     pk jsonb not null
   )`,
  'create index if not exists shard_move_change_tenant on shard_move_change (tenant_id, seq)',
  `create or replace function shard_move_capture() returns trigger language plpgsql as $$
   declare
     row_data jsonb;
     row_tenant text;
     move_state text;
     key jsonb := '{}'::jsonb;
     column_name text;
   begin
     if current_setting('${MOVER_SETTING}', true) = 'on' then
       return null;
     end if;
     row_data := case when tg_op = 'DELETE' then to_jsonb(old) else to_jsonb(new) end;
     row_tenant := row_data ->> tg_argv[0];
     select state into move_state from shard_move_tenant where tenant_id = row_tenant;
     if move_state is null then
       return null;
     end if;
     -- Held until this transaction ends: the fence waits for it, and it waits for the fence.
     perform pg_advisory_xact_lock_shared(${FENCE_LOCK_CLASS}, hashtext(row_tenant));
     select state into move_state from shard_move_tenant where tenant_id = row_tenant;
     if move_state in ('switched', 'arriving') then
       raise exception 'tenant % is on another shard', row_tenant using errcode = '${TENANT_MOVED_SQLSTATE}';
     end if;
     if move_state is null then
       return null;
     end if;
     foreach column_name in array tg_argv[1:] loop
       key := key || jsonb_build_object(column_name, row_data -> column_name);
     end loop;
     insert into shard_move_change (tenant_id, table_name, pk) values (row_tenant, tg_table_name, key);
     if tg_op = 'UPDATE' then
       -- An update that changed the primary key leaves the old key behind: log it too, so the target deletes it.
       row_data := to_jsonb(old);
       if exists (select 1 from unnest(tg_argv[1:]) as c(name) where row_data -> c.name is distinct from key -> c.name) then
         key := '{}'::jsonb;
         foreach column_name in array tg_argv[1:] loop
           key := key || jsonb_build_object(column_name, row_data -> column_name);
         end loop;
         insert into shard_move_change (tenant_id, table_name, pk) values (row_tenant, tg_table_name, key);
       end if;
     end if;
     return null;
   end $$`,
];

/** A tenant-owned table as the mover sees it. */
export interface TenantTable {
  name: string;
  /** The column naming the row's tenant (`tenant_id` unless the subgraph says otherwise). */
  tenantColumn: string;
  /** Its SQL type (`uuid`, `text`, ...): the tenant is compared as that type, so the column's index is used. */
  tenantColumnType: string;
  primaryKey: string[];
  /**
   * Columns each shard numbers itself (a sequence or identity outside the primary key, like the outbox's and the
   * notification log's `seq`): the target assigns its own values (copied ones could collide with its other tenants'),
   * in the source's order, and an update of a copied row keeps the target's value.
   */
  localColumns: string[];
  /**
   * The copy's keyset: the columns of a unique index that begins with the tenant column (the others not null), so each batch
   * is one range scan of that index; the primary key when there is none (a batch then filters the key's order by tenant).
   */
  copyKey: string[];
  /** Every column, in the table's order. */
  columns: string[];
  /** Their SQL types (`format_type`), in the same order. */
  columnTypes: string[];
}

/** Tables never moved: the ORM's bookkeeping and the capture's own tables. */
const NOT_TENANT_DATA = new Set(['mikro_orm_migrations', 'shard_move_tenant', 'shard_move_change']);

/**
 * The shard's tenant-owned tables: those with a `tenant_id` column, or the column `tenantColumns` names for the table
 * (the tenants subgraph's `tenant` table is keyed by `id`; the outbox by `key`). Tables with neither hold no tenant
 * rows and stay.
 */
export async function tenantTables(em: EntityManager, tenantColumns: Readonly<Record<string, string>> = {}): Promise<TenantTable[]> {
  const rows = await em.execute<
    {
      table_name: string;
      columns: string[];
      types: string[];
      primary_key: string[];
      numbered: string[];
      unique_keys: { columns: string[]; nullable: string[] }[];
    }[]
  >(
    `select c.relname as table_name,
            array(select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns,
            array(select format_type(a.atttypid, a.atttypmod) from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                   order by a.attnum) as types,
            array(select a.attname::text from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
                   where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                     and (a.attidentity <> '' or pg_get_expr(d.adbin, d.adrelid) like 'nextval(%')) as numbered,
            array(select a.attname::text from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                   where i.indrelid = c.oid and i.indisprimary order by k.ord) as primary_key,
            coalesce((select json_agg(json_build_object('columns', u.columns, 'nullable', u.nullable) order by u.n, u.name) from (
                       select i.indexrelid::regclass::text as name, count(*) as n, array_agg(a.attname::text order by k.ord) as columns,
                              coalesce(array_agg(a.attname::text) filter (where not a.attnotnull), '{}') as nullable
                         from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, ord)
                         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                        where i.indrelid = c.oid and i.indisunique and i.indpred is null and i.indexprs is null
                        group by i.indexrelid) u), '[]'::json) as unique_keys
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind = 'r'
      order by c.relname`,
  );
  const tables: TenantTable[] = [];
  for (const row of rows) {
    if (NOT_TENANT_DATA.has(row.table_name)) continue;
    const tenantColumn = tenantColumns[row.table_name] ?? (row.columns.includes('tenant_id') ? 'tenant_id' : undefined);
    if (!tenantColumn || !row.columns.includes(tenantColumn)) continue;
    if (row.primary_key.length === 0) throw new Error(`Table ${row.table_name} holds tenant rows but has no primary key: it cannot be moved`);
    tables.push({
      name: row.table_name,
      tenantColumn,
      tenantColumnType: row.types[row.columns.indexOf(tenantColumn)]!,
      primaryKey: row.primary_key,
      localColumns: row.numbered.filter((column) => !row.primary_key.includes(column)),
      // Shortest first (the query's order); a key of the tenant column alone identifies no row of it. The tenant column
      // may be nullable (consumed_event's records from before it existed): the copy compares it by equality, so only the
      // other columns must be not null for the keyset's row comparison.
      copyKey:
        row.unique_keys.find((key) => key.columns[0] === tenantColumn && key.columns.length > 1 && key.nullable.every((column) => column === tenantColumn))
          ?.columns ?? row.primary_key,
      columns: row.columns,
      columnTypes: row.types,
    });
  }
  return tables;
}

/** Creates the capture objects and a capture trigger on every tenant table but the outbox (idempotent). */
export async function installCapture(em: EntityManager, tables: readonly TenantTable[]): Promise<void> {
  for (const sql of CAPTURE_OBJECTS) await em.execute(sql);
  for (const table of tables) {
    // The outbox is captured on insert only: the relay marks rows published, an update that must never wait for the
    // fence (the fence waits for the relay to publish the tenant's events from the source).
    const events = table.name === 'outbox_event' ? 'insert' : 'insert or update or delete';
    const args = [table.tenantColumn, ...table.primaryKey].map((name) => `'${name}'`).join(', ');
    // The mover's own writes (the copy's COPY, the catch-up) skip the trigger in its WHEN clause, which PostgreSQL
    // evaluates as each row is written, queuing no trigger event: the function's first check, without a PL/pgSQL call
    // and an after-trigger event per copied row (which halved the copy's insert rate on a target that had the trigger).
    await em.execute(
      `create or replace trigger shard_move_capture after ${events} on ${ident(table.name)}
         for each row when (current_setting('${MOVER_SETTING}', true) is distinct from 'on') execute function shard_move_capture(${args})`,
    );
  }
}

/**
 * A SQL condition, true for a row whose tenant (the text expression `tenant`) has a move marker on this shard: it is being
 * moved away (`capturing`), was moved away (`switched`, its rows wait for the cleanup) or is being copied here
 * (`arriving`). Deletions outside the mover leave those rows alone: the mover compares the tenant's rows on both shards
 * before it switches, and the outbox's deletions are not captured (its trigger logs inserts only), so a row deleted on
 * one side after the copy would fail the move's verification. 'false' on a shard no move has touched (no marker table).
 *
 * Ask for it in the transaction of the statement that uses it (one transaction per statement): a move marks the tenant
 * and then waits for every transaction that began before the marker to end before it copies or deletes anything, so
 * such a statement either finished first or sees the marker.
 */
export async function movingTenantCondition(em: EntityManager, tenant: string): Promise<string> {
  const [row] = await em.execute<Array<{ present: boolean }>>("select to_regclass('shard_move_tenant') is not null as present");
  return row?.present ? `exists (select 1 from shard_move_tenant m where m.tenant_id = (${tenant})::text)` : 'false';
}

/**
 * `"column" = ?::type`: the table's rows of one tenant, the parameter cast to the column's own type. Comparing the
 * column's text (`"column"::text = ?`) would work for every type but defeats the column's index (each lookup a scan).
 */
export function tenantFilter(table: Pick<TenantTable, 'tenantColumn' | 'tenantColumnType'>, alias?: string): string {
  return `${alias ? `${alias}.` : ''}${ident(table.tenantColumn)} = ?::${table.tenantColumnType}`;
}

/** A double-quoted SQL identifier (table and column names come from the catalog, but quote them anyway). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
