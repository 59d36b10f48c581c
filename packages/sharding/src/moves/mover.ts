import { randomUUID } from 'node:crypto';
import { IsolationLevel } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '@saldo/service';
import type { ShardId } from '../directory.js';
import type { ShardedDatabase } from '../sharded-database.js';
import type pg from 'pg';
import { FENCE_LOCK_CLASS, MOVER_SETTING, ident, installCapture, tenantFilter, tenantTables, type TenantTable } from './capture.js';
import { compareTable, describeDifferences, DIFFERENCES_READ_MAX, keysFilter, primaryKeyJson, rowText, sameKey } from './compare.js';
import { lastCopyKey, rangeEnd, readRange, writeRange, type CopyKey } from './copy.js';
import { COPY_APPLICATION_NAME, CopyPace, DEFAULT_COPY_PACE, type CopyPaceSettings } from './pace.js';

export const MOVE_STATES = ['PENDING', 'COPYING', 'CATCHING_UP', 'FENCED', 'VERIFYING', 'SWITCHED', 'CLEANED', 'FAILED'] as const;
export type MoveState = (typeof MOVE_STATES)[number];

/** Stable reasons a move is refused (the GraphQL edge turns them into extensions.code). */
export type MoveRefusal =
  | 'UNKNOWN_SHARD'
  | 'SAME_SHARD'
  | 'TENANT_ALREADY_MOVING'
  | 'TARGET_DRAINING'
  | 'TENANT_NOT_FOUND'
  | 'MOVE_NOT_FOUND'
  | 'MOVE_ALREADY_SWITCHED'
  | 'TOO_MANY_MOVES';

export class ShardMoveError extends Error {
  constructor(
    readonly code: MoveRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'ShardMoveError';
  }
}

export interface ShardMove {
  id: string;
  tenantId: string;
  sourceShard: ShardId;
  targetShard: ShardId;
  state: MoveState;
  copiedRows: number;
  totalRows: number;
  appliedChanges: number;
  fenceMs: number | null;
  cancelRequested: boolean;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  switchedAt: Date | null;
}

export interface MoverOptions {
  /** Per table, the column naming the tenant when it is not `tenant_id` (e.g. `{ tenant: 'id', outbox_event: 'key' }`). */
  tenantColumns?: Readonly<Record<string, string>>;
  /** Rows per keyset batch. */
  batchSize?: number;
  /** How long the source keeps the tenant's rows after the switch (instances' caches learn of the switch meanwhile). */
  graceMs?: number;
  /** The copy's pace, rows/s between a floor and a ceiling (see pace.ts); DEFAULT_COPY_PACE otherwise. */
  copyPace?: Partial<CopyPaceSettings>;
  /**
   * The pace of the whole-tenant comparison before the fence (see compare.ts); the copy's times COMPARE_PACE_FACTOR
   * otherwise.
   */
  comparePace?: Partial<CopyPaceSettings>;
  /** Publishes the shard's outbox now (the fence waits for the tenant's events to be published on the source). */
  drainOutbox?: () => Promise<void>;
  /** Test seam: called as each phase begins; a throw there stops the run as a crash would. */
  onPhase?: (move: ShardMove, phase: MoveState) => Promise<void> | void;
  /** Now, for the grace period. */
  now?: () => Date;
}

/** Target connections a copy writes with at once while the shards are quiet (one while they are busy; see ShardMover.copy). */
const COPY_WRITERS = 2;
/**
 * A live transaction (not the mover's) open this long on a shard means the shard's writes are waiting (for a row lock
 * queued behind others, for the CPU, for the WAL): the copy slows down. The tenant's postings take a few milliseconds.
 */
const BUSY_TRANSACTION_MS = 50;
/**
 * The probe itself (one short statement on each shard) taking this long means the database or this process is short
 * of CPU: live statements wait as long, each of them.
 */
const BUSY_ROUND_TRIP_MS = 10;

/** What the copy's probes saw, for its log line. */
interface ProbeSamples {
  oldestMs: number[];
  roundTripMs: number[];
}
/** The cleanup's pace is the copy's times this (deleting a row costs ~1/4 of copying it: ~125,000 rows/s unpaced). */
const CLEANUP_PACE_FACTOR = 4;
/**
 * The comparison's pace is the copy's times this: comparing a row (reading and hashing it on both shards at once) costs
 * the shards about a sixth of copying it (~285,000 rows/s unpaced, against 35,000-48,000 for the copy).
 */
const COMPARE_PACE_FACTOR = 6;
/** Catch-up rounds before fencing: each applies what arrived during the previous one, so the fence has little left. */
const CATCH_UP_ROUNDS = 20;
const CATCH_UP_SMALL_ENOUGH = 200;
/**
 * Longest the fence waits for the tenant's last source events to be published. Publishing may wait for consumers (the
 * in-process bus delivers inside publish), and a consumer's write may wait for another subgraph's fence of the same
 * tenant, whose drain may wait for a write here: past this the fence lets go (writes go on), drains outside, and
 * fences again, so two subgraphs moving one tenant at once cannot block each other.
 */
const FENCE_OUTBOX_WAIT_MS = 2_000;
/** Fences a run may let go of before it gives up (the job retries it later). */
const FENCE_YIELDS = 20;

interface Progress {
  /** Tables copied completely. */
  done: string[];
  /** The table in hand and its last copied primary key. */
  table?: string;
  after?: Record<string, unknown>;
}

/**
 * Moves one tenant's rows of one subgraph from its shard to another while the tenant keeps working. Every step is
 * recorded in the control database (`shard_move`) and is idempotent, so `run` resumes after a crash in any phase.
 * Generic over the subgraph: the tenant's tables are found in the catalog (see tenantTables).
 */
export class ShardMover {
  private readonly batchSize: number;
  private readonly graceMs: number;
  private readonly copyPace: CopyPaceSettings;
  private readonly comparePace: CopyPaceSettings;
  private readonly now: () => Date;
  private readonly tenantColumns: Readonly<Record<string, string>>;

  constructor(
    private readonly db: ShardedDatabase,
    private readonly logger: Logger,
    private readonly options: MoverOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 5_000;
    this.graceMs = options.graceMs ?? 30_000;
    this.copyPace = { ...DEFAULT_COPY_PACE, ...options.copyPace };
    if (this.copyPace.maxRowsPerS < this.copyPace.minRowsPerS) this.copyPace.maxRowsPerS = this.copyPace.minRowsPerS;
    this.comparePace = {
      minRowsPerS: this.copyPace.minRowsPerS * COMPARE_PACE_FACTOR,
      maxRowsPerS: this.copyPace.maxRowsPerS * COMPARE_PACE_FACTOR,
      ...options.comparePace,
    };
    if (this.comparePace.maxRowsPerS < this.comparePace.minRowsPerS) this.comparePace.maxRowsPerS = this.comparePace.minRowsPerS;
    this.now = options.now ?? (() => new Date());
    this.tenantColumns = { ...db.tenantColumns, ...(options.tenantColumns ?? {}) };
  }

