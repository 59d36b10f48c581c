import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { request } from 'node:http';
import { BlockList } from 'node:net';

/** The DNS name whose TXT record proves a partner controls `hostname`. */
export function challengeRecordName(hostname: string): string {
  return `_saldo-challenge.${hostname}`;
}

/** A fresh verification token: 256 random bits, base64url (DNS TXT and URL safe). */
export function newVerificationToken(): string {
  return randomBytes(32).toString('base64url');
}

export type OwnershipCheck = { verified: true } | { verified: false; reason: string; found: string[] };

/**
 * Checks that TXT `_saldo-challenge.<hostname>` holds the domain's token, through the configured resolvers (or the
 * system's). A lookup failure is "not verified" with the reason, never an exception: the partner sees what was found.
 */
export class DnsOwnershipVerifier {
  private readonly resolver: Resolver;

  constructor(servers: readonly string[] | undefined, timeoutMs = 3000) {
    this.resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
    if (servers && servers.length > 0) this.resolver.setServers([...servers]);
  }

  async check(hostname: string, token: string): Promise<OwnershipCheck> {
    const name = challengeRecordName(hostname);
    let records: string[][];
    try {
      records = await this.resolver.resolveTxt(name);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOTFOUND' || code === 'ENODATA' ? `no TXT record ${name} found` : `DNS lookup of ${name} failed (${code ?? String(error)})`;
      return { verified: false, reason, found: [] };
    }
    // A TXT record may be split into several strings; they form one value.
    const values = records.map((chunks) => chunks.join('').trim());
    if (values.includes(token)) return { verified: true };
    return { verified: false, reason: `TXT ${name} does not hold this domain's token`, found: values.slice(0, 5) };
  }
}

/** Where the partner's own web server serves the token for the HTTP proof (before DNS points at the platform). */
export function httpTokenPath(domainId: string): string {
  return `/.well-known/saldo-domain-verification/${domainId}`;
}

/** Loopback, private, link-local, CGNAT and unspecified IPv4 ranges: never fetched from for a partner (SSRF). */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
}

/**
 * The HTTP proof: `http://<hostname>/.well-known/saldo-domain-verification/<domain id>` answers the domain's token.
 * The name is resolved through the configured resolvers and the request goes to that address with the hostname as
 * Host; addresses that are not public are refused unless allowed (development, tests), no redirects are followed.
 */
export class HttpOwnershipVerifier {
  private readonly resolver: Resolver;

  constructor(
    servers: readonly string[] | undefined,
    private readonly options: { port: number; allowNonPublic: boolean; timeoutMs?: number },
  ) {
    this.resolver = new Resolver({ timeout: options.timeoutMs ?? 3000, tries: 2 });
    if (servers && servers.length > 0) this.resolver.setServers([...servers]);
  }

  async check(hostname: string, domainId: string, token: string): Promise<OwnershipCheck> {
    const url = `http://${hostname}${this.options.port === 80 ? '' : `:${this.options.port}`}${httpTokenPath(domainId)}`;
    let address: string | undefined;
    try {
      [address] = await this.resolver.resolve4(hostname);
    } catch (error) {
      return { verified: false, reason: `${hostname} does not resolve (${(error as NodeJS.ErrnoException).code ?? String(error)})`, found: [] };
    }
    if (!address) return { verified: false, reason: `${hostname} has no IPv4 address`, found: [] };
    if (!this.options.allowNonPublic && NON_PUBLIC.check(address, 'ipv4')) {
      return { verified: false, reason: `${hostname} resolves to ${address}, which is not a public address`, found: [] };
    }
    const body = await new Promise<{ status: number; text: string } | string>((resolve) => {
      const req = request(
        {
          host: address,
          port: this.options.port,
          path: httpTokenPath(domainId),
          headers: { host: hostname },
          timeout: this.options.timeoutMs ?? 3000,
          agent: false,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text = (text + chunk).slice(0, 1024)));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error) => resolve(error.message));
      req.end();
    });
    if (typeof body === 'string') return { verified: false, reason: `${url} could not be fetched (${body})`, found: [] };
    if (body.status === 200 && body.text.trim() === token) return { verified: true };
    return {
      verified: false,
      reason: `${url} answered ${body.status} without this domain's token`,
      found: body.status === 200 ? [body.text.trim().slice(0, 100)] : [],
    };
  }
}
