import type { Stack } from '@saldo/dev-stack';
import type { Logger } from '@saldo/service';
import { ShardMover, type CopyPaceSettings, type ShardMove } from '@saldo/sharding';
import { startBenchStack } from './bench-stack.js';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';
import { percentile } from './stats.js';

/** The targets: a 1M-entry tenant moved online in < 60 s, writes fenced < 1 s, nothing lost or doubled. */
const TARGET_MOVE_S = 60;
const TARGET_FENCE_MS = 1_000;

interface WriteSample {
  latencies: number[];
  /** Each call's scheduled start (performance.now()) beside its latency: the latency over time, by window. */
  scheduled: number[];
  errors: number;
  accepted: number;
  /** Failed calls by error code (GraphQL extensions.code, else SQLSTATE, else the error's name) and first message. */
  errorCodes: Map<string, { count: number; message: string }>;
}

/** A failed call's code: what a client would branch on, else what names the failure closest to where it happened. */
function errorCode(error: unknown): { code: string; message: string } {
  const found = error as { extensions?: { code?: unknown }; code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  const code = found?.extensions?.code ?? found?.code ?? (found?.cause as { code?: unknown } | undefined)?.code ?? found?.name ?? 'unknown';
  return { code: String(code), message: String(found?.message ?? error).slice(0, 300) };
}

/** `CODE ×count` per distinct code, most frequent first (empty when nothing failed). */
function formatCodes(codes: WriteSample['errorCodes']): string {
  return [...codes]
    .sort((a, b) => b[1].count - a[1].count)
    .map(([code, { count }]) => `${code} x${count}`)
    .join(', ');
}

let sequence = 0;

/**
 * recordUsage on the moving tenant at a fixed rate (open loop: each call starts on schedule whether or not earlier ones
 * finished; its latency counts from its scheduled start), one usage event per call, until stopped.
 */
function startWriter(stack: Stack, tenantId: string, perSecond: number): { stop(): Promise<WriteSample> } {
  const usage = stack.billing.services.usage;
  const sample: WriteSample = { latencies: [], scheduled: [], errors: 0, accepted: 0, errorCodes: new Map() };
  let running = true;
  const done = (async () => {
    const pending: Array<Promise<void>> = [];
    const start = performance.now();
    for (let index = 0; running; index += 1) {
      const scheduledAt = start + (index * 1000) / perSecond;
      const wait = scheduledAt - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      sequence += 1;
      pending.push(
        usage.recordUsage(tenantId, [{ id: `rebalance-${sequence}`, product: 'inbound_minute', quantity: 1, occurredAt: new Date().toISOString() }]).then(
          (result) => {
            sample.latencies.push(performance.now() - scheduledAt);
            sample.scheduled.push(scheduledAt);
            sample.accepted += result.accepted;
          },
          (error: unknown) => {
            sample.errors += 1;
            const { code, message } = errorCode(error);
            const seen = sample.errorCodes.get(code);
            if (seen) seen.count += 1;
            else {
              sample.errorCodes.set(code, { count: 1, message });
              console.log(`recordUsage failed: ${code}: ${message}`);
            }
          },
        ),
      );
    }
    await Promise.all(pending);
  })();
  return {
    async stop() {
      running = false;
      await done;
      return sample;
    },
  };
}

/** `entries` ledger entries of the tenant written in bulk on its billing shard (a consistent ledger: balance = sum). */
async function seedLedger(stack: Stack, tenantId: string, entries: number): Promise<void> {
  const db = stack.billing.runtime.db;
  await db.forTenant(tenantId, (em) =>
    em.transactional(async (tx) => {
      const [account] = await tx.execute<{ version: number; balance_minor: string }[]>(
        'select version, balance_minor::text from account where tenant_id = ? for update',
        [tenantId],
      );
      const base = account!.version;
      for (let from = 1; from <= entries; from += 100_000) {
        const to = Math.min(entries, from + 99_999);
        await tx.execute(
          `insert into ledger_entry (id, tenant_id, account_version, type, amount_minor, currency, balance_after_minor, idempotency_key, created_at)
           select gen_random_uuid(), ?, ? + v, 'BONUS', 1, 'EUR', ?::bigint + v, 'seed:' || v, now() from generate_series(?::int, ?::int) as v`,
          [tenantId, base, account!.balance_minor, from, to],
        );
      }
      await tx.execute('update account set version = version + ?, balance_minor = balance_minor + ? where tenant_id = ?', [entries, entries, tenantId]);
    }),
  );
  await db.em((await db.directory.lookupOne(tenantId))!).execute('analyze ledger_entry');
}

/** The stack logs warnings only: the mover's own lines (copy rate per table, the fence's steps) are printed too. */
function moveLogger(logger: Logger): Logger {
  return {
    ...logger,
    debug: (message, fields) => logger.debug(message, fields),
    info: (message, fields) => {
      console.log(`${message} ${JSON.stringify(fields ?? {})}`);
      logger.info(message, fields);
    },
    warn: (message, fields) => logger.warn(message, fields),
    error: (message, fields) => logger.error(message, fields),
    child: (service) => logger.child(service),
  };
}

/** Moves the tenant's billing rows to its other shard (copy, catch-up, fence, verify, switch, clean), as the job would. */
async function move(stack: Stack, tenantId: string, copyPace: CopyPaceSettings): Promise<{ move: ShardMove; switchS: number; totalS: number }> {
  const { db, relay } = stack.billing.runtime;
  const mover = new ShardMover(db, moveLogger(stack.billing.runtime.logger), {
    graceMs: 0,
    copyPace,
    drainOutbox: async () => {
      await relay.flush();
    },
  });
  const source = (await db.directory.lookupOne(tenantId))!;
  const begun = performance.now();
  const started = await mover.start(tenantId, 1 - source);
  const { move: done } = await mover.run(started.id);
  const totalS = (performance.now() - begun) / 1000;
  if (done.state !== 'CLEANED') throw new Error(`move ${done.id} ended ${done.state}: ${done.error ?? ''}`);
  return { move: done, switchS: (done.switchedAt!.getTime() - done.createdAt.getTime()) / 1000, totalS };
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The calls' p99 and max latency (ms) per `windowS` of their scheduled start from `from`: where in a move they waited. */
function latencyWindows(sample: WriteSample, from: number, windowS = 5): string {
  const windows = new Map<number, number[]>();
  sample.scheduled.forEach((at, index) => {
    const window = Math.floor((at - from) / 1000 / windowS);
    windows.set(window, [...(windows.get(window) ?? []), sample.latencies[index]!]);
  });
  return [...windows]
    .sort((a, b) => a[0] - b[0])
    .map(([window, latencies]) => {
      const sorted = latencies.sort((a, b) => a - b);
      return `${window * windowS}s:${Math.round(percentile(sorted, 0.99))}/${Math.round(sorted.at(-1)!)}`;
    })
    .join(' ');
}

function writeRow(scenario: string, sample: WriteSample, seconds: number): ResultRow {
  const sorted = [...sample.latencies].sort((a, b) => a - b);
  return {
    scenario,
    calls: sorted.length,
    errors: sample.errors,
    errorCodes: formatCodes(sample.errorCodes),
    perS: round(sorted.length / seconds),
    p50: round(percentile(sorted, 0.5), 2),
    p99: round(percentile(sorted, 0.99), 2),
    max: round(sorted.at(-1) ?? Number.NaN, 2),
    target: 'no error (writes wait at the fence)',
    met: sample.errors === 0,
  };
}

/**
 * Rebalancing (issue 13): a tenant with BENCH_REBALANCE_ENTRIES ledger entries moved between billing shards while it
 * records usage at BENCH_REBALANCE_WRITE_RATE calls/s: time to the switch and to the end, the fence, and recordUsage's
 * latency meanwhile; then BENCH_REBALANCE_MOVES moves back and forth of a BENCH_REBALANCE_SMALL_ENTRIES-entry tenant under
 * the same load for the fence's distribution. Afterwards every ledger is consistent and holds exactly the entries seeded
 * plus the calls acknowledged: nothing lost or doubled.
 */
export async function rebalancing(config: BenchConfig): Promise<void> {
  const bench = await startBenchStack(config, 'rebalancebench', 2);
  const { stack } = bench;
  const copyPace = { maxRowsPerS: config.BENCH_REBALANCE_COPY_MAX_ROWS_PER_S, minRowsPerS: config.BENCH_REBALANCE_COPY_MIN_ROWS_PER_S };
  try {
    const billing = stack.billing.services;
    await billing.rates.publish({ product: 'inbound_minute', currency: 'EUR', unitPriceMinor: '1', validFrom: new Date(Date.now() - 86_400_000) });
    const tenant = async (name: string, entries: number) => {
      const { id } = await stack.tenants.services.tenants.create({ name, currency: 'EUR', country: 'DE' });
      await stack.flushEvents(); // billing opens the account
      await billing.accounts.setOverdraftPolicy(
        { tenantId: id, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 1_000_000_000n, currency: 'EUR' } },
        { mayExtendCredit: true },
      );
      const seeding = performance.now();
      await seedLedger(stack, id, entries);
      console.log(`seeded ${entries} ledger entries of ${name} in ${round((performance.now() - seeding) / 1000)} s`);
      return id;
    };
    const rows: ResultRow[] = [];
    const checkLedger = async (tenantId: string, expectedEntries: number) => {
      const check = await billing.ledger.verify(tenantId);
      if (!check.consistent || check.entries !== expectedEntries)
        throw new Error(`ledger of ${tenantId} after the moves: ${check.entries} entries (expected ${expectedEntries}), consistent ${check.consistent}`);
    };

    // One big tenant, moved once under load.
    const big = await tenant('Rebalance big', config.BENCH_REBALANCE_ENTRIES);
    const writer = startWriter(stack, big, config.BENCH_REBALANCE_WRITE_RATE);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const moving = performance.now();
    const bigMove = await move(stack, big, copyPace);
    const during = await writer.stop();
    await stack.flushEvents();
    await checkLedger(big, config.BENCH_REBALANCE_ENTRIES + during.accepted);
    rows.push({
      scenario: `move ${config.BENCH_REBALANCE_ENTRIES.toLocaleString('en')} ledger entries under ${config.BENCH_REBALANCE_WRITE_RATE} writes/s`,
      rows: bigMove.move.totalRows,
      toSwitchS: round(bigMove.switchS),
      totalS: round(bigMove.totalS),
      fenceMs: bigMove.move.fenceMs ?? Number.NaN,
      target: `switch < ${TARGET_MOVE_S} s, fence < ${TARGET_FENCE_MS} ms`,
      met: bigMove.switchS < TARGET_MOVE_S && (bigMove.move.fenceMs ?? Infinity) < TARGET_FENCE_MS,
    });
    rows.push(writeRow('recordUsage during the big move (ms from scheduled start)', during, (performance.now() - moving) / 1000 + 2));
    // Printed now as well: the small moves that follow take minutes on a loaded machine.
    console.log(`big move: ${JSON.stringify(rows.slice(-2))}`);
    console.log(`recordUsage p99/max ms per 5 s from the move's start: ${latencyWindows(during, moving)}`);

    // A smaller tenant moved back and forth: the fence's distribution.
    const small = await tenant('Rebalance small', config.BENCH_REBALANCE_SMALL_ENTRIES);
    const smallWriter = startWriter(stack, small, config.BENCH_REBALANCE_WRITE_RATE);
    const fences: number[] = [];
    const switches: number[] = [];
    const smallStart = performance.now();
    for (let index = 0; index < config.BENCH_REBALANCE_MOVES; index += 1) {
      const result = await move(stack, small, copyPace);
      fences.push(result.move.fenceMs ?? Number.NaN);
      switches.push(result.switchS);
    }
    const smallWrites = await smallWriter.stop();
    await stack.flushEvents();
    await checkLedger(small, config.BENCH_REBALANCE_SMALL_ENTRIES + smallWrites.accepted);
    const sortedFences = [...fences].sort((a, b) => a - b);
    const sortedSwitches = [...switches].sort((a, b) => a - b);
    rows.push({
      scenario: `${config.BENCH_REBALANCE_MOVES} moves of ${config.BENCH_REBALANCE_SMALL_ENTRIES.toLocaleString('en')} entries under ${config.BENCH_REBALANCE_WRITE_RATE} writes/s`,
      fenceP50Ms: percentile(sortedFences, 0.5),
      fenceP99Ms: percentile(sortedFences, 0.99),
      fenceMaxMs: sortedFences.at(-1)!,
      toSwitchP50S: round(percentile(sortedSwitches, 0.5), 2),
      target: `fence < ${TARGET_FENCE_MS} ms`,
      met: (sortedFences.at(-1) ?? Infinity) < TARGET_FENCE_MS,
    });
    rows.push(writeRow('recordUsage during the small moves (ms from scheduled start)', smallWrites, (performance.now() - smallStart) / 1000));
    await report('rebalancing', rows, {
      entries: config.BENCH_REBALANCE_ENTRIES,
      smallEntries: config.BENCH_REBALANCE_SMALL_ENTRIES,
      moves: config.BENCH_REBALANCE_MOVES,
      writesPerS: config.BENCH_REBALANCE_WRITE_RATE,
      // Every distinct failure of recordUsage with its count and first message (the table shows the codes only).
      writeErrors: { bigMove: Object.fromEntries(during.errorCodes), smallMoves: Object.fromEntries(smallWrites.errorCodes) },
      batchSize: 5_000,
      copyPace,
      shards: 2,
    });
  } finally {
    await bench.destroy();
  }
}