  /**
   * Records a PENDING move after checking the request; nothing changes when it is refused. With `maxActive`, refused
   * when that many moves are unfinished already (checked under the same lock as the insert, so concurrent planners
   * on several instances never exceed it together).
   */
  async start(tenantId: string, targetShard: ShardId, options: { maxActive?: number } = {}): Promise<ShardMove> {
    const control = this.db.backgroundGlobalEm();
    return control.transactional(async (tx) => {
      // One start at a time per subgraph: the "already moving" check and the insert must not interleave.
      await tx.execute('select pg_advisory_xact_lock(?, 1)', [FENCE_LOCK_CLASS]);
      const shards = await this.db.directory.registeredShards();
      const target = shards.find((shard) => shard.id === targetShard);
      if (!target) throw new ShardMoveError('UNKNOWN_SHARD', `Shard ${targetShard} does not exist (shards ${shards.map((shard) => shard.id).join(', ')}).`);
      const [placement] = await tx.execute<{ shard_id: number }[]>('select shard_id from tenant_placement where tenant_id = ?', [tenantId]);
      if (!placement) throw new ShardMoveError('TENANT_NOT_FOUND', `Tenant ${tenantId} has no rows in this subgraph.`);
      if (placement.shard_id === targetShard) throw new ShardMoveError('SAME_SHARD', `Tenant ${tenantId} is already on shard ${targetShard}.`);
      if (target.draining) throw new ShardMoveError('TARGET_DRAINING', `Shard ${targetShard} is draining: it takes no tenants.`);
      const [active] = await tx.execute<{ id: string; state: MoveState }[]>(
        "select id, state from shard_move where tenant_id = ? and state not in ('CLEANED', 'FAILED')",
        [tenantId],
      );
      // A switched move still holds the tenant's old copy on its source until its grace period ends: a move back onto
      // that shard waits for the cleanup rather than copying over rows that are about to be deleted.
      if (active?.state === 'SWITCHED')
        throw new ShardMoveError(
          'TENANT_ALREADY_MOVING',
          `Tenant ${tenantId} switched shards in move ${active.id}, whose source is cleaned after the grace period: move it again once that move is CLEANED.`,
        );
      if (active) throw new ShardMoveError('TENANT_ALREADY_MOVING', `Tenant ${tenantId} is already moving (move ${active.id}).`);
      if (options.maxActive !== undefined) {
        const [unfinished] = await tx.execute<{ count: string }[]>("select count(*)::text as count from shard_move where state not in ('CLEANED', 'FAILED')");
        if (Number(unfinished!.count) >= options.maxActive)
          throw new ShardMoveError('TOO_MANY_MOVES', `${unfinished!.count} moves are unfinished; at most ${options.maxActive} at once.`);
      }
      const id = randomUUID();
      const now = this.now();
      await tx.execute(
        `insert into shard_move (id, tenant_id, source_shard, target_shard, state, progress, created_at, updated_at)
         values (?, ?, ?, ?, 'PENDING', ?, ?, ?)`,
        [id, tenantId, placement.shard_id, targetShard, JSON.stringify({ done: [] }), now, now],
      );
      return (await this.read(tx, id))!;
    });
  }

  /** Asks a move to stop; honoured before the switch (the source stays as it was), refused after it. */
  async cancel(moveId: string): Promise<ShardMove> {
    const control = this.db.backgroundGlobalEm();
    return control.transactional(async (tx) => {
      const [row] = await tx.execute<{ state: MoveState }[]>('select state from shard_move where id = ? for update', [moveId]);
      if (!row) throw new ShardMoveError('MOVE_NOT_FOUND', `No move ${moveId}.`);
      if (row.state === 'SWITCHED' || row.state === 'CLEANED')
        throw new ShardMoveError('MOVE_ALREADY_SWITCHED', `Move ${moveId} has switched the tenant already; move it back instead.`);
      if (row.state !== 'FAILED') await tx.execute('update shard_move set cancel_requested = true, updated_at = ? where id = ?', [this.now(), moveId]);
      return (await this.read(tx, moveId))!;
    });
  }

  async get(moveId: string): Promise<ShardMove | undefined> {
    return this.read(this.db.backgroundGlobalEm(), moveId);
  }

  /** Moves, newest first; unfinished ones only when `active`. */
  async list(options: { active?: boolean; limit?: number } = {}): Promise<ShardMove[]> {
    const rows = await this.db
      .globalEm()
      .execute<MoveRow[]>(`select * from shard_move ${options.active ? "where state not in ('CLEANED', 'FAILED')" : ''} order by created_at desc limit ?`, [
        options.limit ?? 50,
      ]);
    return rows.map(toMove);
  }

  /**
   * Drives the move to its end (CLEANED or FAILED) from whatever state it is in. Safe to call again after a crash:
   * each phase is idempotent. Returns early (state SWITCHED) when the grace period has not passed yet: `retryAt` says
   * when to call again.
   */
  async run(moveId: string, signal?: AbortSignal): Promise<{ move: ShardMove; retryAt?: Date }> {
    let yields = 0;
    for (;;) {
      signal?.throwIfAborted();
      const move = await this.get(moveId);
      if (!move) throw new ShardMoveError('MOVE_NOT_FOUND', `No move ${moveId}.`);
      if (move.state === 'CLEANED' || move.state === 'FAILED') return { move };
      if (move.cancelRequested && move.state !== 'SWITCHED') {
        await this.rollBack(move, 'cancelled by an operator');
        continue;
      }
      this.logger.debug('shard move phase', { move: move.id, state: move.state, copied: move.copiedRows, applied: move.appliedChanges });
      await this.options.onPhase?.(move, move.state);
      try {
        switch (move.state) {
          case 'PENDING':
            await this.beginCapture(move);
            break;
          case 'COPYING':
            await this.copy(move, signal);
            break;
          case 'CATCHING_UP':
            await this.catchUp(move);
            break;
          case 'FENCED':
          case 'VERIFYING':
            await this.fenceVerifySwitch(move, signal);
            break;
          case 'SWITCHED': {
            // Again after a crash between the directory's switch and the target's opening (idempotent).
            await this.openTarget(move);
            const due = new Date((move.switchedAt ?? move.updatedAt).getTime() + this.graceMs);
            if (due > this.now()) return { move, retryAt: due };
            await this.cleanUp(move);
            break;
          }
        }
      } catch (error) {
        if (error instanceof VerificationFailed) {
          await this.rollBack(move, error.message);
          continue;
        }
        if (error instanceof FenceYielded && yields < FENCE_YIELDS) {
          // The fence's transaction rolled back (writes go on); publish outside it, then fence again from the start.
          yields += 1;
          this.logger.info('shard move fence let go: the outbox was not published in time', {
            move: move.id,
            tenant: move.tenantId,
            yields,
            reason: error.message,
          });
          await this.options.drainOutbox?.();
          continue;
        }
        throw error;
      }
    }
  }

  /** Gives up a move that has not switched: the target's copy goes, the source's capture ends, the tenant stays. */
  async fail(moveId: string, reason: string): Promise<ShardMove> {
    const move = await this.get(moveId);
    if (!move) throw new ShardMoveError('MOVE_NOT_FOUND', `No move ${moveId}.`);
    if (move.state === 'SWITCHED' || move.state === 'CLEANED' || move.state === 'FAILED') return move;
    await this.rollBack(move, reason);
    return (await this.get(moveId))!;
  }

  // --- phases ---------------------------------------------------------------------------------------------------

