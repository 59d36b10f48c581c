import { startBenchStack } from './bench-stack.js';
import { Worker } from 'node:worker_threads';
import type { Stack } from '@saldo/dev-stack';
import { AutoTopUpMode, LedgerEntryType } from '@saldo/subgraph-billing';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';
import { percentile } from './stats.js';

/** Design target per shard: 2,000 usage events/s in batches of 100, p99 debit latency under 50 ms. */
const TARGET_EVENTS_PER_S = 2_000;
const TARGET_P99_MS = 50;
const BATCH = 100;
const TENANTS = 20;
/** Closed-loop callers for the saturation scenarios (the billing shard's pool has 10 connections). */
const CONCURRENCY = 8;
const PRODUCTS = ['inbound_minute', 'outbound_minute', 'sms'] as const;

const RECORD_USAGE = `mutation Record($input: RecordUsageInput!) { recordUsage(input: $input) { accepted duplicates balance { version } } }`;

type UsageEvent = { id: string; product: string; quantity: number; occurredAt: string };

interface Sample {
  latencies: number[];
  errors: number;
  events: number;
  elapsedMs: number;
}

let sequence = 0;
/** A batch of fresh (never seen) usage events, so every event is a real debit, not a duplicate. */
function freshBatch(): UsageEvent[] {
  const occurredAt = new Date(Date.now() - 1_000).toISOString();
  return Array.from({ length: BATCH }, () => {
    sequence += 1;
    return { id: `bench-${sequence}`, product: PRODUCTS[sequence % PRODUCTS.length]!, quantity: 1 + (sequence % 7), occurredAt };
  });
}

/** Closed loop: `concurrency` callers, each sending its next batch as soon as the previous one committed. */
async function closedLoop(stack: Stack, tenantIds: readonly string[], concurrency: number, durationMs: number, warmupMs: number): Promise<Sample> {
  const usage = stack.billing.services.usage;
  const sample: Sample = { latencies: [], errors: 0, events: 0, elapsedMs: durationMs };
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const tenantId = tenantIds[next++ % tenantIds.length]!;
        const sent = performance.now();
        try {
          const result = await usage.recordUsage(tenantId, freshBatch());
          if (sent >= measureFrom) {
            sample.latencies.push(performance.now() - sent);
            sample.events += result.accepted;
          }
        } catch {
          if (sent >= measureFrom) sample.errors += 1;
        }
      }
    }),
  );
  sample.elapsedMs = performance.now() - measureFrom;
  return sample;
}

/**
 * Open loop at a fixed arrival rate through the service: batches start on schedule whether or not earlier ones
 * finished, and each latency is measured from its scheduled start (no coordinated omission).
 */
async function openLoop(stack: Stack, tenantIds: readonly string[], eventsPerS: number, durationMs: number, warmupMs: number): Promise<Sample> {
  const usage = stack.billing.services.usage;
  const sample: Sample = { latencies: [], errors: 0, events: 0, elapsedMs: durationMs };
  const intervalMs = (1000 * BATCH) / eventsPerS;
  const total = Math.round((warmupMs + durationMs) / intervalMs);
  const warmupCount = Math.round(warmupMs / intervalMs);
  const start = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let index = 0; index < total; index += 1) {
    const scheduledAt = start + index * intervalMs;
    const wait = scheduledAt - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const record = index >= warmupCount;
    pending.push(
      usage.recordUsage(tenantIds[index % tenantIds.length]!, freshBatch()).then(
        (result) => {
          if (!record) return;
          sample.latencies.push(performance.now() - scheduledAt);
          sample.events += result.accepted;
        },
        () => {
          if (record) sample.errors += 1;
        },
      ),
    );
  }
  await Promise.all(pending);
  return sample;
}

