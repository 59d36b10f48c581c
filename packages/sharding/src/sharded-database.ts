import type { Constructor } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '@saldo/service';
import { ShardLoadSample, ShardRecord, TenantPlacement } from './control/entities.js';
import { controlMigrations } from './control/migrations.js';
import { ShardDirectory, type ShardId } from './directory.js';
import { DEFAULT_SHARD_CAPACITY, readShardStatistics, shardLoad, writeRate, type ShardCapacity, type ShardLoad } from './load.js';
import { DIRECTORY_CHANNEL, type MoveCheck } from './moves/mover.js';
import { TENANT_MOVED_SQLSTATE } from './moves/capture.js';
import { migrate, openOrm } from './orm.js';
import pg from 'pg';
import { databaseName, ensureDatabases, redactUrl } from './provision.js';

export interface ShardingConfig {
  controlUrl: string;
  /** Ordered: position i is shard i. Append to add a shard; never reorder. */
  shardUrls: readonly string[];
  poolMax: number;
  /** Create missing databases on start (embedded default and tests; off where an operator provisions them). */
  createDatabases: boolean;
  /** What one shard may hold (every shard alike); default DEFAULT_SHARD_CAPACITY. */
  capacity?: ShardCapacity;
  /** Shards (positions in shardUrls) that take no new placements. */
  drainingShards?: readonly ShardId[];
}

/**
 * Connections per database of the background pools (outbox relay, shard mover), opened on demand: a shard move holds
 * the fence in one while it reads the source in another and the relay drains the tenant's events in a third.
 */
const BACKGROUND_POOL_MAX = 4;

/** The write rate covers at least this long: a newer sample is not replaced by every load query. */
const WRITE_SAMPLE_INTERVAL_MS = 5_000;

/**
 * A subgraph's schema. Tenant-owned rows live on shards (`shard`); the few platform-wide rows that belong
 * to no tenant (partners, say) live beside the shard directory in the control database (`global`).
 */
export interface ShardedSchema {
  shard: SchemaPart;
  global?: SchemaPart;
  /** How a tenant's rows are found and checked when it moves between shards. */
  moves?: MoveSettings;
}

export interface MoveSettings {
  /** Per table, the column naming the tenant where it is not `tenant_id` (the outbox's `key` is known). */
  tenantColumns?: Readonly<Record<string, string>>;
  /** Comparisons beyond rows and checksums, run on both shards inside the fence. */
  checks?: readonly MoveCheck[];
}

export interface SchemaPart {
  // Entity classes: MikroORM accepts any constructor.
  entities: Function[];
  migrations: Constructor<Migration>[];
}

/**
 * A subgraph's data: one control database (the shard directory) and N shard databases holding
 * tenant rows. Each request works in an EntityManager fork of the tenant's shard.
 */
export class ShardedDatabase {
  private constructor(
    private readonly control: MikroORM,
    private readonly backgroundControl: MikroORM,
    private readonly shards: readonly MikroORM[],
    private readonly backgroundShards: readonly MikroORM[],
    readonly directory: ShardDirectory,
    private readonly logger: Logger,
    private readonly counter: { queries: number; transactionStatements: number },
    readonly capacity: ShardCapacity,
    readonly moveSettings: MoveSettings,
    private readonly controlUrl: string,
  ) {}

  /** Held open to hear placement changes (LISTEN); undefined until listening, or after close. */
  private listener: pg.Client | undefined;
  private closed = false;

  get moveChecks(): readonly MoveCheck[] {
    return this.moveSettings.checks ?? [];
  }

  /** Per table, the column naming the tenant (defaults plus the subgraph's own). */
  get tenantColumns(): Readonly<Record<string, string>> {
    return { outbox_event: 'key', ...(this.moveSettings.tenantColumns ?? {}) };
  }

  /** SQL statements sent to this subgraph's databases since start (control and shards). */
  get queryCount(): number {
    return this.counter.queries;
  }