  /** PENDING: capture the tenant's writes on the source from now on; the target starts empty for the tenant. */
  private async beginCapture(move: ShardMove): Promise<void> {
    const source = this.db.backgroundEm(move.sourceShard);
    const tables = await tenantTables(source, this.tenantColumns);
    const target = this.db.backgroundEm(move.targetShard);
    await installCapture(source, tables);
    await installCapture(target, await tenantTables(target, this.tenantColumns));
    // Until the switch the target refuses the tenant's ordinary writes (SMOVD: retried where the directory points). It
    // may have been the tenant's shard before (moved away, maybe cleaned): a write that looked the tenant up then and
    // arrives only now would land behind the copy's back, uncaptured — the checksum mismatch the rebalancing benchmark
    // found moving a tenant back and forth. Writes that passed the check before the marker are waited for, so the
    // deletion of leftovers below sees them.
    await target.execute(
      `insert into shard_move_tenant (tenant_id, move_id, state) values (?, ?, 'arriving')
         on conflict (tenant_id) do update set move_id = excluded.move_id, state = 'arriving'`,
      [move.tenantId, move.id],
    );
    const [arriving] = await target.execute<{ at: string }[]>('select clock_timestamp()::text as at');
    await this.waitForTransactionsBefore(target, arriving!.at);
    await source.execute(
      `insert into shard_move_tenant (tenant_id, move_id, state) values (?, ?, 'capturing')
         on conflict (tenant_id) do update set move_id = excluded.move_id, state = 'capturing'`,
      [move.tenantId, move.id],
    );
    await source.execute('delete from shard_move_change where tenant_id = ?', [move.tenantId]);
    // A transaction that wrote the tenant's rows before the capture began is not in the log and may commit after the
    // copy read its table: the copy starts only once every transaction older than the capture has ended.
    const [marked] = await source.execute<{ at: string }[]>('select clock_timestamp()::text as at');
    await this.waitForTransactionsBefore(source, marked!.at);
    // Events not yet published when the capture began are not in the log (it logs inserts from now on): log them, so
    // they copy once published. Later ones are logged by the trigger.
    const outbox = tables.find((table) => table.name === 'outbox_event');
    if (outbox) {
      await source.execute(
        `insert into shard_move_change (tenant_id, table_name, pk)
         select ?, 'outbox_event', jsonb_build_object('id', id) from outbox_event where ${tenantFilter(outbox)} and published_at is null order by seq`,
        [move.tenantId, move.tenantId],
      );
    }
    // Rows left on the target by an earlier, failed move of this tenant would be counted twice. (A copy from an earlier
    // move off the target still in its grace period cannot be there: `start` refuses while that move is unfinished.)
    await this.deleteTenantRows(target, tables, move.tenantId);
    const total = await this.countRows(source, tables, move.tenantId);
    await this.update(move.id, { state: 'COPYING', total_rows: total, copied_rows: 0, progress: JSON.stringify({ done: [] } satisfies Progress) });
  }

  /**
   * COPYING: every table's rows of the tenant, in keyset ranges of `batchSize` rows (short statements, no long locks),
   * each moved with COPY on connections of the move's own (see copy.ts). Ranges are read one after the other and written
   * by COPY_WRITERS target connections at once (the target's inserts, index maintenance above all, are the copy's main
   * cost), one while the shards are busy. The copy is paced (pace.ts): between ranges it probes both shards for waiting
   * live transactions and waits as its rate asks. The progress records the end of the ranges written without a gap: a
   * resumed copy rewrites the ranges after it.
   */
  private async copy(move: ShardMove, signal?: AbortSignal): Promise<void> {
    const tables = await tenantTables(this.db.backgroundEm(move.sourceShard), this.tenantColumns);
    let progress = await this.progress(move.id);
    let copied = move.copiedRows;
    const source = await this.db.connectShard(move.sourceShard, COPY_APPLICATION_NAME);
    const targets: pg.Client[] = [];
    try {
      for (let index = 0; index < COPY_WRITERS; index += 1) targets.push(await this.db.connectShard(move.targetShard, COPY_APPLICATION_NAME));
      for (const table of tables) {
        if (progress.done.includes(table.name)) continue;
        // A cursor of other columns (recorded before the table's keyset changed) starts the table again: copies are idempotent.
        let after = progress.table === table.name && sameColumns(progress.after, table.copyKey) ? progress.after : undefined;
        const started = performance.now();
        const timings = { read: 0, write: 0 };
        let tableRows = 0;
        const { pace, samples } = this.probedPace(move, this.copyPace);
        let writers = 1;
        // Rows past the tenant's last key now were written after the capture began: the change log brings them. Without
        // this bound the copy chased the rows the tenant kept writing (a table written faster than copied never ended).
        const upTo = await lastCopyKey(source, table, move.tenantId);
        const read = async (from: CopyKey | undefined) => {
          const begun = performance.now();
          const end = await rangeEnd(source, table, move.tenantId, from, upTo!, this.batchSize);
          const batch = await readRange(source, table, move.tenantId, from, end);
          timings.read += performance.now() - begun;
          return { end, ...batch };
        };
        // Writes in flight, oldest first; each holds one of the idle target connections until it is done.
        const writing: { end: CopyKey; rows: number; client: pg.Client; done: Promise<void> }[] = [];
        const idle = [...targets];
        const finishOldest = async () => {
          const oldest = writing.shift()!;
          await oldest.done;
          idle.push(oldest.client);
          copied += oldest.rows;
          tableRows += oldest.rows;
          progress = { ...progress, table: table.name, after: oldest.end };
          await this.update(move.id, { progress: JSON.stringify(progress), copied_rows: copied });
        };
        try {
          let batch = upTo ? await read(after) : undefined;
          while (batch) {
            signal?.throwIfAborted();
            if ((await this.get(move.id))?.cancelRequested) return;
            while (writing.length >= writers || idle.length === 0) await finishOldest();
            const client = idle.pop()!;
            const { end, data, rows } = batch;
            const from = after;
            const done = (async () => {
              const begun = performance.now();
              await writeRange(client, table, move.tenantId, from, end, data);
              timings.write += performance.now() - begun;
            })();
            // Awaited in turn by finishOldest; a failure meanwhile must not go unobserved.
            done.catch(() => undefined);
            writing.push({ end, rows, client, done });
            after = end;
            if (sameKey(end, upTo!)) break;
            // While this range is written: the shards' load decides the rate, the wait and the writers of the next.
            writers = (await pace.afterRange(rows, signal)) ? 1 : COPY_WRITERS;
            batch = await read(end);
          }
          while (writing.length > 0) await finishOldest();
        } finally {
          // After a failure: let the other writes end before the connections do (their transactions commit or roll back).
          await Promise.allSettled(writing.map((write) => write.done));
        }
        progress = { done: [...progress.done, table.name] };
        await this.update(move.id, { progress: JSON.stringify(progress), copied_rows: copied });
        const seconds = (performance.now() - started) / 1000;
        this.logger.info('shard move copied a table', {
          move: move.id,
          table: table.name,
          rows: tableRows,
          seconds: Math.round(seconds * 10) / 10,
          rowsPerS: Math.round(tableRows / Math.max(seconds, 0.001)),
          // Time spent reading the source and writing the target (they overlap: their sum may exceed `seconds`).
          readS: Math.round(timings.read / 100) / 10,
          writeS: Math.round(timings.write / 100) / 10,
          ...paceFields(pace, samples),
        });
      }
    } finally {
      await Promise.all([source, ...targets].map((client) => client.end().catch(() => undefined)));
    }
    await this.update(move.id, { state: 'CATCHING_UP' });
  }

