import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { flushTraces, startTracing } from '@saldo/observability';
import type { Registry } from 'prom-client';
import YAML from 'yaml';
import { createLogger } from '@saldo/service';
import { LedgerEntryType } from '@saldo/subgraph-billing';
import { TEST_LOG_LEVEL, waitUntil } from '@saldo/testing';
import { startTestStack, type TestStack } from './test-stack.js';

/** A span as OTLP/JSON carries it (the fields this test reads). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
}

/** A stand-in OTLP/HTTP collector: accepts JSON trace exports at /v1/traces and keeps every span. */
async function startOtlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.method === 'POST' && (req.headers['content-type'] ?? '').includes('json')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
        };
        for (const resource of body.resourceSpans ?? []) for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      res.writeHead(415);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** OTLP/JSON ids are hex (the JS exporter's JSON encoding); tolerate base64 too. */
const hex = (id: string | undefined) => (id === undefined || id === '' ? undefined : /^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex'));

/** The spans of one trace, checked to form one tree under the caller's parent span. */
function traceOf(spans: OtlpSpan[], traceId: string): OtlpSpan[] {
  return spans.filter((span) => hex(span.traceId) === traceId);
}

function assertConnected(spans: OtlpSpan[], rootParent: string): void {
  const ids = new Set(spans.map((span) => hex(span.spanId)));
  for (const span of spans) {
    const parent = hex(span.parentSpanId);
    assert.ok(parent === rootParent || ids.has(parent), `span ${span.name} hangs off ${parent}, which is not in the trace`);
  }
}

async function scrape(url: string): Promise<ReturnType<typeof parsePrometheusTextFormat>> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(await response.text());
}

function sampleValue(families: ReturnType<typeof parsePrometheusTextFormat>, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((candidate) => candidate.name === name);
  if (!family) return 0;
  return family.metrics
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value))
    .reduce((sum, sample) => sum + Number(sample.value ?? sample.count ?? 0), 0);
}

const families = (parsed: ReturnType<typeof parsePrometheusTextFormat>) => parsed.map((family) => family.name);

/** Observations of a histogram's series matching `labels`, from prom-client's JSON of the registry. */
async function histogramCount(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
  assert.ok(metric, `${name} is registered`);
  return (metric.values as Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>)
    .filter((value) => value.metricName === `${name}_count` && Object.entries(labels).every(([key, expected]) => value.labels[key] === expected))
    .reduce((sum, value) => sum + value.value, 0);
}

const RECORD_USAGE = /* GraphQL */ `
  mutation RecordUsage($input: RecordUsageInput!) {
    recordUsage(input: $input) {
      accepted
      balance {
        available {
          amountMinor
        }
      }
    }
  }
`;

const FEDERATED = /* GraphQL */ `
  query TenantOverview($id: ID!) {
    tenant(id: $id) {
      name
      balance {
        available {
          amountMinor
          currency
        }
      }
      usage(days: 7) {
        date
      }
      branding {
        displayName
      }
    }
  }
`;

