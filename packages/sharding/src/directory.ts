import type { MikroORM } from '@mikro-orm/postgresql';

export type ShardId = number;

export interface Placement {
  shardId: ShardId;
  /** The tenant's partner; null for a direct customer or while this subgraph has not learnt it yet. */
  partnerId: string | null;
}

/** Advisory lock key serializing placements within one subgraph's control database. */
const PLACEMENT_LOCK = 0x5a1d0_001;
/**
 * Bounded in-process cache. Placements change only when a move switches a tenant: the mover notifies every instance
 * (LISTEN/NOTIFY on the control database, see ShardedDatabase) and a write refused as stale forgets the entry too.
 */
const CACHE_LIMIT = 100_000;

/**
 * The subgraph's tenant -> shard map (and the tenant's partner, for scope checks), kept in its control database.
 * Placement is idempotent (placing a placed tenant returns its shard) and picks the least-loaded shard.
 */
export class ShardDirectory {
  /** Every answer is cached until a move of the tenant switches it (forget). */
  private readonly shards = new Map<string, ShardId>();
  /**
   * Partners are cached only once known: "no partner yet" may change when the tenant's creation event arrives
   * (possibly at another replica), while a known partner never changes.
   */
  private readonly partners = new Map<string, string>();

  /**
   * Advances at every forget: an answer read before a forget (a lookup in flight while a move switched the tenant) may
   * be the old placement, so it is returned but not cached.
   */
  private generation = 0;
  /**
   * The generation of each tenant's last forget (bounded: cleared as a whole when full, which counts as forgetting
   * every tenant then), so a unit of work can tell whether its tenant moved (or may have) while it ran.
   */
  private readonly forgottenAt = new Map<string, number>();
  private everyoneForgottenAt = 0;

  constructor(private readonly control: MikroORM) {}

