import { get } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { InProcessEventBus, TenantCreated, outboxRow, toEnvelope } from '@saldo/events';
import { generateSigningKeyPair } from '@saldo/identity';
import { createLogger } from '@saldo/service';
import { dropDatabases } from '@saldo/sharding';
import { createSubgraphService } from '@saldo/subgraph';
import {
  LedgerEntryType,
  LedgerService,
  SAMPLE_ISSUER_ENV,
  billingSubgraph,
  loadBillingConfig,
  previousMonth,
  renderCii,
  renderDocumentPdf,
  sampleInvoice,
  sampleStatement,
  warmUpRenderer,
  type PostingEntryInput,
} from '@saldo/subgraph-billing';
import { uniquePrefix } from '@saldo/testing';
import type { BenchConfig } from './config.js';
import { report, type ResultRow } from './report.js';
import { percentile } from './stats.js';

/**
 * Documents (issue 10): rendering on request (an invoice PDF/A-3 with its embedded EN 16931 XML, warm; a statement with
 * 10,000 usage lines), serving a signed download, and the monthly statement run for many tenants on the durable job
 * queue, with memory. Billing runs alone (its own databases, in-process bus): the run is billing's work only.
 */
const logger = createLogger({ service: 'bench', level: 'warn' });
const round = (value: number) => Math.round(value * 10) / 10;
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
/** Peak resident set size of the process so far (MiB): process.resourceUsage().maxRSS is in KiB. */
const peakRss = () => Math.round(process.resourceUsage().maxRSS / 1024);
/** The machine's 1-minute load average: on a shared machine it says how much the timings include waiting for a core. */
const loadAverage = () => Math.round(loadavg()[0]! * 10) / 10;
const PRODUCTS = [
  { product: 'inbound_minute', micros: 12_500_000n },
  { product: 'outbound_minute', micros: 15_000_000n },
  { product: 'sms', micros: 7_900_000n },
] as const;

function timings(samples: number[]): { median_ms: number; p99_ms: number; max_ms: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median_ms: round(percentile(sorted, 0.5)), p99_ms: round(percentile(sorted, 0.99)), max_ms: round(sorted.at(-1)!) };
}

async function forceGc(): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setImmediate(resolve));
}