  /** Round trips to this subgraph's databases since start: SQL statements plus BEGIN, COMMIT and ROLLBACK. */
  get roundTrips(): number {
    return this.counter.queries + this.counter.transactionStatements;
  }

  static async open(config: ShardingConfig, schema: ShardedSchema, logger: Logger): Promise<ShardedDatabase> {
    const counter = { queries: 0, transactionStatements: 0 };
    const onQuery = () => {
      counter.queries += 1;
    };
    const onTransactionStatement = () => {
      counter.transactionStatements += 1;
    };
    if (config.createDatabases) {
      const created = await ensureDatabases([config.controlUrl, ...config.shardUrls]);
      if (created.length > 0) logger.info('created databases', { databases: created.join(',') });
    }
    const control = await openOrm({
      url: config.controlUrl,
      entities: [ShardRecord, TenantPlacement, ShardLoadSample, ...(schema.global?.entities ?? [])],
      migrations: [...controlMigrations, ...(schema.global?.migrations ?? [])],
      poolMax: Math.max(2, Math.ceil(config.poolMax / 2)),
      logger,
      onQuery,
      onTransactionStatement,
    });
    const shards: MikroORM[] = [];
    const backgroundShards: MikroORM[] = [];
    let backgroundControl: MikroORM | undefined;
    const closeAll = () =>
      Promise.all([control.close(), backgroundControl?.close(), ...shards.map((orm) => orm.close()), ...backgroundShards.map((orm) => orm.close())]);
    try {
      backgroundControl = await openOrm({
        url: config.controlUrl,
        entities: [ShardRecord, TenantPlacement, ShardLoadSample, ...(schema.global?.entities ?? [])],
        migrations: [],
        poolMax: BACKGROUND_POOL_MAX,
        logger,
        onQuery,
        onTransactionStatement,
        contextSuffix: ':background',
      });
      for (const url of config.shardUrls) {
        shards.push(
          await openOrm({
            url,
            entities: schema.shard.entities,
            migrations: schema.shard.migrations,
            poolMax: config.poolMax,
            logger,
            onQuery,
            onTransactionStatement,
          }),
        );
        backgroundShards.push(
          await openOrm({
            url,
            entities: schema.shard.entities,
            migrations: [],
            poolMax: BACKGROUND_POOL_MAX,
            logger,
            onQuery,
            onTransactionStatement,
            contextSuffix: ':background',
          }),
        );
      }
    } catch (error) {
      await closeAll();
      throw error;
    }
    for (const shardId of config.drainingShards ?? []) {
      if (shardId < 0 || shardId >= config.shardUrls.length) {
        await closeAll();
        throw new Error(`Draining shard ${shardId} is not configured (shards 0..${config.shardUrls.length - 1})`);
      }
    }
    const database = new ShardedDatabase(
      control,
      backgroundControl,
      shards,
      backgroundShards,
      new ShardDirectory(control),
      logger,
      counter,
      config.capacity ?? DEFAULT_SHARD_CAPACITY,
      schema.moves ?? {},
      config.controlUrl,
    );
    logger.info('databases open', {
      control: redactUrl(config.controlUrl),
      shards: config.shardUrls.map(databaseName).join(','),
    });
    try {
      await database.migrate(config.shardUrls.map(databaseName), new Set(config.drainingShards ?? []));
      await database.listen();
    } catch (error) {
      // A refused configuration (a reordered shard list) or a failed migration leaves no pool open behind it.
      await database.close();
      throw error;
    }
    return database;
  }

  /** Applies control and shard migrations (every shard), then registers the shards in the directory. */
  private async migrate(shardNames: string[], draining: ReadonlySet<ShardId>): Promise<void> {
    const appliedControl = await migrate(this.control);
    if (appliedControl.length > 0) this.logger.info('migrated control database', { migrations: appliedControl.join(',') });
    await Promise.all(
      this.shards.map(async (orm, shardId) => {
        const applied = await migrate(orm);
        if (applied.length > 0) this.logger.info('migrated shard', { shard: shardId, migrations: applied.join(',') });
      }),
    );
    await this.directory.registerShards(shardNames, draining);
  }

