import { startBenchStack } from './bench-stack.js';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Stack } from '@saldo/dev-stack';
import { BalanceChanged, Topic, decode } from '@saldo/events';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';
import { summarize } from './stats.js';

/** What a portal shows live: the balance, the entry that moved it and the tenant's name (an entity fetch on tenants). */
const PORTAL_SUBSCRIPTION = `subscription Balance($tenantId: ID!) {
  balanceChanged(tenantId: $tenantId) {
    balance { available { amountMinor currency } version updatedAt }
    entry { type product quantity amount { amountMinor } }
    tenant { name }
  }
}`;

/** Only billing's fields: no entity fetch per update. */
const BALANCE_ONLY = `subscription Balance($tenantId: ID!) {
  balanceChanged(tenantId: $tenantId) {
    balance { available { amountMinor currency } version updatedAt }
    entry { type product quantity amount { amountMinor } }
  }
}`;

const TARGET_P99_MS = 100;

interface ClientReport {
  latencies: number[];
  received: number;
  /** Updates the subscribers should have received while measuring (the versions they moved through). */
  expected: number;
  gaps: number;
  errors: number;
}

/**
 * Live balances end to end (embedded stack: in-process bus, all services and the gateway in this process; the
 * subscribers in a child process over graphql-ws):
 *
 * (a) latency from the ledger posting of recordUsage to receipt by the subscribed client, at BENCH_SUB_RATE usage
 *     events/s (one posting each) spread over BENCH_SUB_TENANTS subscribed tenants; target p99 < 100 ms.
 * (b) BENCH_SUB_CONNECTIONS concurrent subscriptions (one WebSocket each) on the one gateway process, over
 *     BENCH_SUB_FANOUT_TENANTS tenants, each subscription receiving one update per second: gateway-process memory
 *     per connection, delivery p99, and updates lost (versions a subscriber never saw).
 */
