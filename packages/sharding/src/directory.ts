import type { MikroORM } from '@mikro-orm/postgresql';

export type ShardId = number;

/** Advisory lock key serializing placements within one subgraph's control database. */
const PLACEMENT_LOCK = 0x5a1d0_001;
/** Placements never move until rebalancing exists, so a bounded in-process cache is safe. */
const CACHE_LIMIT = 100_000;

/**
 * The subgraph's tenant -> shard map, kept in its control database.
 * Placement is idempotent (placing a placed tenant returns its shard) and picks the least-loaded shard.
 */
export class ShardDirectory {
  private readonly cache = new Map<string, ShardId>();

  constructor(private readonly control: MikroORM) {}

  /** Registers the configured shards; refuses a configuration whose order no longer matches the database. */
  async registerShards(databaseNames: readonly string[]): Promise<void> {
    const em = this.control.em.fork();
    await em.transactional(async (tx) => {
      const existing = await tx.execute<{ id: number; database_name: string }[]>('select id, database_name from shard order by id');
      for (const row of existing) {
        const configured = databaseNames[row.id];
        if (configured === undefined) {
          throw new Error(`Shard ${row.id} (${row.database_name}) holds tenants but is missing from the configuration`);
        }
        if (configured !== row.database_name) {
          throw new Error(`Shard ${row.id} is ${row.database_name} in the directory but ${configured} in the configuration`);
        }
      }
      for (const [id, name] of databaseNames.entries()) {
        await tx.execute('insert into shard (id, database_name) values (?, ?) on conflict (id) do nothing', [id, name]);
      }
    });
  }

  /** Places the tenant on the least-loaded accepting shard, or returns where it already is. */
  async place(tenantId: string): Promise<ShardId> {
    const cached = this.cache.get(tenantId);
    if (cached !== undefined) return cached;
    const em = this.control.em.fork();
    const shardId = await em.transactional(async (tx) => {
      // Serialize placements so two concurrent creations cannot both pick the same "least loaded" shard.
      await tx.execute('select pg_advisory_xact_lock(?)', [PLACEMENT_LOCK]);
      const existing = await tx.execute<{ shard_id: number }[]>('select shard_id from tenant_placement where tenant_id = ?', [tenantId]);
      if (existing[0]) return existing[0].shard_id;
      const [target] = await tx.execute<{ id: number }[]>(
        `select s.id from shard s
           left join tenant_placement p on p.shard_id = s.id
          where s.accepts_new_tenants
          group by s.id
          order by count(p.tenant_id), s.id
          limit 1`,
      );
      if (!target) throw new Error('No shard accepts new tenants');
      await tx.execute('insert into tenant_placement (tenant_id, shard_id) values (?, ?)', [tenantId, target.id]);
      return target.id;
    });
    this.remember(tenantId, shardId);
    return shardId;
  }

  /** Shards of the given tenants in one round trip; unplaced tenants are absent from the result. */
  async lookup(tenantIds: readonly string[]): Promise<Map<string, ShardId>> {
    const found = new Map<string, ShardId>();
    const missing: string[] = [];
    for (const id of new Set(tenantIds)) {
      const cached = this.cache.get(id);
      if (cached === undefined) missing.push(id);
      else found.set(id, cached);
    }
    if (missing.length > 0) {
      const rows = await this.control.em
        .fork()
        .execute<{ tenant_id: string; shard_id: number }[]>('select tenant_id, shard_id from tenant_placement where tenant_id in (?)', [missing]);
      for (const row of rows) {
        found.set(row.tenant_id, row.shard_id);
        this.remember(row.tenant_id, row.shard_id);
      }
    }
    return found;
  }

  async lookupOne(tenantId: string): Promise<ShardId | undefined> {
    return (await this.lookup([tenantId])).get(tenantId);
  }

  /** Tenants per shard, for operators and for tests of placement balance. */
  async load(): Promise<Map<ShardId, number>> {
    const rows = await this.control.em
      .fork()
      .execute<{ id: number; tenants: string }[]>(
        'select s.id, count(p.tenant_id) as tenants from shard s left join tenant_placement p on p.shard_id = s.id group by s.id order by s.id',
      );
    return new Map(rows.map((row) => [row.id, Number(row.tenants)]));
  }

  private remember(tenantId: string, shardId: ShardId): void {
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(tenantId, shardId);
  }
}