  /** A pace between `rates` whose probe is shardsBusy on the move's two shards, recording the probe's samples. */
  private probedPace(move: ShardMove, rates: CopyPaceSettings): { pace: CopyPace; samples: ProbeSamples } {
    const samples: ProbeSamples = { oldestMs: [], roundTripMs: [] };
    return { pace: new CopyPace(rates, () => this.shardsBusy(move, samples)), samples };
  }

  /**
   * Whether either shard of the move is busy: a live transaction open for BUSY_TRANSACTION_MS or more (not the copy's own
   * connections, by their application_name; another move's copy is background work as well), or the probe's own round
   * trip taking BUSY_ROUND_TRIP_MS. The first sees every instance's sessions, not just this process's pools; it needs
   * the sessions' state in pg_stat_activity: the same role's, or any with pg_read_all_stats (others show a null state
   * and are not counted). The second sees a shortage of CPU, on the database or in this process, before the queues do.
   */
  private async shardsBusy(move: ShardMove, samples?: ProbeSamples): Promise<boolean> {
    const probes = await Promise.all(
      [move.sourceShard, move.targetShard].map(async (shard) => {
        const begun = performance.now();
        const [row] = await this.db.backgroundEm(shard).execute<{ oldest_ms: number }[]>(
          `select coalesce(max(extract(epoch from now() - xact_start) * 1000), 0)::float8 as oldest_ms from pg_stat_activity
            where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()
              and state <> 'idle' and application_name <> ?`,
          [COPY_APPLICATION_NAME],
        );
        return { oldestMs: Number(row?.oldest_ms ?? 0), roundTripMs: performance.now() - begun };
      }),
    );
    const oldestMs = Math.max(...probes.map((probe) => probe.oldestMs));
    const roundTripMs = Math.max(...probes.map((probe) => probe.roundTripMs));
    samples?.oldestMs.push(oldestMs);
    samples?.roundTripMs.push(roundTripMs);
    return oldestMs >= BUSY_TRANSACTION_MS || roundTripMs >= BUSY_ROUND_TRIP_MS;
  }

  /** CATCHING_UP: apply the logged changes in rounds until few are left, so the fence applies little. */
  private async catchUp(move: ShardMove): Promise<void> {
    for (let round = 0; round < CATCH_UP_ROUNDS; round += 1) {
      const applied = await this.applyChanges(move, { bounded: true });
      if (applied < CATCH_UP_SMALL_ENOUGH) break;
    }
    await this.update(move.id, { state: 'FENCED' });
  }