  get shardIds(): ShardId[] {
    return this.shards.map((_orm, index) => index);
  }

  /**
   * Every shard's load: tenants (directory), rows and bytes per table and the write rate (PostgreSQL's statistics),
   * against the configured capacity. Each call may refresh the write-rate sample, so two instances share one window.
   */
  async loadReport(): Promise<ShardLoad[]> {
    const [registered, tenants] = await Promise.all([this.directory.registeredShards(), this.directory.load()]);
    const control = this.control.em.fork();
    const samples = new Map(
      (await control.execute<{ shard_id: number; writes: string; sampled_at: Date }[]>('select shard_id, writes, sampled_at from shard_load_sample')).map(
        (row) => [row.shard_id, { writes: Number(row.writes), sampledAt: new Date(row.sampled_at) }],
      ),
    );
    return Promise.all(
      registered.map(async (shard) => {
        const statistics = await readShardStatistics(this.em(shard.id));
        const previous = samples.get(shard.id);
        if (!previous || statistics.sampledAt.getTime() - previous.sampledAt.getTime() >= WRITE_SAMPLE_INTERVAL_MS || statistics.writes < previous.writes) {
          await control.execute(
            `insert into shard_load_sample (shard_id, writes, sampled_at) values (?, ?, ?)
               on conflict (shard_id) do update set writes = excluded.writes, sampled_at = excluded.sampled_at`,
            [shard.id, statistics.writes, statistics.sampledAt],
          );
        }
        return shardLoad({
          shardId: shard.id,
          databaseName: shard.databaseName,
          draining: shard.draining,
          tenants: tenants.get(shard.id) ?? 0,
          statistics,
          writesPerSecond: writeRate(previous, statistics),
          capacity: this.capacity,
        });
      }),
    );
  }

  /** A fresh EntityManager for one unit of work on `shardId`. */
  em(shardId: ShardId): EntityManager {
    const orm = this.shards[shardId];
    if (!orm) throw new Error(`Unknown shard ${shardId}`);
    return orm.em.fork();
  }

  /**
   * A fresh EntityManager on `shardId` from the shard's background pool: for the outbox relay and the shard mover, which
   * must not queue behind requests. A burst of writes to one hot account fills the request pool with transactions
   * waiting for its row lock; the relay and a move of that tenant then waited behind all of them for every statement
   * (the relay fell behind, a move crawled).
   */
  backgroundEm(shardId: ShardId): EntityManager {
    const orm = this.backgroundShards[shardId];
    if (!orm) throw new Error(`Unknown shard ${shardId}`);
    return orm.em.fork();
  }

  /**
   * A plain connection to `shardId`, outside every pool, for the shard mover's COPY statements (the ORM's pools offer
   * no COPY). The caller ends it. `applicationName` names the session in pg_stat_activity.
   */
  async connectShard(shardId: ShardId, applicationName?: string): Promise<pg.Client> {
    const orm = this.backgroundShards[shardId];
    if (!orm) throw new Error(`Unknown shard ${shardId}`);
    const client = new pg.Client({ connectionString: orm.config.get('clientUrl'), ...(applicationName ? { application_name: applicationName } : {}) });
    // A connection lost between statements emits 'error', which unheard would end the process; the next statement fails.
    client.on('error', (error) => this.logger.warn('shard connection lost', { shard: shardId, error: error.message }));
    await client.connect();
    return client;
  }

  /** Like backgroundEm, on the control database (the mover's records and switch; the relay's control outbox). */
  backgroundGlobalEm(): EntityManager {
    return this.backgroundControl.em.fork();
  }

  /** A fresh EntityManager on the control database, for the subgraph's platform-wide rows. */
  globalEm(): EntityManager {
    return this.control.em.fork();
  }

