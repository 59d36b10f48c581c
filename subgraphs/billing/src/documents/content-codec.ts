import { createHash } from 'node:crypto';
import type { DocumentContent, LogoImage } from './model.js';

/**
 * Documents are stored as JSON. Amounts are bigint (tagged as {"$big": "123"}), dates ISO strings, and logos are
 * kept once in document_logo and referenced by hash ({"$logo": "<sha256>"}), so a thousand invoices with the same
 * logo hold it once.
 */
export function logoHash(logo: LogoImage): string {
  return createHash('sha256').update(logo.data).digest('hex');
}

export function encodeContent(content: DocumentContent): { json: unknown; logos: Map<string, LogoImage> } {
  const logos = new Map<string, LogoImage>();
  const json = JSON.parse(
    JSON.stringify(content, function replacer(this: Record<string, unknown>, key, value: unknown) {
      const raw = this[key];
      if (typeof raw === 'bigint') return { $big: raw.toString() };
      if (raw instanceof Date) return { $date: raw.toISOString() };
      if (key === 'logo' && raw && typeof raw === 'object' && 'data' in raw) {
        const logo = raw as LogoImage;
        const hash = logoHash(logo);
        logos.set(hash, logo);
        return { $logo: hash, mime: logo.mime };
      }
      return value;
    }),
  ) as unknown;
  return { json, logos };
}

/** The logo hashes a stored document refers to. */
export function logoReferences(json: unknown): string[] {
  const found = new Set<string>();
  const visit = (value: unknown) => {
    if (!value || typeof value !== 'object') return;
    if ('$logo' in value) found.add((value as { $logo: string }).$logo);
    for (const child of Object.values(value)) visit(child);
  };
  visit(json);
  return [...found];
}

export function decodeContent(json: unknown, logos: ReadonlyMap<string, LogoImage>): DocumentContent {
  return JSON.parse(JSON.stringify(json), (_key, value: unknown) => {
    if (value && typeof value === 'object') {
      if ('$big' in value) return BigInt((value as { $big: string }).$big);
      if ('$date' in value) return new Date((value as { $date: string }).$date);
      if ('$logo' in value) return logos.get((value as { $logo: string }).$logo) ?? null;
    }
    return value;
  }) as DocumentContent;
}