  /**
   * FENCED -> VERIFYING -> SWITCHED. First, outside the fence (writes go on), every table is compared in one snapshot of
   * the source: all the tenant's rows but those with a change still waiting in the log, which cover the whole tenant
   * once the fence has applied the log. Then in one hold of the tenant's fence lock on the source (writes of the tenant
   * wait: they take the lock shared) the last changes are applied, only the rows they touched (and those excluded
   * before) are compared, the subgraph's checks run on the target, the source marks the tenant moved (waiting writes are
   * then refused and retried on the new shard), and the directory switches with a new epoch. The fence's work is the
   * delta since the verification, not the tenant's size. A fence whose source events are not published within
   * FENCE_OUTBOX_WAIT_MS lets go (FenceYielded: its transaction rolls back, nothing switched) and `run` fences again.
   */
  private async fenceVerifySwitch(move: ShardMove, signal?: AbortSignal): Promise<void> {
    const source = this.db.backgroundEm(move.sourceShard);
    const tables = await tenantTables(source, this.tenantColumns);
    const steps: Record<string, number> = {};
    const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const begun = performance.now();
      const result = await work();
      steps[name] = Math.round(performance.now() - begun);
      return result;
    };
    let excluded = await step('verifyBefore', () => this.verifyAllButPending(move, tables, signal));
    // The comparison reads the whole tenant on both shards (seconds for a large one): what the tenant wrote meanwhile
    // would all be the fence's to apply. It is applied here instead, while writes go on, in rounds until a round finds
    // little, and compared outside the fence as well, so the fence applies and compares what arrived in the last round.
    excluded = await step('catchUpBefore', () => this.catchUpBeforeFence(move, tables, excluded));
    // Only the delta's application writes the target from here on: the checks' baselines hold (see MoveCheck.baseline).
    const baselines = await step('checksBefore', () => this.checkBaselines(move));
    // What arrived while the baselines were taken.
    await step('catchUpLast', () => this.applyChanges(move, { bounded: true, touched: excluded }));
    const touched = new Map<string, Map<string, Record<string, unknown>>>();
    const started = performance.now();
    await source.transactional(async (fence) => {
      await step('lock', () => fence.execute('select pg_advisory_xact_lock(?, hashtext(?))', [FENCE_LOCK_CLASS, move.tenantId]));
      await this.update(move.id, { state: 'FENCED' });
      await step('apply', () => this.applyChanges(move, { touched, source: fence }));
      await step('outbox', () => this.moveOutbox(move, tables, fence, touched, performance.now() + FENCE_OUTBOX_WAIT_MS));
      await this.update(move.id, { state: 'VERIFYING' });
      await this.options.onPhase?.({ ...move, state: 'VERIFYING' }, 'VERIFYING');
      for (const [table, keys] of excluded) for (const [key, pk] of keys) addKey(touched, table, key, pk);
      await step('verify', () => this.verifyKeys(move, tables, touched, fence));
      await step('checks', () => this.runChecks(move, baselines));
      // Inside the fence: committed together with the lock's release, so no waiting write sees "capturing" again.
      await fence.execute("update shard_move_tenant set state = 'switched' where tenant_id = ?", [move.tenantId]);
    });
    // Writes refused from here on retry until the directory names the target (next statement): a short window.
    const switchedAt = this.now();
    await this.db.backgroundGlobalEm().transactional(async (tx) => {
      await tx.execute('update tenant_placement set shard_id = ?, epoch = epoch + 1 where tenant_id = ?', [move.targetShard, move.tenantId]);
      await tx.execute(`update shard_move set state = 'SWITCHED', fence_ms = ?, switched_at = ?, updated_at = ? where id = ?`, [
        Math.round(performance.now() - started),
        switchedAt,
        switchedAt,
        move.id,
      ]);
      await tx.execute('select pg_notify(?, ?)', [DIRECTORY_CHANNEL, move.tenantId]);
    });
    this.db.directory.forget(move.tenantId);
    await this.openTarget(move);
    this.logger.info('tenant switched shards', {
      tenant: move.tenantId,
      from: move.sourceShard,
      to: move.targetShard,
      fenceMs: Math.round(performance.now() - started),
      ...steps,
    });
  }

  /**
   * The target takes the tenant's writes: its "arriving" marker goes. After the directory's switch, never before (a write
   * there before the switch would be lost if the fence ran again); writes refused in between retry until then.
   */
  private async openTarget(move: ShardMove): Promise<void> {
    await this.db.backgroundEm(move.targetShard).execute('delete from shard_move_tenant where tenant_id = ?', [move.tenantId]);
  }

  /** SWITCHED (after the grace period): the source's rows of the tenant go; the "moved away" marker stays. */
  private async cleanUp(move: ShardMove): Promise<void> {
    const source = this.db.backgroundEm(move.sourceShard);
    const begun = performance.now();
    // Paced like the copy (the tenant now writes on the target, often the same database server), at CLEANUP_PACE_FACTOR
    // times its rates: a deleted row costs the shard about a quarter of a copied one.
    const pace = new CopyPace(
      { minRowsPerS: this.copyPace.minRowsPerS * CLEANUP_PACE_FACTOR, maxRowsPerS: this.copyPace.maxRowsPerS * CLEANUP_PACE_FACTOR },
      () => this.shardsBusy(move),
    );
    await this.deleteTenantRows(source, await tenantTables(source, this.tenantColumns), move.tenantId, pace);
    await source.execute('delete from shard_move_change where tenant_id = ?', [move.tenantId]);
    await this.update(move.id, { state: 'CLEANED' });
    this.logger.info('shard move cleaned the source', {
      move: move.id,
      seconds: Math.round((performance.now() - begun) / 100) / 10,
      pausedS: Math.round(pace.stats.pausedMs / 100) / 10,
      busyBatches: `${pace.stats.busyRanges}/${pace.stats.ranges}`,
    });
  }

  /**
   * FAILED: the target's copy goes and the source stops capturing; the source's rows were never touched. The target keeps
   * its "arriving" marker: it is not the tenant's shard, and a stale write reaching it is still refused.
   */
  private async rollBack(move: ShardMove, reason: string): Promise<void> {
    const source = this.db.backgroundEm(move.sourceShard);
    const target = this.db.backgroundEm(move.targetShard);
    await source.transactional(async (tx) => {
      // Under the fence lock: no write of the tenant is between its check of the marker and its commit.
      await tx.execute('select pg_advisory_xact_lock(?, hashtext(?))', [FENCE_LOCK_CLASS, move.tenantId]);
      await tx.execute("delete from shard_move_tenant where tenant_id = ? and state <> 'switched'", [move.tenantId]).catch(ignoreMissingTable);
    });
    await source.execute('delete from shard_move_change where tenant_id = ?', [move.tenantId]).catch(ignoreMissingTable);
    await this.deleteTenantRows(target, await tenantTables(target, this.tenantColumns), move.tenantId);
    await this.update(move.id, { state: 'FAILED', error: reason });
    this.logger.warn('shard move failed; the tenant stays on its shard', { move: move.id, tenant: move.tenantId, reason });
  }

  // --- steps ----------------------------------------------------------------------------------------------------

  /**
   * Applies the logged changes: each key's current source row replaces the target's (or its absence deletes it).
   * Applied entries are deleted from the log rather than passed by a cursor: an entry with a lower sequence number may
   * commit after a higher one, and a cursor would skip it. An outbox entry waits in the log until its event is published.
   */
  private async applyChanges(
    move: ShardMove,
    options: { bounded?: boolean; touched?: Map<string, Map<string, Record<string, unknown>>>; source?: EntityManager } = {},
  ): Promise<number> {
    const source = options.source ?? this.db.backgroundEm(move.sourceShard);
    const target = this.db.backgroundEm(move.targetShard);
    const tables = new Map((await tenantTables(source, this.tenantColumns)).map((table) => [table.name, table]));
    let applied = 0;
    let seen = 0;
    // Outside the fence writes go on: one round applies what was logged when it began, so it ends.
    const [bound] = options.bounded
      ? await source.execute<{ max: string | null }[]>('select max(seq)::text as max from shard_move_change where tenant_id = ?', [move.tenantId])
      : [{ max: null }];
    const upTo = bound?.max === null || bound?.max === undefined ? Number.MAX_SAFE_INTEGER : Number(bound.max);
    for (;;) {
      const changes = await source.execute<{ seq: string; table_name: string; pk: Record<string, unknown> }[]>(
        'select seq, table_name, pk from shard_move_change where tenant_id = ? and seq > ? and seq <= ? order by seq limit ?',
        [move.tenantId, seen, upTo, this.batchSize],
      );
      if (changes.length === 0) return applied;
      seen = Number(changes[changes.length - 1]!.seq);
      // The latest state of each key is all that matters: one read per table and key, in the batch's order.
      const byTable = new Map<string, Map<string, { pk: Record<string, unknown>; seqs: string[] }>>();
      for (const change of changes) {
        const keys = byTable.get(change.table_name) ?? new Map<string, { pk: Record<string, unknown>; seqs: string[] }>();
        const key = JSON.stringify(change.pk);
        const entry = keys.get(key) ?? { pk: change.pk, seqs: [] };
        entry.seqs.push(change.seq);
        keys.set(key, entry);
        byTable.set(change.table_name, keys);
      }
      const done: string[] = [];
      for (const [name, keys] of byTable) {
        if (options.touched) for (const [key, entry] of keys) addKey(options.touched, name, key, entry.pk);
        const table = tables.get(name);
        if (!table) {
          for (const entry of keys.values()) done.push(...entry.seqs);
          continue;
        }
        const isOutbox = name === 'outbox_event';
        const pkList = [...keys.values()].map((entry) => entry.pk);
        const current = (
          await source.execute<{ row: Record<string, unknown> }[]>(
            `select to_jsonb(t) as row from ${ident(table.name)} t
              where (${table.primaryKey.map(ident).join(', ')}) in (select ${table.primaryKey.map((column) => `k.${ident(column)}`).join(', ')}
                      from jsonb_populate_recordset(null::${ident(table.name)}, ?::jsonb) k)`,
            [JSON.stringify(pkList)],
          )
        ).map((row) => row.row);
        let rows = current;
        let pks = pkList;
        if (isOutbox) {
          // Unpublished events stay in the log (and off the target) until the source has published them.
          const unpublished = new Set(current.filter((row) => row['published_at'] === null).map((row) => String(row['id'])));
          rows = withoutLocalColumns(
            table,
            current.filter((row) => !unpublished.has(String(row['id']))),
          );
          pks = pkList.filter((pk) => !unpublished.has(String(pk['id'])));
          for (const entry of keys.values()) if (!unpublished.has(String(entry.pk['id']))) done.push(...entry.seqs);
          // Copies are never replaced (published events are immutable): insert what the target lacks.
          if (rows.length > 0) await this.writeRows(target, table, rows);
          continue;
        }
        for (const entry of keys.values()) done.push(...entry.seqs);
        await target.transactional(async (tx) => {
          await maintenance(tx);
          if (table.localColumns.length > 0) {
            // The target numbers these rows itself: keys gone from the source go, the others are updated in place
            // (keeping the target's numbers, so the rows keep their order), new ones inserted in the source's order.
            const present = new Set(rows.map((row) => JSON.stringify(keyOf(table, row))));
            const gone = pks.filter((pk) => !present.has(JSON.stringify(keyOf(table, pk))));
            if (gone.length > 0) await deleteKeys(tx, table, gone);
            if (rows.length > 0) await upsertRows(tx, table, withoutLocalColumns(table, rows));
            return;
          }
          await deleteKeys(tx, table, pks);
          if (rows.length > 0) await insertRows(tx, table, rows);
        });
      }
      if (done.length > 0) await source.execute('delete from shard_move_change where seq in (?)', [done]);
      applied += done.length;
      await this.update(move.id, { applied_changes_add: done.length });
    }
  }

  /**
   * The outbox moves published only: an event is copied once the source published it (the target's copy keeps
   * published_at, so neither shard publishes it again). Inside the fence the source publishes what is left (nothing
   * new can be written meanwhile), so the tenant's next event comes from the target, after all of them.
   */
  private async moveOutbox(
    move: ShardMove,
    tables: readonly TenantTable[],
    source: EntityManager,
    touched: Map<string, Map<string, Record<string, unknown>>> | undefined,
    deadline: number,
  ): Promise<void> {
    const outbox = tables.find((table) => table.name === 'outbox_event');
    if (!outbox) return;
    for (;;) {
      const [pending] = await source.execute<{ count: string }[]>(
        `select count(*) as count from outbox_event where ${tenantFilter(outbox)} and published_at is null`,
        [move.tenantId],
      );
      if (Number(pending!.count) === 0) break;
      const left = deadline - performance.now();
      if (left <= 0) throw new FenceYielded(`${pending!.count} events of tenant ${move.tenantId} still unpublished on the source`);
      // A drain still running when the wait ends goes on by itself (a failed one is the relay's to retry).
      const drained = this.options.drainOutbox ? this.options.drainOutbox().catch(() => undefined) : new Promise((resolve) => setTimeout(resolve, 10));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    // Their change entries were waiting for publication: now they copy.
    await this.applyChanges(move, { source, ...(touched ? { touched } : {}) });
  }

  /**
   * Outside the fence: per table, row count and an order-independent checksum of the tenant's rows must be equal on both
   * shards, leaving out the keys with a change still in the log (read in the same snapshot of the source). A key without
   * one holds on the target what the source holds in that snapshot: every committed change of it logged an entry, and an
   * entry goes only once its key's row was copied after it. The target does not change meanwhile (this run is its only
   * writer). Returns the keys left out, per table, for the fence to compare.
   *
   * The comparison goes range by range of each table's copy key, paced (compare.ts), on connections of the move's own:
   * the source's holds one repeatable-read snapshot throughout (the busy probe leaves it out by its application_name,
   * as it does the copy's), so the ranges add up to the same comparison as one statement per table would make.
   */
  private async verifyAllButPending(
    move: ShardMove,
    tables: readonly TenantTable[],
    signal?: AbortSignal,
  ): Promise<Map<string, Map<string, Record<string, unknown>>>> {
    const pending = new Map<string, Map<string, Record<string, unknown>>>();
    const source = await this.db.connectShard(move.sourceShard, COPY_APPLICATION_NAME);
    try {
      const target = await this.db.connectShard(move.targetShard, COPY_APPLICATION_NAME);
      try {
        // The copy has just written the tenant's rows on the target, which its statistics do not know yet (autovacuum
        // analyzes later): with a tenant the statistics think absent, the planner read each range through another of
        // the tenant's indexes, the whole tenant per range (a 1,000,000-entry comparison took 66 s instead of a few). A
        // sample of each table (~0.2 s for a large one) tells it; the tenant's own queries after the switch gain too.
        await target.query(`analyze ${tables.map((table) => ident(table.name)).join(', ')}`);
        await source.query('begin isolation level repeatable read read only');
        const { rows: changes } = await source.query<{ table_name: string; pk: Record<string, unknown> }>(
          'select table_name, pk from shard_move_change where tenant_id = $1',
          [move.tenantId],
        );
        for (const change of changes) addKey(pending, change.table_name, JSON.stringify(change.pk), change.pk);
        for (const table of tables) {
          const started = performance.now();
          const { pace, samples } = this.probedPace(move, this.comparePace);
          const except = [...(pending.get(table.name)?.values() ?? [])];
          const compared = await compareTable({ source, target }, table, move.tenantId, except, this.batchSize, pace, signal);
          const seconds = (performance.now() - started) / 1000;
          this.logger.info('shard move compared a table', {
            move: move.id,
            table: table.name,
            rows: compared.rows,
            leftOut: except.length,
            seconds: Math.round(seconds * 10) / 10,
            rowsPerS: Math.round(compared.rows / Math.max(seconds, 0.001)),
            // Time cutting the ranges on the source, and summing them on each shard (both at once).
            cutS: Math.round(compared.cuttingMs / 100) / 10,
            sourceS: Math.round(compared.sourceMs / 100) / 10,
            targetS: Math.round(compared.targetMs / 100) / 10,
            ...paceFields(pace, samples),
          });
          if (compared.mismatch) throw new VerificationFailed(compared.mismatch);
        }
        await source.query('commit');
      } finally {
        await target.end().catch(() => undefined);
      }
    } finally {
      // Ends the snapshot too when the comparison failed (the transaction goes with the connection).
      await source.end().catch(() => undefined);
    }
    return pending;
  }

  /**
   * Before the fence, after verifyAllButPending: apply the log in rounds (each bounded to what was logged when it began)
   * until a round applies fewer than CATCH_UP_SMALL_ENOUGH changes, comparing after each round the keys still to be
   * compared. Returns the keys the fence must compare: those a comparison left out or a round applied since.
   */
  private async catchUpBeforeFence(
    move: ShardMove,
    tables: readonly TenantTable[],
    unverified: Map<string, Map<string, Record<string, unknown>>>,
  ): Promise<Map<string, Map<string, Record<string, unknown>>>> {
    let keys = unverified;
    for (let round = 0; round < CATCH_UP_ROUNDS; round += 1) {
      const applied = await this.applyChanges(move, { bounded: true, touched: keys });
      if (applied < CATCH_UP_SMALL_ENOUGH) break;
      keys = await this.verifyKeysButPending(move, tables, keys);
    }
    return keys;
  }

  /**
   * Outside the fence: the rows of `keys` must be equal on both shards but for the keys with a change still in the log,
   * read in the same snapshot of the source (the reasoning of verifyAllButPending, over these keys only). Returns the keys
   * left out (`keys` that have a change in the log), for a later comparison.
   */
  private async verifyKeysButPending(
    move: ShardMove,
    tables: readonly TenantTable[],
    keys: ReadonlyMap<string, ReadonlyMap<string, Record<string, unknown>>>,
  ): Promise<Map<string, Map<string, Record<string, unknown>>>> {
    const source = this.db.backgroundEm(move.sourceShard);
    const target = this.db.backgroundEm(move.targetShard);
    const left = new Map<string, Map<string, Record<string, unknown>>>();
    const compared = new Map<string, Record<string, unknown>[]>();
    const sourceSums = await source.transactional(
      async (tx) => {
        const changes = await tx.execute<{ table_name: string; pk: Record<string, unknown> }[]>(
          'select table_name, pk from shard_move_change where tenant_id = ?',
          [move.tenantId],
        );
        const pending = new Set(changes.map((change) => `${change.table_name}\u0000${JSON.stringify(change.pk)}`));
        const sums = new Map<string, Checksum>();
        for (const table of tables) {
          const only: Record<string, unknown>[] = [];
          for (const [key, pk] of keys.get(table.name) ?? []) {
            if (pending.has(`${table.name}\u0000${key}`)) addKey(left, table.name, key, pk);
            else only.push(pk);
          }
          if (only.length === 0) continue;
          compared.set(table.name, only);
          sums.set(table.name, await this.checksum(tx, table, move.tenantId, { only }));
        }
        return sums;
      },
      { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
    );
    for (const table of tables) {
      const only = compared.get(table.name);
      if (!only) continue;
      const a = sourceSums.get(table.name)!;
      const b = await this.checksum(target, table, move.tenantId, { only });
      if (a.count !== b.count || a.checksum !== b.checksum) {
        throw new VerificationFailed(
          `verification failed for ${table.name} (${only.length} changed keys): source ${a.count} rows (${a.checksum}), target ${b.count} rows (${b.checksum})`,
        );
      }
    }
    return left;
  }

  /** Inside the fence: the rows of the keys changed since the verification outside it (and those it left out) must be equal. */
  private async verifyKeys(
    move: ShardMove,
    tables: readonly TenantTable[],
    keys: ReadonlyMap<string, ReadonlyMap<string, Record<string, unknown>>>,
    source: EntityManager,
  ): Promise<void> {
    const target = this.db.backgroundEm(move.targetShard);
    for (const table of tables) {
      const only = [...(keys.get(table.name)?.values() ?? [])];
      if (only.length === 0) continue;
      const [a, b] = await Promise.all([this.checksum(source, table, move.tenantId, { only }), this.checksum(target, table, move.tenantId, { only })]);
      if (a.count !== b.count || a.checksum !== b.checksum) {
        const differing = await this.differences(move, table, { only });
        throw new VerificationFailed(
          `verification failed for ${table.name} (${only.length} changed keys): source ${a.count} rows (${a.checksum}), target ${b.count} rows (${b.checksum})${differing}`,
        );
      }
    }
  }

  /** The checks' summaries of the target's rows before the fence (see MoveCheck.baseline). */
  private async checkBaselines(move: ShardMove): Promise<Map<string, unknown>> {
    const target = this.db.backgroundEm(move.targetShard);
    const baselines = new Map<string, unknown>();
    for (const check of this.db.moveChecks) if (check.baseline) baselines.set(check.name, await check.baseline(target, move.tenantId));
    return baselines;
  }

  /**
   * The subgraph's checks (the ledger: sum of entries = cached balance, entries = version) on the target, whose rows are
   * proven equal to the source's by then (so the source's answer would be the same).
   */
  private async runChecks(move: ShardMove, baselines: ReadonlyMap<string, unknown>): Promise<void> {
    const target = this.db.backgroundEm(move.targetShard);
    for (const check of this.db.moveChecks) {
      const result = await check.run(target, move.tenantId, baselines.get(check.name));
      if (check.consistent && !check.consistent(result))
        throw new VerificationFailed(`verification "${check.name}" failed on the target: ${JSON.stringify(result)}`);
    }
  }

  /**
   * Row count and an order-independent checksum of the rows' text of the tenant in one table (without the columns each
   * shard numbers itself), over `only` those keys (the whole tenant's comparison is compare.ts's).
   */
  private async checksum(em: EntityManager, table: TenantTable, tenantId: string, keys: KeySelection): Promise<Checksum> {
    const rows = rowSelection(table, tenantId, keys);
    const [result] = await em.execute<Checksum[]>(
      `select count(*)::text as count, coalesce(sum(hashtextextended(${rows.row}, 0)::numeric), 0)::text as checksum
         from ${ident(table.name)} t where ${rows.where}`,
      rows.params,
    );
    return result!;
  }

  /**
   * For the message of a failed comparison (a move that will not switch): the first rows, by primary key, that differ
   * between the shards, as each holds them now. Read after the comparison, so a row the tenant changed meanwhile may
   * show too; bounded, and never the reason of a failure itself (an error here leaves the message as it was).
   */
  private async differences(move: ShardMove, table: TenantTable, keys: KeySelection): Promise<string> {
    try {
      const rows = rowSelection(table, move.tenantId, keys);
      const read = async (em: EntityManager) =>
        new Map(
          (
            await em.execute<{ key: string; row: string }[]>(
              `select ${rows.key}::text as key, ${rows.row} as row from ${ident(table.name)} t where ${rows.where} limit ${DIFFERENCES_READ_MAX}`,
              rows.params,
            )
          ).map(({ key, row }) => [key, row]),
        );
      const [source, target] = await Promise.all([read(this.db.backgroundEm(move.sourceShard)), read(this.db.backgroundEm(move.targetShard))]);
      return describeDifferences(source, target);
    } catch (error) {
      this.logger.warn('shard move could not list the rows that differ', { move: move.id, table: table.name, error: (error as Error).message });
      return '';
    }
  }

  private async writeRows(em: EntityManager, table: TenantTable, rows: Record<string, unknown>[]): Promise<void> {
    await em.transactional(async (tx) => {
      await maintenance(tx);
      await insertRows(tx, table, rows);
    });
  }

  private async deleteTenantRows(em: EntityManager, tables: readonly TenantTable[], tenantId: string, pace?: CopyPace): Promise<void> {
    // Children before parents would matter with foreign keys between tenant tables; delete in reverse catalog order
    // and repeat, so any order of dependencies converges.
    for (const table of [...tables].reverse()) {
      for (;;) {
        const deleted = await em.transactional(async (tx) => {
          await maintenance(tx);
          const rows = await tx.execute<{ n: string }[]>(
            `with doomed as (select ctid from ${ident(table.name)} where ${tenantFilter(table)} limit ?)
             delete from ${ident(table.name)} t using doomed where t.ctid = doomed.ctid returning 1 as n`,
            [tenantId, this.batchSize],
          );
          return rows.length;
        });
        if (deleted < this.batchSize) break;
        await pace?.afterRange(deleted);
      }
    }
  }

  private async countRows(em: EntityManager, tables: readonly TenantTable[], tenantId: string): Promise<number> {
    let total = 0;
    for (const table of tables) {
      const [row] = await em.execute<{ count: string }[]>(`select count(*) as count from ${ident(table.name)} where ${tenantFilter(table)}`, [tenantId]);
      total += Number(row!.count);
    }
    return total;
  }

  /** Waits until no transaction of this database that began before `at` is still open (others' do not matter). */
  private async waitForTransactionsBefore(em: EntityManager, at: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const [row] = await em.execute<{ open: string }[]>(
        `select count(*) as open from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null and xact_start < ?::timestamptz`,
        [at],
      );
      if (Number(row!.open) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, 5 * (attempt + 1))));
    }
  }

  private async progress(moveId: string): Promise<Progress> {
    const [row] = await this.db.backgroundGlobalEm().execute<{ progress: Progress | null }[]>('select progress from shard_move where id = ?', [moveId]);
    return row?.progress ?? { done: [] };
  }

  private async update(moveId: string, fields: Record<string, unknown>): Promise<void> {
    const sets: string[] = ['updated_at = ?'];
    const params: unknown[] = [this.now()];
    for (const [column, value] of Object.entries(fields)) {
      if (column === 'applied_changes_add') {
        sets.push('applied_changes = applied_changes + ?');
      } else {
        sets.push(`${ident(column)} = ?`);
      }
      params.push(value);
    }
    params.push(moveId);
    await this.db.backgroundGlobalEm().execute(`update shard_move set ${sets.join(', ')} where id = ?`, params);
  }

  private async read(em: EntityManager, moveId: string): Promise<ShardMove | undefined> {
    const [row] = await em.execute<MoveRow[]>('select * from shard_move where id = ?', [moveId]);
    return row ? toMove(row) : undefined;
  }
}