  /**
   * The EntityManagers (not forks) of every database, the control database's first: what a MikroORM RequestContext
   * forks for one unit of work that is not an HTTP request (a job). They cannot be used directly (no global context).
   */
  requestContextManagers(): EntityManager[] {
    return [this.control.em, ...this.shards.map((orm) => orm.em)];
  }

  /**
   * Places a new tenant (least-loaded shard), recording its partner when known, and returns a fork of its shard. For a
   * tenant's first write; writes to a tenant that may already be placed go through forTenant({ place: true }).
   */
  async placeTenant(tenantId: string, partnerId: string | null = null): Promise<{ shardId: ShardId; em: EntityManager }> {
    const shardId = await this.directory.place(tenantId, partnerId);
    return { shardId, em: this.em(shardId) };
  }

  /** Undoes the placement of a new tenant whose first write failed (see ShardDirectory.unplace). */
  async unplaceTenant(tenantId: string): Promise<void> {
    await this.directory.unplace(tenantId);
  }

  /**
   * Each tenant's shard, placing the tenants this subgraph has not seen yet (consumers that learn of tenants from
   * events): one directory lookup for the batch, a placement only per new tenant.
   */
  async placeMany(tenantIds: readonly string[]): Promise<Map<string, ShardId>> {
    const placed = await this.directory.lookup(tenantIds);
    for (const tenantId of new Set(tenantIds)) {
      if (!placed.has(tenantId)) placed.set(tenantId, await this.directory.place(tenantId, null));
    }
    return placed;
  }

  /**
   * The tenant's shard, or undefined when this subgraph has never seen the tenant. For reads: a write through this fork
   * is refused (SMOVD) once the tenant moved away, where forTenant would retry it on the new shard.
   */
  async emForTenant(tenantId: string): Promise<{ shardId: ShardId; em: EntityManager } | undefined> {
    const shardId = await this.directory.lookupOne(tenantId);
    return shardId === undefined ? undefined : { shardId, em: this.em(shardId) };
  }

  /**
   * Groups tenant ids by shard in one directory round trip, so a batch of N tenants costs
   * one directory query plus at most one query per shard, never one per tenant.
   */
  async groupByShard(tenantIds: readonly string[]): Promise<Map<ShardId, string[]>> {
    const placements = await this.directory.lookup(tenantIds);
    const groups = new Map<ShardId, string[]>();
    for (const [tenantId, shardId] of placements) {
      const group = groups.get(shardId) ?? [];
      group.push(tenantId);
      groups.set(shardId, group);
    }
    return groups;
  }

