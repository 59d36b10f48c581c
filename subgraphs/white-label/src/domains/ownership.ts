import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';

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