export async function subscriptions(config: BenchConfig): Promise<void> {
  const bench = await startBenchStack(config, 'benchsub');
  const { stack } = bench;
  const rows: ResultRow[] = [];
  try {
    const tenantCount = config.BENCH_SUB_SCENARIOS.includes('a')
      ? Math.max(config.BENCH_SUB_TENANTS, config.BENCH_SUB_FANOUT_TENANTS)
      : config.BENCH_SUB_FANOUT_TENANTS;
    const tenantIds = await seedTenants(stack, tenantCount);
    const durationMs = config.BENCH_SUB_DURATION_S * 1000;

    // (a) latency, one subscription per tenant: a billing-only selection at a third of, half of and the design rate,
    // then the portal's selection (plus an entity fetch on tenants per update) at the design rate.
    const tenants = tenantIds.slice(0, config.BENCH_SUB_TENANTS);
    const rate = config.BENCH_SUB_RATE;
    const lowerRates =
      config.BENCH_SUB_LOWER_RATES === undefined
        ? [Math.max(1, Math.round(rate / 3)), Math.max(1, Math.round(rate / 2))]
        : config.BENCH_SUB_LOWER_RATES.split(',')
            .filter(Boolean)
            .map(Number)
            .filter((value) => value > 0);
    const scenarios = [
      ...[...new Set([...lowerRates, rate])].map((r) => ({ rate: r, query: BALANCE_ONLY, selection: 'billing fields' })),
      { rate, query: PORTAL_SUBSCRIPTION, selection: 'billing + tenant { name } (entity fetch)' },
    ];
    const run = new Set(config.BENCH_SUB_SCENARIOS.split(','));
    for (const scenario of run.has('a') ? scenarios : []) {
      const subscribers = await Promise.all(tenants.map(async (tenantId, index) => ({ tenantId, token: await member(stack, tenantId, `latency-${index}`) })));
      const clients = await startClients(stack, subscribers, scenario.query);
      const probe = probeBus(stack);
      const load = await postUsage(stack, tenants, scenario.rate, durationMs, clients.child, () => probe.measure());
      const result = await clients.finish();
      await probe.stop();
      await drain(stack);
      const summary = summarize(result.latencies, result.errors, durationMs);
      const bus = summarize(probe.latencies, 0, durationMs);
      rows.push({
        scenario: `(a) posting -> client, ${scenario.rate} usage events/s over ${tenants.length} subscribed tenants, ${scenario.selection}`,
        count: summary.count,
        postings: load.posted,
        postingErrors: load.errors,
        p50: summary.p50,
        p95: summary.p95,
        p99: summary.p99,
        max: summary.max,
        // Where the time goes: from the posting to billing's feed (commit, outbox relay, bus), the rest is delivery.
        busP50: bus.p50,
        busP99: bus.p99,
        lost: Math.max(0, result.expected - result.received),
        target: scenario.rate === rate ? `p99 < ${TARGET_P99_MS} ms` : 'informational',
        met: summary.p99 < TARGET_P99_MS && result.received >= result.expected && load.errors === 0,
      });
    }

    // (b) many connections on one gateway process, one update per second each.
    if (run.has('b')) {
      const tenants = tenantIds.slice(0, config.BENCH_SUB_FANOUT_TENANTS);
      const connections = config.BENCH_SUB_CONNECTIONS;
      const subscribers = await Promise.all(
        Array.from({ length: connections }, async (_, index) => {
          const tenantId = tenants[index % tenants.length]!;
          return { tenantId, token: await member(stack, tenantId, `fanout-${index}`) };
        }),
      );
      global.gc?.();
      const before = process.memoryUsage();
      const clients = await startClients(stack, subscribers, PORTAL_SUBSCRIPTION);
      global.gc?.();
      const after = process.memoryUsage();
      const metrics = stack.gateway.subscriptionMetrics();
      // One posting per tenant per second: every subscription gets one update a second.
      const load = await postUsage(stack, tenants, tenants.length, durationMs, clients.child);
      const result = await clients.finish();
      const summary = summarize(result.latencies, result.errors, durationMs);
      rows.push({
        scenario: `(b) ${clients.connected} subscriptions (WebSockets) on one gateway, 1 update/s each (${tenants.length} tenants, ${metrics.shared} upstream)`,
        count: summary.count,
        postings: load.posted,
        postingErrors: load.errors,
        p50: summary.p50,
        p95: summary.p95,
        p99: summary.p99,
        max: summary.max,
        lost: Math.max(0, result.expected - result.received),
        delivered: `${result.received} of ${result.expected}`,
        rssPerConnectionKiB: Math.round((after.rss - before.rss) / clients.connected / 1024),
        heapPerConnectionKiB: Math.round((after.heapUsed - before.heapUsed) / clients.connected / 1024),
        target: `${connections} connected, none lost`,
        met: clients.connected === connections && result.received >= result.expected && load.errors === 0,
      });
    }

    await report('subscriptions', rows, {
      tenants: config.BENCH_SUB_TENANTS,
      ratePerS: config.BENCH_SUB_RATE,
      connections: config.BENCH_SUB_CONNECTIONS,
      fanoutTenants: config.BENCH_SUB_FANOUT_TENANTS,
      durationS: config.BENCH_SUB_DURATION_S,
      scenarios: config.BENCH_SUB_SCENARIOS,
      gc: Boolean(global.gc),
    });
  } finally {
    await bench.destroy();
  }
}

async function seedTenants(stack: Stack, count: number): Promise<string[]> {
  await stack.billing.services.rates.publish({
    product: 'inbound_minute',
    currency: 'EUR',
    unitPriceMinor: '1.25',
    validFrom: new Date(Date.now() - 86_400_000),
  });
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, (_, index) =>
        stack.tenants.services.tenants.create({ name: `Live tenant ${start + index}`, currency: 'EUR', country: 'DE' }),
      ),
    );
    ids.push(...batch.map((tenant) => tenant.id));
  }
  await stack.flushEvents();
  for (let start = 0; start < ids.length; start += 50) {
    await Promise.all(
      ids.slice(start, start + 50).map((tenantId) =>
        stack.billing.services.ledger.post({
          tenantId,
          entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 100_000_000n, idempotencyKey: `bench-seed:${tenantId}` }],
        }),
      ),
    );
  }
  await stack.flushEvents();
  return ids;
}

function member(stack: Stack, tenantId: string, subject: string): Promise<string> {
  return stack.issueToken({ role: 'tenant-member', subject, tenantId }, 3600);
}

