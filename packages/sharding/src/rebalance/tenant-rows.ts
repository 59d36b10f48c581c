import type { EntityManager } from '@mikro-orm/postgresql';
import { ident, tenantTables } from '../moves/capture.js';

/**
 * Each tenant's rows on one shard, over every table a move would copy (the planner's weight of a tenant). One grouped
 * scan per table: run for shards past the threshold only, by the planning job or an operator, not on a request path.
 * `tenants` are those the directory places here; rows of others (a moved tenant awaiting cleanup) are not counted.
 */
export async function tenantRowCounts(
  em: EntityManager,
  tenantColumns: Readonly<Record<string, string>>,
  tenants: readonly string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>(tenants.map((tenantId) => [tenantId, 0]));
  for (const table of await tenantTables(em, tenantColumns)) {
    const rows = await em.execute<{ tenant: string; rows: string }[]>(
      `select ${ident(table.tenantColumn)}::text as tenant, count(*)::text as rows from ${ident(table.name)} group by 1`,
    );
    for (const row of rows) if (counts.has(row.tenant)) counts.set(row.tenant, counts.get(row.tenant)! + Number(row.rows));
  }
  return counts;
}
