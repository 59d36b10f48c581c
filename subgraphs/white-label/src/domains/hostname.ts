import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { parse } from 'tldts';
import { ErrorCode, SaldoError } from '@saldo/graphql';

/**
 * Names that never reach the public internet (RFC 6761, RFC 6762, RFC 8375, RFC 9476, ICANN's .internal) or that are
 * commonly used inside networks: no public CA can validate them, and the platform must not be pointed at them.
 */
const INTERNAL_SUFFIXES = [
  'localhost',
  'local',
  'internal',
  'intranet',
  'lan',
  'home',
  'corp',
  'private',
  'localdomain',
  'home.arpa',
  'arpa',
  'invalid',
  'onion',
  'alt',
  'test',
  'example',
];

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface HostnamePolicy {
  /** The platform's own names: refused, and so are their subdomains. */
  platformHostnames: readonly string[];
  /**
   * Reserved suffixes accepted anyway (development with a local CA: `example`, `test`); they count as their own
   * public suffix. Empty in production.
   */
  allowedReservedSuffixes: readonly string[];
}

export interface ValidHostname {
  /** Lower case ASCII (IDNs in punycode), no trailing dot. */
  hostname: string;
  /** The registrable domain under the Public Suffix List (`partner.co.uk` for `portal.partner.co.uk`). */
  registeredDomain: string;
}

function invalid(reason: string, message: string): SaldoError {
  return new SaldoError(ErrorCode.InvalidHostname, message, { field: 'hostname', reason });
}

function endsWithName(hostname: string, suffix: string): boolean {
  return hostname === suffix || hostname.endsWith(`.${suffix}`);
}

/**
 * Checks a hostname a partner wants to serve Saldo under, before anything is stored: a fully qualified public DNS
 * name below a registrable domain of the Public Suffix List (ICANN section), not a wildcard, an IP literal, an
 * internal or reserved name, or one of the platform's own names. Refusals are INVALID_HOSTNAME with a `reason`.
 */
export function validateHostname(input: unknown, policy: HostnamePolicy): ValidHostname {
  if (typeof input !== 'string') throw invalid('MALFORMED', 'hostname must be a string');
  let value = input.trim().toLowerCase();
  if (value.length === 0) throw invalid('MALFORMED', 'hostname must not be empty');
  if (value.includes('*')) throw invalid('WILDCARD', 'Wildcard hostnames are not supported: add each hostname on its own.');
  if (value.startsWith('[') || isIP(value) !== 0 || isIP(value.replace(/\.$/, '')) !== 0) {
    throw invalid('IP_ADDRESS', 'An IP address is not a hostname: use a DNS name.');
  }
  if (/[/:@?#\s\\]/.test(value)) throw invalid('MALFORMED', 'Give the bare hostname (e.g. portal.example.com), without scheme, port or path.');
  if (value.endsWith('.')) value = value.slice(0, -1);
  // Internationalized names are stored and served in their ASCII (punycode) form.
  const ascii = domainToASCII(value);
  if (ascii === '' || ascii.length > 253) throw invalid('MALFORMED', `"${input.trim()}" is not a valid hostname.`);
  const labels = ascii.split('.');
  if (labels.some((label) => !LABEL.test(label))) {
    throw invalid('MALFORMED', `"${input.trim()}" is not a valid hostname: labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen.`);
  }
  for (const own of policy.platformHostnames) {
    if (endsWithName(ascii, own)) throw invalid('PLATFORM_NAME', `"${ascii}" belongs to the platform itself and cannot be a custom domain.`);
  }
  if (labels.length < 2) throw invalid('INTERNAL_NAME', `"${ascii}" is a single-label (internal) name: use a fully qualified public name.`);
  const reserved = policy.allowedReservedSuffixes.find((suffix) => endsWithName(ascii, suffix));
  if (reserved) {
    if (ascii === reserved) throw invalid('PUBLIC_SUFFIX', `"${ascii}" is a suffix, not a domain.`);
    const registeredDomain =
      ascii
        .slice(0, -(reserved.length + 1))
        .split('.')
        .pop() + `.${reserved}`;
    return { hostname: ascii, registeredDomain };
  }
  if (INTERNAL_SUFFIXES.some((suffix) => endsWithName(ascii, suffix))) {
    throw invalid('INTERNAL_NAME', `"${ascii}" is a reserved or internal name that no public CA can validate.`);
  }
  const parsed = parse(ascii, { allowPrivateDomains: false, extractHostname: false });
  if (parsed.isIcann !== true) throw invalid('UNKNOWN_SUFFIX', `"${ascii}" does not end in a public top-level domain.`);
  if (!parsed.domain) throw invalid('PUBLIC_SUFFIX', `"${ascii}" is a public suffix, not a domain someone can own.`);
  return { hostname: ascii, registeredDomain: parsed.domain };
}
