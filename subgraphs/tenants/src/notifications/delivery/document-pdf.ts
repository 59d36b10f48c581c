import { DependencyGuard, failingStatus, fetchThrough, isDependencyUnavailable, type BreakerSettings } from '@saldo/resilience';

/** The largest PDF the notifier attaches (a statement with tens of thousands of lines stays well below). */
const MAX_PDF_BYTES = 25 * 2 ** 20;

/**
 * What the mail of a `document.issued` carries. The PDF is fetched before the mail is sent (not by the mail library
 * while sending), so the notifier can tell a link that will never work from one that may work later:
 * - ATTACHED: the PDF, attached to the mail;
 * - NONE: no link, or the link is refused for good (4xx: expired, altered, no such document) — the mail goes out
 *   without the PDF and points to the portal, instead of blocking the tenant's later mail behind a retry that cannot
 *   succeed;
 * - RETRY: billing (or the gateway) could not answer now (network error, timeout, 5xx) — the delivery fails and is
 *   retried with its lane's back-off, well within the link's lifetime (7 days against a 3-day retry window).
 */
export type DocumentPdf =
  | { kind: 'ATTACHED'; attachment: { filename: string; content: Buffer; contentType: 'application/pdf' } }
  | { kind: 'NONE'; reason: string | null }
  | { kind: 'RETRY'; error: string };

export interface DocumentPdfOptions {
  /** Longest one fetch may take (the guard abandons it then: RETRY). */
  timeoutMs: number;
  /**
   * Where to fetch links from instead of their own origin (the gateway's public one), e.g. billing's internal URL
   * when the notifier cannot reach the public origin; the path and signed query stay as they are.
   */
  fetchOrigin: string | null;
  /**
   * The `document-pdf` circuit breaker (DOCUMENT_PDF_BREAKER_*): unreachable, timed out, 5xx and 429 answers count; while
   * it is open the delivery fails at once (RETRY with DEPENDENCY_UNAVAILABLE) instead of waiting for the timeout.
   */
  guard: DependencyGuard;
}

/** Answers that say billing (or the gateway) cannot serve the PDF now, as opposed to refusing it for good. */
const unavailable = failingStatus({ tooManyRequests: true });

/** The breaker of the notifier's PDF fetches (billing's document links). */
export function documentPdfGuard(breaker: BreakerSettings, timeoutMs: number): DependencyGuard {
  return new DependencyGuard({ dependency: 'document-pdf', ...breaker, timeoutMs, isFailureResult: unavailable });
}

export async function fetchDocumentPdf(data: Record<string, unknown>, options: DocumentPdfOptions): Promise<DocumentPdf> {
  const link = data['pdfUrl'];
  if (typeof link !== 'string' || !URL.canParse(link)) return { kind: 'NONE', reason: null };
  const url = new URL(link);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { kind: 'NONE', reason: 'not an http(s) link' };
  const target = options.fetchOrigin ? new URL(`${url.pathname}${url.search}`, options.fetchOrigin) : url;
  let response: Response;
  try {
    response = await fetchThrough(options.guard, target, { redirect: 'error', headers: { accept: 'application/pdf' }, maxBytes: MAX_PDF_BYTES });
  } catch (error) {
    const reason = isDependencyUnavailable(error) ? `DEPENDENCY_UNAVAILABLE: ${(error as Error).message}` : (error as Error).message;
    return { kind: 'RETRY', error: `the document's PDF could not be fetched: ${reason}` };
  }
  if (unavailable(response)) {
    await response.body?.cancel();
    return { kind: 'RETRY', error: `the document's PDF could not be fetched: HTTP ${response.status}` };
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return { kind: 'NONE', reason: `HTTP ${response.status}` };
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (!(response.headers.get('content-type') ?? '').startsWith('application/pdf') || declared > MAX_PDF_BYTES) {
    await response.body?.cancel();
    return { kind: 'NONE', reason: 'not a PDF of an attachable size' };
  }
  let content: Buffer;
  try {
    content = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    return { kind: 'RETRY', error: `the document's PDF could not be fetched: ${(error as Error).message}` };
  }
  if (content.length > MAX_PDF_BYTES || content.subarray(0, 5).toString('latin1') !== '%PDF-')
    return { kind: 'NONE', reason: 'not a PDF of an attachable size' };
  const number = String(data['number'] ?? 'document').replace(/[^A-Za-z0-9._-]/g, '_');
  return { kind: 'ATTACHED', attachment: { filename: `${number}.pdf`, content, contentType: 'application/pdf' } };
}