/** LISTEN/NOTIFY channel on the control database: a tenant's placement changed (every instance forgets it). */
export const DIRECTORY_CHANNEL = 'saldo_shard_directory';

/** A per-subgraph comparison beyond rows and checksums (the ledger: sum of entries, cached balance and version). */
export interface MoveCheck {
  name: string;
  /**
   * Outside the fence, on the target once its rows are proven equal to the source's but for the delta: a summary of what
   * will not change (the ledger's append-only entries up to a version), so `run` inside the fence reads only the rest.
   */
  baseline?(em: EntityManager, tenantId: string): Promise<unknown>;
  /** Inside the fence, on the target; `baseline` is what `baseline` returned (undefined without one). */
  run(em: EntityManager, tenantId: string, baseline?: unknown): Promise<unknown>;
  /** True when the result is internally consistent (e.g. balance = sum of entries). */
  consistent?(result: unknown): boolean;
}

class VerificationFailed extends Error {}
/** The fence let go before the switch (its transaction rolled back); the run fences again. */
class FenceYielded extends Error {}

/** Adds a primary key (by its JSON text) to the per-table key sets. */
function addKey(keys: Map<string, Map<string, Record<string, unknown>>>, table: string, key: string, pk: Record<string, unknown>): void {
  const ofTable = keys.get(table) ?? new Map<string, Record<string, unknown>>();
  ofTable.set(key, pk);
  keys.set(table, ofTable);
}

