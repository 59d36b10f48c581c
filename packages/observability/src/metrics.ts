import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import { dependencyBreakers } from '@saldo/resilience';
import type { HttpService } from '@saldo/service';

/**
 * One service's Prometheus metrics (prom-client): its own registry, so services sharing a process (the embedded default,
 * tests) each expose only their own work at their own `/metrics`, plus what every service exposes: the process's
 * metrics (CPU, memory, event loop, GC) and the state of the process's circuit breakers. Names and labels follow
 * Prometheus' conventions (`saldo_` prefix, base units, `_total` counters); tenant ids are never labels (one series per
 * tenant would grow without bound and name customers in a monitoring system).
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    this.gauge({
      name: 'saldo_dependency_circuit_state',
      help: 'Circuit breaker state per outbound dependency: 0 closed, 1 half-open, 2 open (the worst of its circuits).',
      labelNames: ['dependency'],
      collect(gauge) {
        gauge.reset();
        const worst = new Map<string, number>();
        for (const reading of dependencyBreakers.read()) worst.set(reading.dependency, Math.max(worst.get(reading.dependency) ?? 0, reading.value));
        for (const [dependency, value] of worst) gauge.set({ dependency }, value);
      },
    });
  }

  /** A counter; `collect` (optional) sets it at scrape time from a count the service keeps anyway (reset, then inc). */
  counter<L extends string>(options: {
    name: string;
    help: string;
    labelNames?: readonly L[];
    collect?: (counter: Counter<L>) => void | Promise<void>;
  }): Counter<L> {
    const existing = this.registry.getSingleMetric(options.name) as Counter<L> | undefined;
    if (existing) return existing;
    const { collect, ...rest } = options;
    return new Counter<L>({
      ...rest,
      registers: [this.registry],
      ...(collect
        ? {
            async collect(this: Counter<L>) {
              this.reset();
              await collect(this);
            },
          }
        : {}),
    });
  }

  /** A gauge; `collect` (optional, may be async) sets its values at scrape time from the service's own state. */
  gauge<L extends string>(options: { name: string; help: string; labelNames?: readonly L[]; collect?: (gauge: Gauge<L>) => void | Promise<void> }): Gauge<L> {
    const existing = this.registry.getSingleMetric(options.name) as Gauge<L> | undefined;
    if (existing) return existing;
    const { collect, ...rest } = options;
    return new Gauge<L>({
      ...rest,
      registers: [this.registry],
      ...(collect
        ? {
            async collect(this: Gauge<L>) {
              await collect(this);
            },
          }
        : {}),
    });
  }

  histogram<L extends string>(options: { name: string; help: string; labelNames?: readonly L[]; buckets?: number[] }): Histogram<L> {
    return (
      (this.registry.getSingleMetric(options.name) as Histogram<L> | undefined) ??
      new Histogram<L>({ buckets: LATENCY_BUCKETS, ...options, registers: [this.registry] })
    );
  }

  /** The exposition text (what GET /metrics answers): the process's metrics, then the service's. */
  async text(): Promise<string> {
    return `${await processRegistry().metrics()}\n${await this.registry.metrics()}`;
  }

  /** Serves GET /metrics on the service's HTTP server, ahead of Express (scrapes are frequent and need nothing of it). */
  serve(http: HttpService): void {
    http.rawRoute('/metrics', (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      this.text().then(
        (body) => {
          res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics collection failed: ${(error as Error).message}\n`);
        },
      );
      return true;
    });
  }
}

let processMetrics: Registry | undefined;

/**
 * Node's process metrics (CPU, memory, event loop lag, GC, handles; prefix `saldo_`), collected once per process: each
 * collector keeps an event-loop monitor running for the life of the process, so services sharing one (the embedded
 * default, tests) share it too instead of adding one each.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'saldo_' });
  }
  return processMetrics;
}

/** Seconds: 1 ms to 10 s, fine where requests are served (a few ms) and coarse beyond. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Label values a client chooses (operation names, error codes) kept to a bounded set: the first `max` distinct values
 * are used as they are, later ones become `other`, so a client sending random names cannot grow the series without end.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly max = 200) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}

/** A histogram's children per label values, kept so the request path does no label hashing or string building. */
export class HistogramChildren<L extends string> {
  private readonly children = new Map<string, Map<string, ReturnType<Histogram<L>['labels']>>>();

  constructor(
    private readonly histogram: Histogram<L>,
    private readonly labels: (first: string, second: string) => LabelValues<L>,
  ) {}

  observe(first: string, second: string, seconds: number): void {
    let inner = this.children.get(first);
    if (!inner) this.children.set(first, (inner = new Map()));
    let child = inner.get(second);
    if (!child) inner.set(second, (child = this.histogram.labels(this.labels(first, second))));
    child.observe(seconds);
  }
}