describe('observability: traces, metrics and logs of a running stack', () => {
  let stack: TestStack;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let stopTracing: () => Promise<void>;
  const lines: string[] = [];
  let tenantId: string;

  before(async () => {
    receiver = await startOtlpReceiver();
    // The process's one SDK, exporting over OTLP/HTTP to the receiver; every service of the stack runs in this process.
    stopTracing = startTracing(
      {
        OTEL_SDK_DISABLED: false,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: {},
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' as const,
        OTEL_TRACES_SAMPLER_ARG: 1,
      },
      'saldo-test',
      createLogger({ service: 'test', level: 'error', write: () => undefined }),
    );
    const logger = createLogger({
      service: 'saldo',
      level: 'debug',
      format: 'json',
      write: (line) => {
        lines.push(line);
        if (TEST_LOG_LEVEL === 'debug') process.stdout.write(`${line}\n`);
      },
    });
    stack = await startTestStack('observability', { shardsPerSubgraph: 1, logger });
    const created = await stack.gql<{ createTenant: { id: string } }>(
      `mutation { createTenant(input: { name: "Observed GmbH", currency: "EUR", country: "DE" }) { id } }`,
    );
    tenantId = created.data!.createTenant.id;
    await stack.flushEvents();
    await stack.gql(`mutation { publishRate(input: { product: "sms", currency: "EUR", unitPriceMinor: "1", validFrom: "2020-01-01T00:00:00Z" }) { id } }`);
    await stack.billing.services.ledger.post({
      tenantId,
      currency: 'EUR',
      entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 100_000n, idempotencyKey: 'stripe:evt_observed', externalRef: 'pi_observed' }],
    });
  });

  after(async () => {
    await stack?.destroy();
    await stopTracing?.();
    await receiver?.close();
  });

  it('a federated query is one trace: gateway, every subgraph it asks, and their SQL, all under the caller’s traceparent', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const response = await fetch(stack.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parentId}-01`, ...(await stack.authHeaders()) },
      body: JSON.stringify({ query: FEDERATED, variables: { id: tenantId } }),
    });
    const body = (await response.json()) as { data?: { tenant?: { name: string } }; errors?: unknown };
    assert.equal(body.data?.tenant?.name, 'Observed GmbH', JSON.stringify(body.errors));
    const expected = ['tenants POST /graphql', 'billing POST /graphql', 'usage-forecast POST /graphql', 'white-label POST /graphql'];
    await waitUntil(
      async () => {
        await flushTraces();
        const names = traceOf(receiver.spans, traceId).map((span) => span.name);
        return expected.every((name) => names.includes(name)) && names.includes('query TenantOverview');
      },
      'the query’s spans at the OTLP receiver',
      { timeoutMs: 20_000 },
    );
    const spans = traceOf(receiver.spans, traceId);
    assertConnected(spans, parentId);
    assert.ok(
      spans.some((span) => span.attributes?.some((attribute) => attribute.key === 'db.system.name' && attribute.value.stringValue === 'postgresql')),
      'PostgreSQL statements are spans of the trace',
    );
    assert.ok(
      spans.some((span) => span.name.startsWith('POST ') && span.kind === 3 /* CLIENT */),
      'the gateway’s subgraph fetches are client spans',
    );
  });

  it('a query whose caller did not sample its trace records no span in any service: every subgraph follows the decision', async () => {
    const unsampled = randomBytes(16).toString('hex');
    const spansBefore = receiver.spans.length;
    const query = async (traceparent: string) => {
      const response = await fetch(stack.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent, ...(await stack.authHeaders()) },
        body: JSON.stringify({ query: FEDERATED, variables: { id: tenantId } }),
      });
      const body = (await response.json()) as { data?: { tenant?: { name: string } }; errors?: unknown };
      assert.equal(body.data?.tenant?.name, 'Observed GmbH', JSON.stringify(body.errors));
    };
    await query(`00-${unsampled}-${randomBytes(8).toString('hex')}-00`);
    // A sampled query after it: once its subgraph spans are exported, the unsampled one's would have been too.
    const sampled = randomBytes(16).toString('hex');
    await query(`00-${sampled}-${randomBytes(8).toString('hex')}-01`);
    await waitUntil(
      async () => {
        await flushTraces();
        return traceOf(receiver.spans, sampled).filter((span) => span.name.endsWith(' POST /graphql')).length === 4;
      },
      'the sampled query’s subgraph spans at the OTLP receiver',
      { timeoutMs: 20_000 },
    );
    // The sampler is at ratio 1: a service that did not hear flag 00 would have started a sampled trace of its own (its
    // server span named so). Spans of other traces (the setup's events, consumed meanwhile) are not this query's.
    const ofUnsampledQuery = receiver.spans
      .slice(spansBefore)
      .filter((span) => hex(span.traceId) === unsampled || (hex(span.traceId) !== sampled && /POST \/graphql$|TenantOverview$/.test(span.name)));
    assert.deepEqual(
      ofUnsampledQuery.map((span) => span.name),
      [],
    );
  });

  it('a usage event is one trace from the API through the ledger, the outbox and the bus to the consumers', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const response = await fetch(stack.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parentId}-01`, ...(await stack.authHeaders()) },
      body: JSON.stringify({
        query: RECORD_USAGE,
        variables: { input: { tenantId, events: [{ id: 'observed-1', product: 'sms', quantity: 3, occurredAt: new Date().toISOString() }] } },
      }),
    });
    const body = (await response.json()) as { data?: { recordUsage?: { accepted: number } }; errors?: unknown };
    assert.equal(body.data?.recordUsage?.accepted, 1, JSON.stringify(body.errors));
    await stack.flushEvents();
    await waitUntil(
      async () => {
        await flushTraces();
        const spans = traceOf(receiver.spans, traceId);
        return spans.some((span) => span.name === 'consume balance-events') && spans.some((span) => span.name === 'consume usage-events');
      },
      'the usage event’s publish and consume spans at the OTLP receiver',
      { timeoutMs: 20_000 },
    );
    const spans = traceOf(receiver.spans, traceId);
    assertConnected(spans, parentId);
    const names = spans.map((span) => span.name);
    assert.ok(names.includes('mutation RecordUsage'));
    assert.ok(names.includes('billing POST /graphql'));
    assert.ok(names.includes('publish usage-events'), names.join(', '));
    // The consumers' own SQL is in the trace too (the live balance feed and usage aggregation write from it).
    const consumers = new Set(spans.filter((span) => span.name.startsWith('consume ')).map((span) => hex(span.spanId)));
    assert.ok(
      spans.some((span) => consumers.has(hex(span.parentSpanId)) && span.name !== 'consume'),
      'consumers do traced work',
    );
  });

  it('/metrics on every service parses as Prometheus text and moves when work is done', async () => {
    const gatewayBefore = await scrape(stack.gateway.url);
    const billingBefore = await scrape(stack.billing.url);
    for (const service of [stack.tenants, stack.usageForecast, stack.whiteLabel]) {
      const families = await scrape(service.url);
      assert.ok(families.some((family) => family.name === 'saldo_outbox_backlog_events'));
      assert.ok(families.some((family) => family.name === 'saldo_job_queue_depth'));
    }
    const operation = { operation_type: 'mutation', operation_name: 'RecordUsage' };
    const requestsBefore = sampleValue(gatewayBefore, 'saldo_gateway_requests_total', operation);
    const postingsBefore = sampleValue(billingBefore, 'saldo_ledger_postings_total');
    for (let i = 0; i < 3; i += 1) {
      const result = await stack.gql<{ recordUsage: { accepted: number } }>(RECORD_USAGE, {
        input: { tenantId, events: [{ id: `metered-${i}`, product: 'sms', quantity: 1, occurredAt: new Date().toISOString() }] },
      });
      assert.equal(result.data?.recordUsage.accepted, 1);
    }
    await stack.flushEvents();
    const gatewayAfter = await scrape(stack.gateway.url);
    const billingAfter = await scrape(stack.billing.url);
    assert.equal(sampleValue(gatewayAfter, 'saldo_gateway_requests_total', operation) - requestsBefore, 3);
    assert.equal(sampleValue(billingAfter, 'saldo_ledger_postings_total') - postingsBefore, 3);
    // The text parser folds a histogram's labelled series into one (a limitation of parse-prometheus-text-format): the
    // histograms' counts are read from prom-client's own JSON of the same registries.
    assert.ok((await histogramCount(stack.gateway.metrics.registry, 'saldo_gateway_request_duration_seconds', operation)) >= 3);
    assert.ok((await histogramCount(stack.gateway.metrics.registry, 'saldo_gateway_subgraph_fetch_duration_seconds', { subgraph: 'billing' })) >= 3);
    assert.ok((await histogramCount(stack.billing.runtime.metrics.registry, 'saldo_ledger_posting_duration_seconds')) >= 3);
    assert.ok((await histogramCount(stack.billing.runtime.metrics.registry, 'saldo_outbox_relay_lag_seconds')) >= 3);
    assert.ok(families(gatewayAfter).includes('saldo_gateway_request_duration_seconds'));
    assert.ok(families(billingAfter).includes('saldo_outbox_relay_lag_seconds'));
    assert.ok(gatewayAfter.some((family) => family.name === 'saldo_dependency_circuit_state'));
    // Tenant ids never become labels.
    for (const family of [...gatewayAfter, ...billingAfter])
      for (const sample of family.metrics) assert.ok(!Object.values(sample.labels ?? {}).includes(tenantId), `${family.name} has a tenant id label`);
    // A failed operation counts as an error of its operation.
    await stack.gql(`query Broken { tenant(id: "not-a-tenant-id") { name } }`);
    const errors = sampleValue(await scrape(stack.gateway.url), 'saldo_gateway_request_errors_total', { operation_name: 'Broken' });
    assert.ok(errors >= 1);
  });

  it('the monitoring stack’s files parse, and every metric a dashboard plots is one the services expose', async () => {
    const root = new URL('../../', import.meta.url);
    const compose = YAML.parse(await readFile(new URL('docker-compose.yml', root), 'utf8'), { merge: true, maxAliasCount: -1 }) as {
      services: Record<string, { image?: string; environment?: Record<string, string> }>;
    };
    for (const service of ['prometheus', 'grafana', 'otel-collector', 'jaeger'])
      assert.ok(compose.services[service]?.image, `${service} in docker-compose.yml`);
    assert.equal(compose.services['gateway']?.environment?.['OTEL_EXPORTER_OTLP_ENDPOINT'], 'http://otel-collector:4318');
    const prometheus = YAML.parse(await readFile(new URL('monitoring/prometheus/prometheus.yml', root), 'utf8')) as {
      scrape_configs: Array<{ metrics_path: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((config) => config.targets));
    assert.deepEqual(targets.map((target) => target.split(':')[0]).sort(), ['billing', 'gateway', 'tenants', 'usage-forecast', 'white-label']);
    const collector = YAML.parse(await readFile(new URL('monitoring/otel-collector/config.yaml', root), 'utf8')) as {
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    };
    assert.deepEqual(collector.service.pipelines.traces.receivers, ['otlp']);
    for (const file of ['datasources/datasources.yml', 'dashboards/dashboards.yml'])
      YAML.parse(await readFile(new URL(`monitoring/grafana/provisioning/${file}`, root), 'utf8'));

    // Every family any service exposes (a histogram's series are its name plus _bucket, _sum and _count).
    const exposed = new Set<string>();
    for (const service of [stack.gateway, stack.tenants, stack.billing, stack.usageForecast, stack.whiteLabel]) {
      for (const family of await scrape(service.url)) {
        exposed.add(family.name);
        if (family.type === 'HISTOGRAM') for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(`${family.name}${suffix}`);
      }
    }
    const dashboards = (await readdir(new URL('monitoring/grafana/dashboards/', root))).filter((file) => file.endsWith('.json'));
    assert.deepEqual(dashboards.sort(), ['billing.json', 'models.json', 'platform.json']);
    for (const file of dashboards) {
      const dashboard = JSON.parse(await readFile(new URL(`monitoring/grafana/dashboards/${file}`, root), 'utf8')) as {
        uid: string;
        panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      };
      assert.ok(dashboard.uid && dashboard.panels.length > 0, file);
      for (const panel of dashboard.panels) {
        assert.ok(panel.targets.length > 0, `${file}: ${panel.title} has a query`);
        for (const { expr } of panel.targets) {
          const names = expr.match(/\bsaldo_[a-z0-9_]+/g) ?? [];
          assert.ok(names.length > 0, `${file}: ${panel.title} plots a Saldo metric`);
          for (const name of names) assert.ok(exposed.has(name), `${file}: ${panel.title} plots ${name}, which no service exposes`);
        }
      }
    }
  });

  it('the run’s logs carry trace and tenant ids, and no secret, token or card number', async () => {
    // A failed sign-in with a token and a card number where a careless line would print them.
    const card = '4242 4242 4242 4242';
    const forged = `eyJhbGciOiJFZERTQSJ9.${Buffer.from(JSON.stringify({ sub: card })).toString('base64url')}.c2lnbmF0dXJl`;
    await fetch(stack.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${forged}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    const token = (await stack.authHeaders()).authorization!.slice('Bearer '.length);
    assert.ok(lines.length > 0);
    const secrets = [
      token,
      forged,
      card,
      card.replaceAll(' ', ''),
      stack.keys.identity.privateKeyPem.split('\n')[1]!,
      stack.keys.portal.privateKeyPem.split('\n')[1]!,
    ];
    for (const line of lines) {
      for (const secret of secrets) assert.ok(!line.includes(secret), `a log line holds a secret: ${line.slice(0, 300)}`);
      assert.doesNotMatch(line, /\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+/, `a log line holds a JWT: ${line.slice(0, 300)}`);
      assert.doesNotMatch(line, /\b(sk|rk)_(live|test)_\w+|whsec_\w+|saldo_pk_\w{16}_\w{20,}/, `a log line holds a key: ${line.slice(0, 300)}`);
    }
    // Lines written while serving requests name their trace, and the tenant where the caller acts for one.
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(parsed.some((line) => typeof line['traceId'] === 'string' && /^[0-9a-f]{32}$/.test(line['traceId'] as string)));
  });
});