/** GET on a fresh connection; resolves with the status and the body's length. */
function fetchLength(url: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

export async function documents(config: BenchConfig): Promise<void> {
  const rows: ResultRow[] = [];
  const renders = config.BENCH_DOCUMENTS_RENDERS;

  // 1. One invoice PDF with its embedded XML, warm (the service warms the renderer at start, too).
  await warmUpRenderer();
  const invoice = sampleInvoice('domestic');
  for (let index = 0; index < 20; index += 1) await renderDocumentPdf(invoice);
  await forceGc();
  const heapBefore = process.memoryUsage().heapUsed;
  const pdfTimes: number[] = [];
  let pdfBytes = 0;
  for (let index = 0; index < renders; index += 1) {
    const started = performance.now();
    const pdf = await renderDocumentPdf(invoice);
    pdfTimes.push(performance.now() - started);
    pdfBytes = pdf.length;
  }
  const pdf = timings(pdfTimes);
  const heapAfterRenders = process.memoryUsage().heapUsed;
  await forceGc();
  rows.push({
    scenario: `invoice PDF/A-3 + embedded CII XML, warm (${renders} renders)`,
    target: 'median < 30 ms, p99 < 80 ms',
    met: pdf.median_ms < 30 && pdf.p99_ms < 80,
    ...pdf,
    bytes: pdfBytes,
    // Garbage accumulates between collections; what stays after a full GC shows whether rendering retains anything.
    heap_before_gc_mib: mib(heapAfterRenders),
    retained_after_gc_mib: mib(process.memoryUsage().heapUsed - heapBefore),
    rss_peak_mib: peakRss(),
    load_1m: loadAverage(),
  });
  const xmlTimes: number[] = [];
  for (let index = 0; index < renders; index += 1) {
    const started = performance.now();
    renderCii(invoice);
    xmlTimes.push(performance.now() - started);
  }
  rows.push({ scenario: `its CII XML alone (${renders} renders)`, target: '—', met: true, ...timings(xmlTimes), bytes: Buffer.byteLength(renderCii(invoice)) });

  // 2. A statement with 10,000 usage lines (every page numbered, totals carried).
  const lines = config.BENCH_DOCUMENTS_STATEMENT_LINES;
  const statement = sampleStatement(lines);
  await forceGc();
  const statementTimes: number[] = [];
  let statementBytes = 0;
  let statementHeapPeak = 0;
  for (let run = 0; run < 3; run += 1) {
    const started = performance.now();
    const rendered = await renderDocumentPdf(statement.document, statement.usage);
    statementTimes.push(performance.now() - started);
    statementHeapPeak = Math.max(statementHeapPeak, process.memoryUsage().heapUsed);
    statementBytes = rendered.length;
  }
  const pageCount = (await renderDocumentPdf(statement.document, statement.usage)).toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length ?? 0;
  rows.push({
    scenario: `statement with ${lines.toLocaleString('en')} usage lines (3 renders)`,
    target: 'renders',
    met: statementBytes > 0,
    ...timings(statementTimes),
    pages: pageCount,
    bytes: statementBytes,
    heap_peak_mib: mib(statementHeapPeak),
    rss_peak_mib: peakRss(),
    load_1m: loadAverage(),
  });

  // 3. The monthly run: statements for every tenant of the previous month, on the durable job queue.
  const tenants = config.BENCH_DOCUMENTS_TENANTS;
  const usagePerTenant = config.BENCH_DOCUMENTS_USAGE_PER_TENANT;
  const prefix = uniquePrefix('docbench');
  const databases = {
    control: `${config.BENCH_POSTGRES_URL}/${prefix}_billing_control`,
    shards: [0, 1].map((index) => `${config.BENCH_POSTGRES_URL}/${prefix}_billing_shard_${index}`),
  };
  const bus = new InProcessEventBus(logger);
  const billing = createSubgraphService(
    billingSubgraph,
    loadBillingConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      CONTROL_DATABASE_URL: databases.control,
      SHARD_DATABASE_URLS: databases.shards.join(','),
      CREATE_DATABASES: 'true',
      DATABASE_POOL_MAX: '10',
      LOG_LEVEL: 'warn',
      IDENTITY_PUBLIC_KEY: generateSigningKeyPair().publicKeyPem,
      ...SAMPLE_ISSUER_ENV,
      PUBLIC_ORIGIN: 'http://localhost:4000',
    }),
    { bus, logger },
  );
  await billing.start();
  try {
    const { runtime, services } = billing;
    const control = () => runtime.db.globalEm();
    const count = async (kind: string) =>
      Number((await control().execute<{ n: string }[]>('select count(*)::text as n from billing_document where kind = ?', [kind]))[0]!.n);

    // Tenants as the tenants subgraph announces them: billing opens accounts and keeps their invoicing data.
    const seedStarted = performance.now();
    const period = previousMonth(new Date());
    const [year, month] = period.split('-').map(Number) as [number, number];
    const tenantIds: string[] = [];
    for (let offset = 0; offset < tenants; offset += 500) {
      const batch = Array.from({ length: Math.min(500, tenants - offset) }, (_, index) => {
        const tenantId = crypto.randomUUID();
        tenantIds.push(tenantId);
        const name = `Kunde ${offset + index + 1}`;
        return toEnvelope(
          outboxRow(
            TenantCreated,
            tenantId,
            {
              tenantId,
              partnerId: null,
              name,
              currency: 'EUR',
              country: 'DE',
              status: 'ACTIVE',
              profile: {
                legalName: `${name} GmbH`,
                address: { line1: 'Teststraße 1', line2: null, postalCode: '10115', city: 'Berlin', region: null },
                country: 'DE',
                vatId: null,
              },
            },
            new Date(),
          ),
        );
      });
      await bus.publish(batch);
    }
    // Last month's postings of every tenant (a top-up on the 2nd, then usage through the month), through the ledger
    // with its clock set to when they happened; their invoices are issued by the invoice jobs meanwhile.
    let at = Date.UTC(year, month - 1, 2, 9);
    const ledger = new LedgerService(runtime.db, runtime.relay, { now: () => new Date(at) }, logger);
    let next = 0;
    const post = async () => {
      for (let index = next++; index < tenantIds.length; index = next++) {
        const tenantId = tenantIds[index]!;
        at = Date.UTC(year, month - 1, 20, 9);
        const entries: PostingEntryInput[] = [
          {
            type: LedgerEntryType.TOP_UP,
            amountMinor: 50_000n,
            idempotencyKey: 'bench:top-up',
            externalRef: `pi_bench_${index}`,
            occurredAt: new Date(Date.UTC(year, month - 1, 2, 9)),
            description: 'Top-up via Stripe',
          },
        ];
        for (let line = 0; line < usagePerTenant; line += 1) {
          const { product, micros } = PRODUCTS[line % PRODUCTS.length]!;
          const quantity = BigInt(product === 'sms' ? 1 : 1 + ((index + line) % 12));
          entries.push({
            type: LedgerEntryType.USAGE,
            amountMinor: -((quantity * micros + 500_000n) / 1_000_000n),
            idempotencyKey: `bench:usage:${line}`,
            product,
            quantity,
            unitPriceMicros: micros,
            occurredAt: new Date(Date.UTC(year, month - 1, 2 + (line % 26), 10 + (line % 8))),
          });
        }
        await ledger.post({ tenantId, currency: 'EUR', entries });
      }
    };
    await Promise.all(Array.from({ length: 4 }, post));
    await runtime.relay.flush();
    while ((await count('INVOICE')) < tenants) await new Promise((resolve) => setTimeout(resolve, 500));
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    rows.push({
      scenario: `seed: ${tenants.toLocaleString('en')} tenants, ${(tenants * (usagePerTenant + 1)).toLocaleString('en')} postings, their top-up invoices (jobs)`,
      target: 'informational',
      met: true,
      seconds: round(seedSeconds),
    });

    // A signed download as the portal uses it (billing serves it; the gateway forwards the same path): DB read + render.
    const [sample] = await control().execute<{ id: string; tenant_id: string }[]>(`select id, tenant_id from billing_document where kind = 'INVOICE' limit 1`);
    const link = new URL(services.documents.links.url(sample!.id, sample!.tenant_id, 'pdf'));
    const downloadUrl = `${billing.url}${link.pathname}${link.search}`;
    for (let index = 0; index < 20; index += 1) await fetchLength(downloadUrl);
    const downloadTimes: number[] = [];
    for (let index = 0; index < Math.min(renders, 200); index += 1) {
      const started = performance.now();
      const response = await fetchLength(downloadUrl);
      if (response.status !== 200) throw new Error(`download answered ${response.status}`);
      downloadTimes.push(performance.now() - started);
    }
    rows.push({ scenario: 'GET a signed invoice PDF link on billing (verify, read, render)', target: '—', met: true, ...timings(downloadTimes) });

    // The run itself: what the monthly job does (enqueue one statement job per tenant), then the statement workers.
    await forceGc();
    let rssPeak = 0;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 200);
    const runStarted = performance.now();
    const enqueued = await services.documents.runStatements(period);
    const enqueueSeconds = (performance.now() - runStarted) / 1000;
    let issued = 0;
    while ((issued = await count('STATEMENT')) < tenants) await new Promise((resolve) => setTimeout(resolve, 250));
    const runSeconds = (performance.now() - runStarted) / 1000;
    clearInterval(sampler);
    rows.push({
      scenario: `monthly run: statements for ${tenants.toLocaleString('en')} tenants (${usagePerTenant + 1} postings each)`,
      target: '< 5 minutes',
      met: runSeconds < 300 && issued === tenants && enqueued === tenants,
      seconds: round(runSeconds),
      enqueue_s: round(enqueueSeconds),
      statements_per_s: Math.round(tenants / runSeconds),
      rss_peak_mib: mib(rssPeak),
      load_1m: loadAverage(),
    });

    // Run again (a second instance, a retried job): job ids are deterministic per tenant-month, so no job is sent twice.
    const statementJobs = async () =>
      Number((await control().execute<{ n: string }[]>(`select count(*)::text as n from pgboss.job where name = 'billing.documents.statement'`))[0]!.n);
    const jobsBefore = await statementJobs();
    const againStarted = performance.now();
    await services.documents.runStatements(period);
    const againSeconds = (performance.now() - againStarted) / 1000;
    const jobsAfter = await statementJobs();
    rows.push({
      scenario: 'the same run again (idempotent per tenant-month)',
      target: 'nothing sent or issued twice',
      met: jobsAfter === jobsBefore && (await count('STATEMENT')) === tenants,
      seconds: round(againSeconds),
      new_jobs: jobsAfter - jobsBefore,
    });
  } finally {
    await billing.stop();
    await dropDatabases([databases.control, ...databases.shards]);
  }
  await report('documents', rows, {
    renders,
    statementLines: lines,
    tenants,
    usagePerTenant,
    statementRunConcurrency: 4,
    cpus: availableParallelism(),
  });
}
