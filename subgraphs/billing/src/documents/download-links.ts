import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Downloads are served under this path on billing and, forwarded unchanged, on the gateway's public origin. */
export const DOWNLOAD_PATH = '/documents';

export type DownloadFormat = 'pdf' | 'xml';

/** What a download link grants: one format of one document of one tenant, until it expires. */
export interface DownloadGrant {
  documentId: string;
  tenantId: string;
  format: DownloadFormat;
  /** Unix seconds. */
  expires: number;
}

export type LinkVerdict = { ok: true; grant: DownloadGrant } | { ok: false; reason: 'MALFORMED' | 'BAD_SIGNATURE' | 'EXPIRED' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Short-lived signed download links (docs/decisions/0010-documents.md). A link is a capability: HMAC-SHA256, under a
 * key only billing holds, over the document id, its tenant, the format and the expiry. Billing mints one only after
 * the caller passed the same scope check as for the document itself, and the gateway forwards the path untouched.
 * Changing any part (another id, another tenant, the other format, a later expiry) breaks the signature, and the
 * document must still belong to the signed tenant when it is served.
 */
export class DownloadLinks {
  private readonly key: Buffer;

  constructor(
    secret: string | undefined,
    private readonly publicOrigin: string,
    private readonly ttlSeconds: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.key = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  /** A link valid for `ttlSeconds` (default: the configured TTL of links handed to a caller of the graph). */
  url(documentId: string, tenantId: string, format: DownloadFormat, ttlSeconds: number = this.ttlSeconds): string {
    const expires = Math.floor(this.now().getTime() / 1000) + ttlSeconds;
    const grant: DownloadGrant = { documentId, tenantId, format, expires };
    const query = new URLSearchParams({ tenant: tenantId, expires: String(expires), signature: this.sign(grant) });
    return `${this.publicOrigin.replace(/\/$/, '')}${DOWNLOAD_PATH}/${documentId}.${format}?${query.toString()}`;
  }

  /** Checks the file name (`<id>.<format>`) and query of a request against the signature and the clock. */
  verify(fileName: string, query: Record<string, unknown>): LinkVerdict {
    const match = /^([0-9a-fA-F-]{36})\.(pdf|xml)$/.exec(fileName);
    const tenantId = typeof query['tenant'] === 'string' ? query['tenant'] : '';
    const expires = typeof query['expires'] === 'string' && /^\d{1,12}$/.test(query['expires']) ? Number(query['expires']) : NaN;
    const signature = typeof query['signature'] === 'string' ? query['signature'] : '';
    if (!match || !UUID.test(match[1]!) || !UUID.test(tenantId) || Number.isNaN(expires) || !/^[A-Za-z0-9_-]{43}$/.test(signature))
      return { ok: false, reason: 'MALFORMED' };
    const grant: DownloadGrant = { documentId: match[1]!.toLowerCase(), tenantId: tenantId.toLowerCase(), format: match[2] as DownloadFormat, expires };
    const expected = Buffer.from(this.sign(grant), 'utf8');
    const given = Buffer.from(signature, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'BAD_SIGNATURE' };
    if (expires * 1000 < this.now().getTime()) return { ok: false, reason: 'EXPIRED' };
    return { ok: true, grant };
  }

  private sign(grant: DownloadGrant): string {
    return createHmac('sha256', this.key)
      .update(`saldo-document-download/v1\n${grant.documentId.toLowerCase()}\n${grant.tenantId.toLowerCase()}\n${grant.format}\n${grant.expires}`)
      .digest('base64url');
  }
}
