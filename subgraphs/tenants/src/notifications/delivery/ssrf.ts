import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a webhook target is refused. */
export class UnsafeTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeTargetError';
  }
}

export interface TargetPolicy {
  /** Development only: allow loopback, private and link-local targets (and plain http). */
  allowPrivate: boolean;
}

/**
 * Only public unicast addresses are webhook targets outside development: no loopback, private (RFC 1918, unique
 * local), link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast, reserved or unspecified
 * ranges. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

/** Syntax and scheme of a webhook URL (no DNS): https, or http only where private targets are allowed. */
export function checkUrlShape(url: URL, policy: TargetPolicy): void {
  if (url.protocol !== 'https:' && !(policy.allowPrivate && url.protocol === 'http:')) {
    throw new UnsafeTargetError(policy.allowPrivate ? 'must be an http(s) URL' : 'must be an https URL');
  }
  if (url.username || url.password) throw new UnsafeTargetError('must not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!policy.allowPrivate && isIP(host) && !isPublicAddress(host)) throw new UnsafeTargetError(`${host} is not a public address`);
  if (!policy.allowPrivate && /^(localhost|.*\.localhost|.*\.local|.*\.internal)$/i.test(host)) throw new UnsafeTargetError(`${host} is not a public host`);
}

/** Resolves every address of the URL's host and refuses the URL if any of them is not public (registration time). */
export async function checkTarget(url: URL, policy: TargetPolicy): Promise<void> {
  checkUrlShape(url, policy);
  if (policy.allowPrivate) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return;
  const addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, found) =>
      error ? reject(new UnsafeTargetError(`${host} does not resolve (${error.code})`)) : resolve(found),
    ),
  );
  const refused = addresses.find((entry) => !isPublicAddress(entry.address));
  if (refused) throw new UnsafeTargetError(`${host} resolves to ${refused.address}, which is not a public address`);
}

/**
 * A `lookup` for http(s) agents that re-checks at connection time: the socket connects only to the address it checked,
 * so a DNS answer that changed since registration (rebinding) cannot smuggle a private target in.
 */
export function guardedLookup(policy: TargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 4);
      if (!policy.allowPrivate) {
        const refused = addresses.find((entry) => !isPublicAddress(entry.address));
        if (refused) return callback(new UnsafeTargetError(`${hostname} resolves to ${refused.address}, which is not a public address`), '', 4);
      }
      if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new UnsafeTargetError(`${hostname} has no address`), '', 4);
      callback(null, first.address, first.family);
    });
  };
}