async function startClients(stack: Stack, subscribers: Array<{ token: string; tenantId: string }>, query: string) {
  const child = fork(new URL('./subscription-clients.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = waitFor<{ connected: number; failed: number }>(child, 'ready');
  child.send({ type: 'start', url: stack.graphqlUrl, query, subscribers });
  const { connected, failed } = await ready;
  if (failed > 0) console.warn(`${failed} subscriptions failed to start`);
  return {
    child,
    connected,
    async finish(): Promise<ClientReport> {
      const reported = waitFor<ClientReport>(child, 'report');
      child.send({ type: 'report' });
      const result = await reported;
      await once(child, 'exit');
      return result;
    },
  };
}

function waitFor<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string } & T) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`subscription clients exited (${code}) before "${type}"`)));
  });
}

let runs = 0;

/**
 * Open loop: `rate` usage events per second, each its own posting, round robin over the tenants (so each tenant
 * gets rate/tenants updates a second). Runs a warm-up of two seconds before telling the clients to measure.
 */
async function postUsage(
  stack: Stack,
  tenantIds: readonly string[],
  rate: number,
  durationMs: number,
  clients: ChildProcess,
  onMeasure: () => void = () => undefined,
) {
  const usage = stack.billing.services.usage;
  let posted = 0;
  let errors = 0;
  let next = 0;
  let sequence = 0;
  // Event ids unique across scenarios: a repeated id would be a duplicate, charged (and announced) once.
  const run = `${process.pid}-${(runs += 1)}`;
  const warmupMs = 2_000;
  const start = performance.now();
  const tickMs = 10;
  const inFlight = new Set<Promise<void>>();
  let measuring = false;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      if (!measuring && elapsed >= warmupMs) {
        measuring = true;
        clients.send({ type: 'measure' });
        onMeasure();
      }
      if (elapsed >= warmupMs + durationMs) {
        clearInterval(timer);
        resolve();
        return;
      }
      // Catch up to the schedule: events due by now that were not sent yet.
      const due = Math.floor((elapsed / 1000) * rate);
      while (sequence < due) {
        sequence += 1;
        const tenantId = tenantIds[next++ % tenantIds.length]!;
        const counted = measuring;
        const sent = usage
          .recordUsage(tenantId, [{ id: `live-${run}-${sequence}`, product: 'inbound_minute', quantity: 1, occurredAt: new Date(Date.now() - 1_000) }])
          .then(
            () => {
              if (counted) posted += 1;
            },
            () => {
              if (counted) errors += 1;
            },
          );
        inFlight.add(sent);
        void sent.finally(() => inFlight.delete(sent));
      }
    }, tickMs);
  });
  await Promise.all(inFlight);
  // Let the last updates reach the clients: wait until the gateway delivered everything it received.
  await settle(stack);
  return { posted, errors };
}

/**
 * A consumer group of its own on balance-events, next to billing's feed: the time from each posting (the balance's
 * changedAt) to its event reaching consumers, i.e. commit + outbox relay + bus, without the delivery to clients.
 */
function probeBus(stack: Stack) {
  const latencies: number[] = [];
  let measuring = false;
  const unsubscribe = stack.bus.subscribe(
    Topic.BalanceEvents,
    `bench.bus-probe.${(probes += 1)}`,
    async (event) => {
      const change = decode(BalanceChanged, event);
      if (measuring && change) latencies.push(Date.now() - Date.parse(change.changedAt));
    },
    { startAt: 'latest' },
  );
  return {
    latencies,
    measure: () => {
      measuring = true;
    },
    stop: async () => {
      measuring = false;
      await unsubscribe();
    },
  };
}

let probes = 0;

/** Publishes what is still in the outboxes and lets the gateway deliver it, so scenarios do not overlap. */
async function drain(stack: Stack): Promise<void> {
  await stack.flushEvents();
  await settle(stack);
}

/** Waits until the gateway's delivered counter stops moving (its last events reached the subscribers' buffers). */
async function settle(stack: Stack): Promise<void> {
  let previous = -1;
  for (let round = 0; round < 50; round += 1) {
    const delivered = stack.gateway.subscriptionMetrics().delivered;
    if (delivered === previous) return;
    previous = delivered;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
