import type { SubgraphHttpResponse } from '../auth/subgraph-http.js';

/** Per subgraph: requests sent upstream, and requests that shared one already in flight instead. */
export interface SubgraphDedupCounts {
  upstream: number;
  shared: number;
}

/**
 * In-flight deduplication of identical subgraph queries.
 *
 * While a query fetch to a subgraph is in flight, an identical one joins it instead of sending its own: same subgraph
 * (one instance per subgraph), same URL, same headers — which include the forwarded identity, so requests of different
 * scopes (role, tenant, partner, custom-domain partner) never share — and the same body (operation, operation name and
 * variables, byte for byte). Nothing is cached: the entry is gone the moment the answer arrives, so the next request
 * asks the subgraph again.
 *
 * Only queries are shared, never mutations (each must run) and never anything not recognisably a query: the body must
 * start with a `query` operation or a `{` shorthand, as the query planner writes them. Persisted-query bodies (no
 * query text) are not shared either.
 *
 * What is shared is the raw answer (status, headers, body text): every caller parses its own copy, so no caller can see
 * another's later changes to the parsed result (Apollo's gateway merges entity results into the objects it parsed).
 */
export class SubgraphQueryDedup {
  private readonly inFlight = new Map<string, Promise<SubgraphHttpResponse>>();
  private readonly counts: SubgraphDedupCounts = { upstream: 0, shared: 0 };

  /** `enabled: false` only counts (every request goes upstream): the switch SUBGRAPH_QUERY_DEDUP turns. */
  constructor(
    readonly subgraph: string,
    private readonly enabled = true,
  ) {}

  /** Sends through `send`, or joins the identical query already in flight. */
  fetch(url: string, headers: Readonly<Record<string, string>>, body: string, send: () => Promise<SubgraphHttpResponse>): Promise<SubgraphHttpResponse> {
    if (!this.enabled || !isQueryBody(body)) {
      this.counts.upstream += 1;
      return send();
    }
    const key = requestKey(url, headers, body);
    const pending = this.inFlight.get(key);
    if (pending) {
      this.counts.shared += 1;
      return pending;
    }
    this.counts.upstream += 1;
    const request = send();
    this.inFlight.set(key, request);
    // Registered before any caller's continuation, so a request arriving after the answer never joins it.
    const settle = () => {
      if (this.inFlight.get(key) === request) this.inFlight.delete(key);
    };
    request.then(settle, settle);
    return request;
  }

  /** Counts so far, and how many distinct queries are in flight now. */
  metrics(): SubgraphDedupCounts & { inFlight: number } {
    return { ...this.counts, inFlight: this.inFlight.size };
  }
}

/**
 * Whether a subgraph request body (Apollo's `{"query":"...",...}`, query first) carries a query operation. Anything
 * else — mutations, subscriptions, a document starting with a fragment, a body without query text — is not shared.
 */
export function isQueryBody(body: string): boolean {
  return /^\{"query":"(?:query\b|\{)/.test(body);
}

/** URL, every header (names lower-case, sorted) and the body: requests with equal keys are interchangeable. */
function requestKey(url: string, headers: Readonly<Record<string, string>>, body: string): string {
  const names = Object.keys(headers).sort();
  let key = url;
  for (const name of names) key += `\n${name.toLowerCase()}:${headers[name]}`;
  return `${key}\n\n${body}`;
}