  /**
   * Registers the configured shards; refuses a configuration whose order no longer matches the database. Draining
   * is configuration too: a draining shard takes no new placements (its tenants stay until moved), and a shard no
   * longer listed as draining accepts placements again.
   */
  async registerShards(databaseNames: readonly string[], draining: ReadonlySet<ShardId> = new Set()): Promise<void> {
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
        await tx.execute(
          'insert into shard (id, database_name, accepts_new_tenants) values (?, ?, ?) on conflict (id) do update set accepts_new_tenants = excluded.accepts_new_tenants',
          [id, name, !draining.has(id)],
        );
      }
    });
  }

  /**
   * Places the tenant on the least-loaded accepting shard, or returns where it already is. A known partner is
   * recorded (once learnt it never changes: a tenant does not move between partners).
   */
  async place(tenantId: string, partnerId: string | null = null): Promise<ShardId> {
    const cachedShard = this.shards.get(tenantId);
    if (cachedShard !== undefined && (partnerId === null || this.partners.get(tenantId) === partnerId)) return cachedShard;
    const em = this.control.em.fork();
    const generation = this.generation;
    const placement = await em.transactional(async (tx): Promise<Placement> => {
      // Serialize placements so two concurrent creations cannot both pick the same "least loaded" shard.
      await tx.execute('select pg_advisory_xact_lock(?)', [PLACEMENT_LOCK]);
      const [existing] = await tx.execute<{ shard_id: number; partner_id: string | null }[]>(
        'select shard_id, partner_id from tenant_placement where tenant_id = ?',
        [tenantId],
      );
      if (existing) {
        if (partnerId !== null && existing.partner_id === null) {
          await tx.execute('update tenant_placement set partner_id = ? where tenant_id = ?', [partnerId, tenantId]);
          return { shardId: existing.shard_id, partnerId };
        }
        return { shardId: existing.shard_id, partnerId: existing.partner_id };
      }
      const [target] = await tx.execute<{ id: number }[]>(
        `select s.id from shard s
           left join tenant_placement p on p.shard_id = s.id
          where s.accepts_new_tenants
          group by s.id
          order by count(p.tenant_id), s.id
          limit 1`,
      );
      if (!target) throw new Error('No shard accepts new tenants');
      await tx.execute('insert into tenant_placement (tenant_id, shard_id, partner_id) values (?, ?, ?)', [tenantId, target.id, partnerId]);
      return { shardId: target.id, partnerId };
    });
    if (generation === this.generation) this.remember(tenantId, placement);
    return placement.shardId;
  }

  /** Shards of the given tenants in one round trip; unplaced tenants are absent from the result. */
  async lookup(tenantIds: readonly string[]): Promise<Map<string, ShardId>> {
    const found = new Map<string, ShardId>();
    const missing: string[] = [];
    for (const id of new Set(tenantIds)) {
      const cached = this.shards.get(id);
      if (cached === undefined) missing.push(id);
      else found.set(id, cached);
    }
    for (const [tenantId, placement] of await this.read(missing)) found.set(tenantId, placement.shardId);
    return found;
  }

  async lookupOne(tenantId: string): Promise<ShardId | undefined> {
    return (await this.lookup([tenantId])).get(tenantId);
  }

  /** Partners of the given tenants (null: none known); unplaced tenants are absent. Feeds scope checks. */
  async partnersOf(tenantIds: readonly string[]): Promise<Map<string, string | null>> {
    const found = new Map<string, string | null>();
    const missing: string[] = [];
    for (const id of new Set(tenantIds)) {
      const cached = this.partners.get(id);
      if (cached === undefined) missing.push(id);
      else found.set(id, cached);
    }
    for (const [tenantId, placement] of await this.read(missing)) found.set(tenantId, placement.partnerId);
    return found;
  }

  /** The registered shards: database and whether they take new placements. */
  async registeredShards(): Promise<Array<{ id: ShardId; databaseName: string; draining: boolean }>> {
    const rows = await this.control.em
      .fork()
      .execute<{ id: number; database_name: string; accepts_new_tenants: boolean }[]>('select id, database_name, accepts_new_tenants from shard order by id');
    return rows.map((row) => ({ id: row.id, databaseName: row.database_name, draining: !row.accepts_new_tenants }));
  }

  /** The tenants placed on one shard (the rebalance planner weighs them). */
  async tenantsOn(shardId: ShardId): Promise<string[]> {
    const rows = await this.control.em.fork().execute<{ tenant_id: string }[]>('select tenant_id from tenant_placement where shard_id = ?', [shardId]);
    return rows.map((row) => row.tenant_id);
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

  private async read(tenantIds: readonly string[]): Promise<Map<string, Placement>> {
    const found = new Map<string, Placement>();
    if (tenantIds.length === 0) return found;
    const generation = this.generation;
    const rows = await this.control.em
      .fork()
      .execute<{ tenant_id: string; shard_id: number; partner_id: string | null }[]>(
        'select tenant_id, shard_id, partner_id from tenant_placement where tenant_id in (?)',
        [tenantIds],
      );
    for (const row of rows) {
      const placement = { shardId: row.shard_id, partnerId: row.partner_id };
      found.set(row.tenant_id, placement);
      if (generation === this.generation) this.remember(row.tenant_id, placement);
    }
    return found;
  }

  /**
   * Undoes the placement of a tenant whose first write failed (its creation was rejected), so a rejected input leaves
   * no placement behind to skew least-loaded placement. Only for a tenant id nothing else knows yet (freshly
   * generated by the creation that failed).
   */
  async unplace(tenantId: string): Promise<void> {
    await this.control.em.fork().execute('delete from tenant_placement where tenant_id = ?', [tenantId]);
    this.shards.delete(tenantId);
    this.partners.delete(tenantId);
  }

  /** Drops the cached placement: the tenant moved (or may have), the next lookup reads the directory. */
  forget(tenantId: string): void {
    this.generation += 1;
    this.shards.delete(tenantId);
    if (this.forgottenAt.size >= CACHE_LIMIT) {
      this.forgottenAt.clear();
      this.everyoneForgottenAt = this.generation;
    }
    this.forgottenAt.set(tenantId, this.generation);
  }

  /** Now, for forgottenSince: take it before looking a tenant up. */
  get currentGeneration(): number {
    return this.generation;
  }

  /** True when one of the tenants' placements was forgotten (a move switched it, or may have) after `generation`. */
  forgottenSince(tenantIds: readonly string[], generation: number): boolean {
    return this.everyoneForgottenAt > generation || tenantIds.some((tenantId) => (this.forgottenAt.get(tenantId) ?? 0) > generation);
  }

  /** Forgets every cached placement (the change notifications' connection was lost: some may have been missed). */
  forgetAll(): void {
    this.generation += 1;
    this.shards.clear();
    this.forgottenAt.clear();
    this.everyoneForgottenAt = this.generation;
  }

  private remember(tenantId: string, placement: Placement): void {
    if (this.shards.size >= CACHE_LIMIT) {
      this.shards.clear();
      this.partners.clear();
    }
    this.shards.set(tenantId, placement.shardId);
    if (placement.partnerId !== null) this.partners.set(tenantId, placement.partnerId);
  }
}