/** Open loop through the gateway (GraphQL over HTTP), from a worker thread so the client does not share the servers' event loop. */
function gatewayLoop(url: string, headers: Record<string, string>, tenantIds: readonly string[], eventsPerS: number, durationMs: number, warmupMs: number) {
  const rps = eventsPerS / BATCH;
  const count = Math.ceil(((warmupMs + durationMs) / 1000) * rps) + 1;
  const bodies = Array.from({ length: count }, (_, index) =>
    JSON.stringify({ query: RECORD_USAGE, variables: { input: { tenantId: tenantIds[index % tenantIds.length], events: freshBatch() } } }),
  );
  return new Promise<{ latencies: number[]; errors: number }>((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: { url, rps, durationMs, warmupMs, bodies, headers } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** Postings measured for the round-trip count (the median is reported: a background poll may land in one). */
const ROUND_TRIP_POSTINGS = 25;

/**
 * Database round trips of one debit posting (BEGIN, statements, COMMIT), counted by billing's databases, with the
 * outbox relay and the consumers idle before each posting so only the posting talks to the database.
 */
async function roundTripsPerPosting(stack: Stack, tenantId: string, label: string): Promise<ResultRow> {
  const counts: number[] = [];
  for (let index = 0; index < ROUND_TRIP_POSTINGS; index += 1) {
    await stack.flushEvents();
    const before = stack.billing.metrics().databaseRoundTrips;
    await stack.billing.services.ledger.post({
      tenantId,
      entries: [{ type: LedgerEntryType.USAGE, amountMinor: -1n, idempotencyKey: `round-trips:${label}:${index}` }],
    });
    counts.push(stack.billing.metrics().databaseRoundTrips - before);
  }
  const sorted = counts.sort((a, b) => a - b);
  const median = percentile(sorted, 0.5);
  return {
    scenario: `round trips per debit posting, ${label}`,
    postings: counts.length,
    roundTrips: median,
    max: sorted.at(-1)!,
    target: '4 (BEGIN, lock, write, COMMIT)',
    met: median === 4,
  };
}

function row(scenario: string, sample: Sample, target: string, met: (eventsPerS: number, p99: number) => boolean): ResultRow {
  const sorted = [...sample.latencies].sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 100) / 100;
  const eventsPerS = Math.round(sample.events / (sample.elapsedMs / 1000));
  const p99 = round(percentile(sorted, 0.99));
  return {
    scenario,
    batches: sorted.length,
    errors: sample.errors,
    eventsPerS,
    p50: round(percentile(sorted, 0.5)),
    p95: round(percentile(sorted, 0.95)),
    p99,
    max: round(sorted.at(-1) ?? Number.NaN),
    target,
    met: sample.errors === 0 && met(eventsPerS, p99),
  };
}

/**
 * Ledger throughput on ONE billing shard: usage events per second in batches of 100 fresh events, each batch one
 * ledger transaction (row lock, dedupe, 100 entries, balance update, three outbox events), with the outbox relay
 * publishing concurrently. Latency is per batch: from sending it to its debit being committed.
 */
export async function ledgerThroughput(config: BenchConfig): Promise<void> {
  const bench = await startBenchStack(config, 'ledgerbench', 1);
  const { stack } = bench;
  try {
    const billing = stack.billing.services;
    const validFrom = new Date(Date.now() - 86_400_000);
    for (const [product, unitPriceMinor] of [
      ['inbound_minute', '12.5'],
      ['outbound_minute', '15'],
      ['sms', '7.9'],
    ] as const) {
      await billing.rates.publish({ product, currency: 'EUR', unitPriceMinor, validFrom });
    }
    const tenantIds: string[] = [];
    for (let index = 0; index < TENANTS; index += 1) {
      tenantIds.push((await stack.tenants.services.tenants.create({ name: `Ledger bench ${index}`, currency: 'EUR', country: 'DE' })).id);
    }
    await stack.flushEvents(); // billing opens the accounts
    // A generous overdraft so no batch is refused for balance: every call takes the full debit path.
    for (const tenantId of tenantIds) {
      await billing.accounts.setOverdraftPolicy(
        { tenantId, mode: 'ALLOW_OVERDRAFT', limit: { amountMinor: 1_000_000_000n, currency: 'EUR' } },
        { mayExtendCredit: true },
      );
    }
    // Round trips of one posting, without and with an auto-top-up rule (watched from the account row: no extra read).
    const [plain, watched] = tenantIds;
    const roundTripRows = [await roundTripsPerPosting(stack, plain!, 'no auto-top-up rule')];
    await billing.ledger.post({
      tenantId: watched!,
      entries: [{ type: LedgerEntryType.BONUS, amountMinor: 1_000_000n, idempotencyKey: 'round-trips:credit' }],
    });
    await billing.autoTopUp.set({
      tenantId: watched,
      threshold: { amountMinor: 1_000n, currency: 'EUR' },
      mode: AutoTopUpMode.FIXED_AMOUNT,
      amount: { amountMinor: 5_000n, currency: 'EUR' },
      dailyCap: { amountMinor: 50_000n, currency: 'EUR' },
      ...savedCard(stack, watched!),
    });
    roundTripRows.push(await roundTripsPerPosting(stack, watched!, 'auto-top-up rule, balance above its threshold'));
    await billing.autoTopUp.disable(watched!);

    const durationMs = config.BENCH_DURATION_S * 1000;
    const warmupMs = config.BENCH_WARMUP_S * 1000;
    const target = `>= ${TARGET_EVENTS_PER_S} events/s, p99 < ${TARGET_P99_MS} ms`;
    const rows: ResultRow[] = [...roundTripRows];

    const saturated = await closedLoop(stack, tenantIds, CONCURRENCY, durationMs, warmupMs);
    rows.push(
      row(
        `service, ${CONCURRENCY} callers, ${TENANTS} tenants (max sustained)`,
        saturated,
        `>= ${TARGET_EVENTS_PER_S} events/s`,
        (eps) => eps >= TARGET_EVENTS_PER_S,
      ),
    );

    const atTarget = await openLoop(stack, tenantIds, TARGET_EVENTS_PER_S, durationMs, warmupMs);
    rows.push(
      row(`service, open loop @ ${TARGET_EVENTS_PER_S} events/s`, atTarget, target, (eps, p99) => eps >= TARGET_EVENTS_PER_S * 0.98 && p99 < TARGET_P99_MS),
    );

    const headers = { authorization: `Bearer ${await stack.issueToken({ role: 'platform-admin', subject: 'bench' })}` };
    const viaGateway = await gatewayLoop(stack.graphqlUrl, headers, tenantIds, TARGET_EVENTS_PER_S, durationMs, warmupMs);
    rows.push(
      row(
        `GraphQL via gateway, open loop @ ${TARGET_EVENTS_PER_S} events/s`,
        { latencies: viaGateway.latencies, errors: viaGateway.errors, events: viaGateway.latencies.length * BATCH, elapsedMs: durationMs },
        target,
        (eps, p99) => eps >= TARGET_EVENTS_PER_S * 0.98 && p99 < TARGET_P99_MS,
      ),
    );

    const hot = await closedLoop(stack, tenantIds.slice(0, 1), 4, durationMs, warmupMs);
    rows.push(row('service, 4 callers on ONE account (serialized)', hot, 'informational', () => true));

    await stack.flushEvents();
    const inconsistent = await billing.ledger.inconsistentAccounts(0);
    if (inconsistent.length > 0) throw new Error(`ledger invariant broken for ${inconsistent.join(', ')}`);
    await report('ledger-throughput', rows, {
      batch: BATCH,
      tenants: TENANTS,
      concurrency: CONCURRENCY,
      shards: 1,
      poolMax: 10,
      durationS: config.BENCH_DURATION_S,
      warmupS: config.BENCH_WARMUP_S,
    });
  } finally {
    await bench.destroy();
  }
}

/** A card saved on the tenant's own customer at the Stripe stand-in (setAutoTopUp accepts nothing else). */
function savedCard(stack: Stack, tenantId: string): { stripeCustomerId: string; paymentMethodId: string } {
  if (!stack.stripeStandIn) throw new Error('the auto-top-up round trips need the Stripe stand-in');
  const saved = stack.stripeStandIn.savePaymentMethod(tenantId);
  return { stripeCustomerId: saved.customerId, paymentMethodId: saved.paymentMethodId };
}