/** A table's rows of the tenant to compare: `only` those (by primary key). */
interface KeySelection {
  only: readonly Record<string, unknown>[];
}

/**
 * The SQL of a comparison (alias `t`): `where` selects the rows, `row` is a row's text without the columns each shard
 * numbers itself, `key` its primary key as JSON.
 */
function rowSelection(table: TenantTable, tenantId: string, keys: KeySelection): { where: string; params: unknown[]; row: string; key: string } {
  // By the primary key's own columns (its index), not an expression over every row of the tenant: this runs in the fence.
  return {
    where: `${tenantFilter(table, 't')} ${keysFilter(table, 'in', '?')}`,
    params: [tenantId, JSON.stringify(keys.only)],
    row: rowText(table),
    key: primaryKeyJson(table),
  };
}

interface Checksum {
  count: string;
  checksum: string;
}

interface MoveRow {
  id: string;
  tenant_id: string;
  source_shard: number;
  target_shard: number;
  state: MoveState;
  copied_rows: string;
  total_rows: string;
  applied_changes: string;
  fence_ms: number | null;
  cancel_requested: boolean;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  switched_at: Date | null;
}

function toMove(row: MoveRow): ShardMove {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    sourceShard: row.source_shard,
    targetShard: row.target_shard,
    state: row.state,
    copiedRows: Number(row.copied_rows),
    totalRows: Number(row.total_rows),
    appliedChanges: Number(row.applied_changes),
    fenceMs: row.fence_ms,
    cancelRequested: row.cancel_requested,
    error: row.error,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    switchedAt: row.switched_at ? new Date(row.switched_at) : null,
  };
}

