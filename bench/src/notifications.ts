import { fork } from 'node:child_process';
import os from 'node:os';
import { startStack } from '@saldo/dev-stack';
import { createLogger } from '@saldo/service';
import { dropDatabases } from '@saldo/sharding';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { uniquePrefix } from '@saldo/testing';
import type { BenchConfig } from './config.js';
import type { ReceiversReady, ReceiversReport } from './notification-receivers.js';
import { report } from './report.js';
import { summarize } from './stats.js';

const WITHIN_MS = 5_000;

/** Runs `work` over `items` with at most `concurrency` at once. */
async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let index = next++; index < items.length; index = next++) await work(items[index]!, index);
    }),
  );
}

/**
 * Notifications under a burst: BENCH_NOTIFY_EVENTS tenants (one partner) each cross their low-balance threshold at once
 * (one debit each, posted as fast as billing takes them), so billing derives that many `balance.low` events; each goes
 * out as one mail (a real SMTP server: smtp-server) and one signed webhook (a local HTTP receiver). Latency is from the
 * event's commit (the posting's time, stamped in its transaction) to the receiver having it; the target is > 99 %
 * delivered within 5 s on each channel.
 */
export async function notifications(config: BenchConfig): Promise<void> {
  const count = config.BENCH_NOTIFY_EVENTS;
  // Receivers in a process of their own (an SMTP server and a webhook receiver are other systems): they record arrivals.
  const receivers = fork(new URL('./notification-receivers.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<never>((_resolve, reject) => receivers.once('exit', (code) => reject(new Error(`the receivers exited (${code})`))));
  exited.catch(() => undefined);
  const next = <T extends { type: string }>(type: T['type']) =>
    Promise.race([
      exited,
      new Promise<T>((resolve) => {
        const onMessage = (message: T) => {
          if (message.type !== type) return;
          receivers.off('message', onMessage);
          resolve(message);
        };
        receivers.on('message', onMessage);
      }),
    ]);
  const closeReceivers = async () => {
    if (receivers.exitCode !== null) return;
    receivers.send({ type: 'close' });
    await exited.catch(() => undefined);
  };
  const { smtpPort, hookPort } = await next<ReceiversReady>('ready');
  const hookUrl = `http://127.0.0.1:${hookPort}/hooks`;

  const logger = createLogger({ service: 'bench', level: 'warn' });
  const stack = await startStack({
    postgresUrl: config.BENCH_POSTGRES_URL,
    databasePrefix: uniquePrefix('notify'),
    shardsPerSubgraph: 2,
    ports: { gateway: 0, tenants: 0, billing: 0, usageForecast: 0, whiteLabel: 0 },
    logger,
    logLevel: 'warn',
    poolMax: 10,
    automaticRebalance: false,
    tenantsEnv: {
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      ...(config.BENCH_NOTIFY_SMTP_CONNECTIONS ? { SMTP_MAX_CONNECTIONS: String(config.BENCH_NOTIFY_SMTP_CONNECTIONS) } : {}),
    },
  }).catch(async (error: unknown) => {
    await closeReceivers();
    throw error;
  });
  try {
    const tenants = stack.tenants.services;
    const billing = stack.billing.services;
    const partner = await tenants.partners.create({ name: 'Bench Reseller', country: 'DE', contactEmail: 'ops@bench.test' });
    const { secret } = await tenants.notifications.endpoints.create({ partnerId: partner.id, url: hookUrl, eventTypes: ['balance.low'] });
    receivers.send({ type: 'secret', secret }); // the receiver verifies every signature, as a real one must
    console.log(`setting up ${count} tenants (threshold 50.00 EUR, balance 60.00 EUR, a mail recipient each, the partner's webhook endpoint)`);
    const ids: string[] = [];
    await inParallel(Array.from({ length: count }), 16, async (_item, index) => {
      const tenant = await tenants.tenants.create({ name: `Bench ${index}`, currency: 'EUR', country: 'DE', partnerId: partner.id });
      ids.push(tenant.id);
      await tenants.notifications.settings.set(tenant.id, {
        recipients: [`t${index}@bench.test`],
        lowBalanceThresholds: [{ amountMinor: 5_000n, currency: 'EUR' }],
      });
    });
    await stack.flushEvents(); // accounts opened, thresholds known to billing
    await inParallel(ids, 16, async (tenantId) => {
      await billing.ledger.post({
        tenantId,
        currency: 'EUR',
        entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 6_000n, idempotencyKey: 'bench:top-up' }],
      });
    });
    await stack.flushEvents();
    await stack.tenants.services.notifications.dispatcher.idle();

    console.log(`burst: ${count} debits crossing the threshold`);
    const receiverCpuBefore = await (async () => {
      const asked = next<ReceiversReport>('report');
      receivers.send({ type: 'report' });
      return (await asked).cpuMs;
    })();
    const roundTripsBefore = stack.tenants.metrics().databaseRoundTrips;
    const cpuBefore = process.cpuUsage();
    const started = Date.now();
    await inParallel(ids, 64, async (tenantId) => {
      await billing.ledger.post({
        tenantId,
        currency: 'EUR',
        entries: [{ type: LedgerEntryType.USAGE, amountMinor: -1_500n, idempotencyKey: 'bench:debit', product: 'inbound_minute' }],
      });
    });
    const posted = Date.now() - started;
    // Wait for the receivers (bounded: a benchmark stops by itself), then for the platform to settle.
    // The burst's notifications (balance.low): id -> the event's time (kept with its notification).
    const burstNotifications = async () => {
      const occurred = new Map<string, number>();
      for (const shardId of stack.tenants.runtime.db.shardIds) {
        const rows = await stack.tenants.runtime.db
          .em(shardId)
          .execute<{ id: string; occurred_ms: string }[]>(
            `select id, floor(extract(epoch from occurred_at) * 1000)::bigint as occurred_ms from notification where kind = 'balance.low'`,
          );
        for (const row of rows) occurred.set(row.id, Number(row.occurred_ms));
      }
      return occurred;
    };
    const deadline = Date.now() + 120_000;
    let received: ReceiversReport;
    for (;;) {
      const asked = next<ReceiversReport>('report');
      receivers.send({ type: 'report' });
      received = await asked;
      if (Date.now() > deadline) break;
      // The receiver also gets the mails of documents the setup's top-ups issued: count only the burst's own.
      if (received.mails.length >= count && received.hooks.length >= count) {
        const ours = await burstNotifications();
        if (received.mails.filter(([id]) => ours.has(id)).length >= count) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await stack.tenants.services.notifications.dispatcher.idle();
    const cpu = process.cpuUsage(cpuBefore);
    const platformCpuMs = Math.round((cpu.user + cpu.system) / 1000);
    const roundTrips = stack.tenants.metrics().databaseRoundTrips - roundTripsBefore;
    const receiverCpuMs = received.cpuMs - receiverCpuBefore;

    // Mail latency: from the event's time (kept with its notification) to the SMTP server having the message.
    const occurred = await burstNotifications();
    const mailLatencies = received.mails.flatMap(([id, at]) => (occurred.has(id) ? [at - occurred.get(id)!] : []));
    // Webhook latency: from the event's time (the payload's timestamp) to the receiver having the request.
    const hookLatencies = received.hooks.map(([, at, timestamp]) => at - timestamp);
    // Where the time goes: event -> notification recorded (relay, bus, notifier) and recorded -> delivered (dispatch).
    const stages = { recorded: [] as number[], mail: [] as number[], webhook: [] as number[] };
    for (const shardId of stack.tenants.runtime.db.shardIds) {
      const rows = await stack.tenants.runtime.db.em(shardId).execute<{ channel: string; recorded_ms: string; delivered_ms: string | null }[]>(
        `select d.channel, floor(extract(epoch from n.created_at - n.occurred_at) * 1000)::bigint as recorded_ms,
                floor(extract(epoch from d.delivered_at - n.created_at) * 1000)::bigint as delivered_ms
           from notification n join notification_delivery d on d.notification_id = n.id where n.kind = 'balance.low'`,
      );
      for (const row of rows) {
        if (row.channel === 'EMAIL') stages.recorded.push(Number(row.recorded_ms));
        if (row.delivered_ms !== null) (row.channel === 'EMAIL' ? stages.mail : stages.webhook).push(Number(row.delivered_ms));
      }
    }
    // Attempts that failed (each is retried with back-off, so one failure costs that delivery at least 5 s).
    const failures = { mail: 0, webhook: 0, errors: new Map<string, number>() };
    for (const shardId of stack.tenants.runtime.db.shardIds) {
      // Of every kind: the setup's top-ups issue documents whose mails (with their PDF) share the tenants' mail lanes.
      const rows = await stack.tenants.runtime.db.em(shardId).execute<{ channel: string; kind: string; error: string; count: string }[]>(
        `select d.channel, n.kind, coalesce(a.error, 'HTTP ' || a.response_code) as error, count(*) as count
           from notification_delivery_attempt a join notification_delivery d on d.id = a.delivery_id
           join notification n on n.id = d.notification_id
          where not a.succeeded group by 1, 2, 3`,
      );
      for (const row of rows) {
        failures[row.channel === 'EMAIL' ? 'mail' : 'webhook'] += Number(row.count);
        const key = `${row.kind}: ${row.error}`;
        failures.errors.set(key, (failures.errors.get(key) ?? 0) + Number(row.count));
      }
    }
    if (failures.errors.size > 0) console.log('failed attempts:', Object.fromEntries(failures.errors));
    // Where each delivery stands once the wait is over (every one should be DELIVERED), and how long mail attempts took
    // from the dispatcher handing the message to the mailer to the server's reply (the wait in the SMTP pool included).
    const statuses = new Map<string, number>();
    const mailAttemptMs: number[] = [];
    for (const shardId of stack.tenants.runtime.db.shardIds) {
      const em = stack.tenants.runtime.db.em(shardId);
      for (const row of await em.execute<{ channel: string; kind: string; status: string; count: string }[]>(
        `select d.channel, n.kind, d.status, count(*) as count
           from notification_delivery d join notification n on n.id = d.notification_id group by 1, 2, 3`,
      )) {
        const key = `${row.kind} ${row.channel} ${row.status}`;
        statuses.set(key, (statuses.get(key) ?? 0) + Number(row.count));
      }
      for (const row of await em.execute<{ duration_ms: number }[]>(
        `select a.duration_ms from notification_delivery_attempt a join notification_delivery d on d.id = a.delivery_id
          where d.channel = 'EMAIL' and a.succeeded`,
      ))
        mailAttemptMs.push(Number(row.duration_ms));
    }
    console.log('deliveries by kind, channel and status:', Object.fromEntries(statuses));
    if (received.unmatchedMails > 0) console.log(`mails without a notification's Message-ID: ${received.unmatchedMails}`);
    const p = (values: number[], fraction: number) => summarize(values, 0, 1)[fraction === 0.5 ? 'p50' : 'p99'];
    console.log(
      `event -> recorded p50/p99 ${p(stages.recorded, 0.5)}/${p(stages.recorded, 0.99)} ms; recorded -> attempt started: mail ${p(stages.mail, 0.5)}/${p(stages.mail, 0.99)} ms, ` +
        `webhook ${p(stages.webhook, 0.5)}/${p(stages.webhook, 0.99)} ms; mail attempt (mailer -> SMTP reply) ${p(mailAttemptMs, 0.5)}/${p(mailAttemptMs, 0.99)} ms; ` +
        `burst posted in ${posted} ms`,
    );
    const within = (latencies: number[]) => latencies.filter((latency) => latency <= WITHIN_MS).length / count;
    const row = (scenario: string, latencies: number[], extra: Record<string, number>) => {
      const summary = summarize(latencies, count - latencies.length, posted);
      const share = within(latencies);
      return {
        scenario,
        target: '> 99 % within 5 s',
        met: share > 0.99,
        events: count,
        delivered: latencies.length,
        within5s: `${(share * 100).toFixed(2)} %`,
        p50: summary.p50,
        p95: summary.p95,
        p99: summary.p99,
        max: summary.max,
        ...extra,
      };
    };
    await report(
      'notifications',
      [
        row('mail (SMTP)', mailLatencies, { duplicates: received.duplicateMails }),
        row('webhook (signed)', hookLatencies, { duplicates: received.duplicateHooks, badSignatures: received.badSignatures }),
      ],
      {
        events: count,
        burstPostMs: posted,
        burstToLastDeliveryMs: Math.max(...received.mails.map(([, at]) => at), ...received.hooks.map(([, at]) => at)) - started,
        // CPU of the benchmark's process (the whole stack: postings, relays, notifier, sending) per delivery, from the
        // burst's start until everything was delivered; the receivers' own process apart.
        platformCpuMsPerDelivery: Math.round((platformCpuMs / (2 * count)) * 1000) / 1000,
        receiverCpuMsPerDelivery: Math.round((receiverCpuMs / (2 * count)) * 1000) / 1000,
        tenantsDbRoundTripsPerDelivery: Math.round((roundTrips / (2 * count)) * 100) / 100,
        loadAverage1m: Math.round(os.loadavg()[0]! * 100) / 100,
        failedMailAttempts: failures.mail,
        failedWebhookAttempts: failures.webhook,
        smtpConnections: stack.tenants.runtime.config.SMTP_MAX_CONNECTIONS,
        notifyConcurrency: stack.tenants.runtime.config.NOTIFY_CONCURRENCY,
      },
    );
  } finally {
    await stack.stop();
    await dropDatabases(stack.databaseUrls);
    await closeReceivers();
  }
}