  /**
   * SQL that would bring each database in line with the entity metadata; empty when the hand-written
   * migrations and the entities agree. Tests assert it is empty so the two never drift apart.
   */
  async schemaDrift(): Promise<string[]> {
    const drift = await Promise.all(
      [this.control, ...this.shards].map((orm) => orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false })),
    );
    return drift.map((sql) => sql.trim()).filter((sql) => sql.length > 0);
  }

  /**
   * Hears placement changes: a move that switched a tenant notifies the control database's channel in its commit, and
   * every instance forgets its cached shard for the tenant. When the connection drops, every cached placement is
   * forgotten (a notification may have been missed) and the listener reconnects.
   */
  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.controlUrl });
    client.on('notification', (message) => {
      if (message.channel === DIRECTORY_CHANNEL && message.payload) this.directory.forget(message.payload);
    });
    client.on('error', () => {
      // 'end' follows; reconnect there.
    });
    client.on('end', () => {
      if (this.listener !== client || this.closed) return;
      this.listener = undefined;
      this.directory.forgetAll();
      const retry = setTimeout(() => {
        this.listen().catch((error: unknown) => this.logger.warn('directory listener failed to reconnect', { error: (error as Error).message }));
      }, 500);
      retry.unref();
    });
    await client.connect();
    await client.query(`listen ${DIRECTORY_CHANNEL}`);
    this.listener = client;
    // Changes made while no one listened are not replayed: start from an empty cache.
    this.directory.forgetAll();
  }

  /**
   * Runs one unit of work on the tenant's shard, retried on the new shard when the tenant moved meanwhile: a write that
   * began under the old placement is refused there (SQLSTATE SMOVD, never applied) and runs again where the directory
   * now points. Every write of a tenant's rows goes through here (or forTenantIfPlaced / forTenants). `place` places a
   * tenant this subgraph has not seen yet (recording `partnerId` when known); otherwise an unplaced tenant is an error.
   */
  async forTenant<T>(
    tenantId: string,
    work: (em: EntityManager, shardId: ShardId) => Promise<T>,
    options: { place?: boolean; partnerId?: string | null } = {},
  ): Promise<T> {
    const located = await this.retryMoved(
      [tenantId],
      async () => {
        const since = this.directory.currentGeneration;
        const shardId = options.place ? await this.directory.place(tenantId, options.partnerId ?? null) : await this.directory.lookupOne(tenantId);
        return shardId === undefined ? undefined : { shardId, since };
      },
      async ({ shardId, since }) => ({ value: await this.runOnShard(shardId, [tenantId], since, () => work(this.em(shardId), shardId)) }),
    );
    if (!located) throw new Error(`Tenant ${tenantId} is not placed in this subgraph`);
    return located.value;
  }

  /** forTenant for a tenant this subgraph may not have seen: `undefined` (and `work` not run) when it holds no placement. */
  async forTenantIfPlaced<T>(tenantId: string, work: (em: EntityManager, shardId: ShardId) => Promise<T>): Promise<T | undefined> {
    const located = await this.retryMoved(
      [tenantId],
      async () => {
        const since = this.directory.currentGeneration;
        const shardId = await this.directory.lookupOne(tenantId);
        return shardId === undefined ? undefined : { shardId, since };
      },
      async ({ shardId, since }) => ({ value: await this.runOnShard(shardId, [tenantId], since, () => work(this.em(shardId), shardId)) }),
    );
    return located?.value;
  }

  /**
   * One unit of work per shard for a batch of tenants (one directory query for the batch, placing new tenants when
   * `place`): a shard's unit refused because one of its tenants moved meanwhile runs again for those tenants where the
   * directory now points. Tenants without a placement (and not placed) are left out. Results in no particular order.
   */
  async forTenants<T>(
    tenantIds: readonly string[],
    work: (em: EntityManager, shardId: ShardId, tenantIds: string[]) => Promise<T>,
    options: { place?: boolean } = {},
    attempt = 0,
  ): Promise<T[]> {
    const unique = [...new Set(tenantIds)];
    if (unique.length === 0) return [];
    const since = this.directory.currentGeneration;
    const groups = options.place ? await this.placeMany(unique) : await this.directory.lookup(unique);
    const byShard = new Map<ShardId, string[]>();
    for (const [tenantId, shardId] of groups) byShard.set(shardId, [...(byShard.get(shardId) ?? []), tenantId]);
    const results = await Promise.all(
      [...byShard].map(async ([shardId, ids]) => {
        try {
          return [await this.runOnShard(shardId, ids, since, () => work(this.em(shardId), shardId, ids))];
        } catch (error) {
          if (!isTenantMoved(error) || attempt >= 200) throw error;
          // The unit rolled back as a whole: run it again for its tenants, wherever they are now.
          for (const id of ids) this.directory.forget(id);
          await pause(Math.min(50, 2 * (attempt + 1)));
          return this.forTenants(ids, work, options, attempt + 1);
        }
      }),
    );
    return results.flat();
  }

  /**
   * Runs a unit of work on the shard the directory named for `tenantIds` (looked up after generation `since`). A unit
   * that fails there for any reason while one of its tenants moved since it looked them up (this instance forgot the
   * placement: the switch's notification, or a refusal), or while that shard marks one of them as not its own (moved
   * away, or being copied onto it: see the mover's capture), may have failed because it ran on the wrong shard — it
   * located the tenant before a move and then, having waited (for a pool connection, say), found the rows cleaned up
   * (ACCOUNT_NOT_FOUND), half copied (a unique violation) or stale: a read refuses nothing, and a statement can fail
   * before the capture's refusal runs. It is reported as moved, so the caller runs it again where the directory points
   * now. Units are whole transactions, so nothing of a failed one was applied. Both checks run on failures only (the
   * mark is one indexed read); the first also covers a tenant moved away and back meanwhile, whose shard is unmarked again.
   */
  private async runOnShard<T>(shardId: ShardId, tenantIds: readonly string[], since: number, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isTenantMoved(error)) throw error;
      if (!this.directory.forgottenSince(tenantIds, since) && !(await this.notTheirShard(shardId, tenantIds))) throw error;
      throw new TenantMovedError(tenantIds, shardId, error);
    }
  }

  /** True when the shard marks one of the tenants as moved away or still arriving (a shard never moved has no marks). */
  private async notTheirShard(shardId: ShardId, tenantIds: readonly string[]): Promise<boolean> {
    try {
      const marks = await this.em(shardId).execute<unknown[]>(
        "select 1 from shard_move_tenant where tenant_id in (?) and state in ('switched', 'arriving') limit 1",
        [[...tenantIds]],
      );
      return marks.length > 0;
    } catch {
      // No mark table (no move ever touched this shard), or the shard is unreachable: the original error stands.
      return false;
    }
  }

  /** Locates, runs, and on a refusal because a tenant moved forgets the placement and tries again (bounded). */
  private async retryMoved<L, R>(tenantIds: readonly string[], locate: () => Promise<L | undefined>, run: (located: L) => Promise<R>): Promise<R | undefined> {
    for (let attempt = 0; ; attempt += 1) {
      const located = await locate();
      if (located === undefined) return undefined;
      try {
        return await run(located);
      } catch (error) {
        if (!isTenantMoved(error) || attempt >= 200) throw error;
        for (const tenantId of tenantIds) this.directory.forget(tenantId);
        // The directory switches right after the source refuses: wait a moment before asking it again.
        await pause(Math.min(50, 2 * (attempt + 1)));
      }
    }
  }

  /** Readiness: every database answers. */
  async ping(): Promise<void> {
    await Promise.all([this.control, ...this.shards].map((orm) => orm.em.fork().execute('select 1')));
  }

  /**
   * Closes every pool. Bounded: when the server vanished first (Ctrl-C reaches the embedded PostgreSQL too),
   * pg's pool.end() can wait forever for a connection that will never answer, and shutdown must not hang.
   */
  async close(timeoutMs = 3000): Promise<void> {
    this.closed = true;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      timer.unref();
    });
    const closed = Promise.all([this.control, this.backgroundControl, ...this.shards, ...this.backgroundShards].map((orm) => orm.close(true))).then(
      () => 'closed' as const,
    );
    const outcome = await Promise.race([closed, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.logger.warn('database pools did not close in time; abandoning them', { timeoutMs });
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A unit of work that failed on a shard its tenant is not on (see runOnShard): retried like a refused write. */
class TenantMovedError extends Error {
  readonly code = TENANT_MOVED_SQLSTATE;
  constructor(tenantIds: readonly string[], shardId: ShardId, cause: unknown) {
    super(`tenant ${tenantIds.join(', ')} is not on shard ${shardId} (it moved): ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'TenantMovedError';
  }
}

/** True for a write refused because its tenant moved to another shard (retry it where the directory now points). */
export function isTenantMoved(error: unknown): boolean {
  for (let current = error as { code?: string; cause?: unknown } | undefined, depth = 0; current && depth < 5; depth += 1) {
    if (current.code === TENANT_MOVED_SQLSTATE) return true;
    current = current.cause as typeof current;
  }
  return false;
}
