import { isIP } from 'node:net';
import type { Identity } from '@saldo/graphql';
import { INTERNAL_AUDIENCE, IDENTITY_HEADER, type IdentitySigner } from '@saldo/identity';
import { fetchThrough, type DependencyGuard } from '@saldo/resilience';
import type { Logger } from '@saldo/service';

/** The gateway's own identity on internal endpoints (signed for the internal audience only). */
const GATEWAY_SERVICE: Identity = { role: 'platform-admin', subject: 'saldo-gateway' };

/** A Host header without its port, lower case, without a trailing dot. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const host = hostHeader.trim().toLowerCase();
  const withoutPort = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return withoutPort.replace(/\.$/, '') || undefined;
}

/**
 * Maps the Host a request came in on to the partner whose custom domain it is (from the white-label subgraph's list of
 * served hostnames), so the forwarded identity carries `hostPartnerId` and every subgraph narrows the request to that
 * partner. The list is cached and refreshed every `refreshMs`; a host not in it triggers a refresh at most once per
 * `missRefreshMs`, so a domain that just went live is recognized on its first request. A removed domain lingers at
 * most `refreshMs` here, but the web server stops routing it at once. If the list cannot be fetched the last one stays.
 * Fetches go through the `custom-domains` circuit breaker (CUSTOM_DOMAINS_BREAKER_*, CUSTOM_DOMAINS_TIMEOUT_MS): with
 * white-label down, a refresh fails at once instead of holding the request that triggered it for the whole timeout.
 */
export class HostPartnerResolver {
  private hosts = new Map<string, string>();
  private loadedAt = 0;
  /** Hosts recently looked up in vain, so an unknown Host refreshes the list at most once per `missRefreshMs`. */
  private readonly missed = new Map<string, number>();
  private lastMissRefresh = 0;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly signer: IdentitySigner,
    private readonly logger: Logger,
    private readonly options: { refreshMs: number; missRefreshMs: number },
    private readonly guard: DependencyGuard,
  ) {}

  /** Stops reporting the breaker's state (gateway shutdown). */
  close(): void {
    this.guard.dispose();
  }

  /** The partner owning `hostHeader`, undefined for any other host (the platform's own names included). */
  async partnerFor(hostHeader: string | undefined, now: number = Date.now()): Promise<string | undefined> {
    const host = hostnameOf(hostHeader);
    // IP addresses and localhost are never custom domains (a client calling the platform directly).
    if (!host || host === 'localhost' || isIP(host.replace(/^\[|\]$/g, '')) !== 0) return undefined;
    if (now - this.loadedAt > this.options.refreshMs) await this.refresh();
    const known = this.hosts.get(host);
    if (known !== undefined) return known;
    // A domain that just went live: refresh once for this host per interval, and never more than ten times a second
    // overall (made-up Host headers must not turn into a flood of lookups).
    if (now - (this.missed.get(host) ?? 0) < this.options.missRefreshMs || now - this.lastMissRefresh < 100) return undefined;
    if (this.missed.size > 10_000) this.missed.clear();
    this.missed.set(host, now);
    this.lastMissRefresh = now;
    await this.refresh();
    return this.hosts.get(host);
  }

  /** Applies the host's partner to an identity (unchanged for hosts that are not custom domains). */
  async scope(identity: Identity, hostHeader: string | undefined): Promise<Identity> {
    const hostPartnerId = await this.partnerFor(hostHeader);
    // The hostname rides along (billing sends Checkout payers back to the domain they came from).
    return hostPartnerId ? { ...identity, hostPartnerId, hostName: hostnameOf(hostHeader)! } : identity;
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.load().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async load(): Promise<void> {
    try {
      const headers = { [IDENTITY_HEADER]: await this.signer.sign(GATEWAY_SERVICE, INTERNAL_AUDIENCE) };
      const response = await fetchThrough(this.guard, this.url, { headers });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as { hostnames?: Array<{ hostname: string; partnerId: string }> };
      this.hosts = new Map((body.hostnames ?? []).map((entry) => [entry.hostname, entry.partnerId]));
      this.loadedAt = Date.now();
    } catch (error) {
      // Keep the last list; try again at the next refresh.
      this.loadedAt = Date.now();
      this.logger.warn('custom domains: could not load the served hostnames; keeping the last list', { error: (error as Error).message });
    }
  }
}
