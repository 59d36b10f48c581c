import { X509Certificate, createHash } from 'node:crypto';
import * as acme from 'acme-client';
import { AuthorityKeyIdentifierExtension, X509Certificate as PeculiarCertificate } from '@peculiar/x509';

export interface CertificateFacts {
  serial: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  /** Names the leaf covers (SANs). */
  hostnames: string[];
  /** ARI certificate identifier (RFC 9773): base64url(AKI keyIdentifier) "." base64url(serial DER); null without an AKI. */
  ariCertId: string | null;
}

/** Facts about the leaf of a PEM chain. Throws when the chain holds no parseable certificate. */
export function certificateFacts(chainPem: string): CertificateFacts {
  const [leafPem] = acme.crypto.splitPemChain(chainPem);
  if (!leafPem) throw new Error('the chain holds no certificate');
  const leaf = new X509Certificate(leafPem);
  const peculiar = new PeculiarCertificate(leafPem);
  const aki = peculiar.getExtension(AuthorityKeyIdentifierExtension);
  const serialBytes = Buffer.from(peculiar.serialNumber.length % 2 ? `0${peculiar.serialNumber}` : peculiar.serialNumber, 'hex');
  const hostnames = (leaf.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  return {
    serial: leaf.serialNumber.toLowerCase(),
    fingerprint: createHash('sha256').update(leaf.raw).digest('hex'),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    hostnames,
    ariCertId: aki?.keyId ? `${Buffer.from(aki.keyId, 'hex').toString('base64url')}.${serialBytes.toString('base64url')}` : null,
  };
}

/** When to renew without ARI: two thirds into the certificate's lifetime. */
export function twoThirdsInto(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + Math.floor(((notAfter.getTime() - notBefore.getTime()) * 2) / 3));
}

/**
 * ARI (RFC 9773): the CA's suggested window for renewing a certificate. A time inside the window is picked uniformly
 * at random (as the RFC recommends, so renewals of many certificates spread out). Null when the answer is unusable.
 */
export function pickFromRenewalWindow(body: unknown, random: () => number = Math.random): Date | null {
  const window = (body as { suggestedWindow?: { start?: unknown; end?: unknown } } | null)?.suggestedWindow;
  if (typeof window?.start !== 'string' || typeof window.end !== 'string') return null;
  const start = Date.parse(window.start);
  const end = Date.parse(window.end);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return null;
  return new Date(start + Math.floor((end - start) * random()));
}