/**
 * The pace's part of a copied or compared table's log line: time waited between ranges, the share of ranges that found
 * the shards busy, the last rate, and the probe's samples.
 */
function paceFields(pace: CopyPace, samples: ProbeSamples): Record<string, unknown> {
  return {
    pausedS: Math.round(pace.stats.pausedMs / 100) / 10,
    busyRanges: `${pace.stats.busyRanges}/${pace.stats.ranges}`,
    rateRowsPerS: Math.round(pace.rate),
    probeOldestMs: quantiles(samples.oldestMs),
    probeRoundTripMs: quantiles(samples.roundTripMs),
  };
}

/** `p50/p90/max` of the samples (rounded), for a log line. */
function quantiles(samples: number[]): string {
  if (samples.length === 0) return '-';
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (share: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!);
  return `${at(0.5)}/${at(0.9)}/${at(1)}`;
}

function sameColumns(key: Record<string, unknown> | undefined, columns: readonly string[]): boolean {
  return key !== undefined && Object.keys(key).length === columns.length && columns.every((column) => column in key);
}

function keyOf(table: TenantTable, row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(table.primaryKey.map((column) => [column, row[column]]));
}

/**
 * The mover's own writes: not captured, and allowed where a guard forbids ordinary writes (the ledger is append-only
 * except for exactly this: rows arriving on or leaving a shard with their tenant).
 */
async function maintenance(tx: EntityManager): Promise<void> {
  await tx.execute(`select set_config('${MOVER_SETTING}', 'on', true), set_config('saldo.ledger_maintenance', 'on', true)`);
}

/**
 * The rows without the columns each shard numbers itself, in the source's numbering order (the target numbers them as
 * they are inserted, so they keep their order: a notification lane's deliveries, say).
 */
function withoutLocalColumns(table: TenantTable, rows: Record<string, unknown>[]): Record<string, unknown>[] {
  if (table.localColumns.length === 0) return rows;
  const [order] = table.localColumns;
  return [...rows]
    .sort((a, b) => {
      const [x, y] = [BigInt(String(a[order!] ?? 0)), BigInt(String(b[order!] ?? 0))];
      return x < y ? -1 : x > y ? 1 : 0;
    })
    .map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !table.localColumns.includes(column))));
}

async function deleteKeys(tx: EntityManager, table: TenantTable, pks: readonly Record<string, unknown>[]): Promise<void> {
  await tx.execute(
    `delete from ${ident(table.name)} t using jsonb_populate_recordset(null::${ident(table.name)}, ?::jsonb) k
      where ${table.primaryKey.map((column) => `t.${ident(column)} = k.${ident(column)}`).join(' and ')}`,
    [JSON.stringify(pks)],
  );
}

/** Inserts rows or updates the ones the target has (by primary key), leaving the columns not given untouched. */
async function upsertRows(tx: EntityManager, table: TenantTable, rows: Record<string, unknown>[]): Promise<void> {
  const names = Object.keys(rows[0]!);
  const columns = names.map(ident).join(', ');
  const updated = names.filter((name) => !table.primaryKey.includes(name));
  await tx.execute(
    `insert into ${ident(table.name)} (${columns}) select ${columns} from jsonb_populate_recordset(null::${ident(table.name)}, ?::jsonb)
      on conflict (${table.primaryKey.map(ident).join(', ')}) ${
        updated.length > 0 ? `do update set ${updated.map((name) => `${ident(name)} = excluded.${ident(name)}`).join(', ')}` : 'do nothing'
      }`,
    [JSON.stringify(rows)],
  );
}

async function insertRows(tx: EntityManager, table: TenantTable, rows: Record<string, unknown>[]): Promise<void> {
  const columns = Object.keys(rows[0]!).map(ident).join(', ');
  await tx.execute(
    `insert into ${ident(table.name)} (${columns}) select ${columns} from jsonb_populate_recordset(null::${ident(table.name)}, ?::jsonb)
      on conflict do nothing`,
    [JSON.stringify(rows)],
  );
}

function ignoreMissingTable(error: unknown): void {
  if ((error as { code?: string }).code !== '42P01') throw error;
}
