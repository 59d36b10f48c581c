import type { EntityManager } from '@mikro-orm/postgresql';
import { DocumentIssued, OUTBOX_INSERT, outboxRow } from '@saldo/events';
import { v7 as uuidv7 } from 'uuid';
import { berlinDay } from './calendar.js';
import { decodeContent, encodeContent, logoReferences } from './content-codec.js';
import { DocumentKind, SERIES_OF_KIND, type DocumentContent, type IssuerSnapshot, type LogoImage } from './model.js';
import { formatDocumentNumber, takeNextNumber } from './numbering.js';

/** A document as the journal keeps it: its index columns and its content. */
export interface StoredDocument {
  id: string;
  tenantId: string;
  issuerId: string;
  kind: DocumentKind;
  number: string;
  issueDate: string;
  issuedAt: Date;
  periodFrom: string;
  periodTo: string;
  currency: string;
  netMinor: bigint;
  vatMinor: bigint;
  grossMinor: bigint;
  sourceKey: string;
  correctsId: string | null;
  /** Stored JSON (decode with `DocumentJournal.content`). */
  content: unknown;
}

export interface IssueRequest {
  tenantId: string;
  kind: DocumentKind;
  /** Unique cause: issuing again with the same key returns the document issued first. */
  sourceKey: string;
  issuer: IssuerSnapshot;
  issuedAt: Date;
  correctsId?: string | null;
  /**
   * Runs in the issuing transaction before a number is taken (checks that need the database under lock, e.g. what
   * remains creditable on an invoice). Throwing leaves nothing behind.
   */
  check?: (tx: EntityManager) => Promise<void>;
  /** Builds the content once the id and number are known. Throwing leaves nothing behind, no number used. */
  compose: (identity: { id: string; number: string }) => DocumentContent;
  /** Runs in the issuing transaction after the document is written (jobs that must exist exactly when it does). */
  within?: (tx: EntityManager, document: StoredDocument) => Promise<void>;
}

export interface IssueOutcome {
  /** ISSUED by this call, or EXISTING: the source key was issued before. */
  status: 'ISSUED' | 'EXISTING';
  document: StoredDocument;
}

/** Test seam: runs after the document and its event are written, before COMMIT (to simulate a crash there). */
export type BeforeCommitHook = (tx: EntityManager, document: StoredDocument) => Promise<void>;

/** The signed PDF link `document.issued` carries (the notifier attaches the PDF to its mail); null: no link. */
export type EventPdfLink = (documentId: string, tenantId: string) => string | null;

const COLUMNS = `id, tenant_id, issuer_id, kind, number, issue_date::text as issue_date, issued_at, period_from::text as period_from,
  period_to::text as period_to, currency, net_minor, vat_minor, gross_minor, source_key, corrects_id, content`;

interface Row {
  id: string;
  tenant_id: string;
  issuer_id: string;
  kind: DocumentKind;
  number: string;
  issue_date: string;
  issued_at: Date;
  period_from: string;
  period_to: string;
  currency: string;
  net_minor: string;
  vat_minor: string;
  gross_minor: string;
  source_key: string;
  corrects_id: string | null;
  content: unknown;
}

function fromRow(row: Row): StoredDocument {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    issuerId: row.issuer_id,
    kind: row.kind,
    number: row.number,
    issueDate: row.issue_date,
    issuedAt: new Date(row.issued_at),
    periodFrom: row.period_from,
    periodTo: row.period_to,
    currency: row.currency.trim(),
    netMinor: BigInt(row.net_minor),
    vatMinor: BigInt(row.vat_minor),
    grossMinor: BigInt(row.gross_minor),
    sourceKey: row.source_key,
    correctsId: row.corrects_id,
    content: row.content,
  };
}

const isUniqueViolation = (error: unknown, constraint: string) =>
  (error as { code?: string }).code === '23505' &&
  String((error as { constraint?: string; message?: string }).constraint ?? (error as Error).message).includes(constraint);

/**
 * The document journal in billing's control database. `issue` is the one way a document comes into existence:
 * in ONE transaction it takes the next number of the issuer's series (the counter row stays locked until COMMIT),
 * writes the immutable document and its `document.issued` event to the outbox. Either all of it commits or none of
 * it: numbers are consecutive under any concurrency, and a crash between taking the number and COMMIT gives the
 * number back. Issuing is idempotent per source key.
 */
export class DocumentJournal {
  constructor(
    private readonly em: () => EntityManager,
    private readonly hooks: { beforeCommit?: BeforeCommitHook; pdfLink?: EventPdfLink } = {},
  ) {}

  async issue(request: IssueRequest): Promise<IssueOutcome> {
    try {
      return await this.em().transactional(async (tx) => {
        const existing = await this.bySourceKey(tx, request.sourceKey);
        if (existing) return { status: 'EXISTING' as const, document: existing };
        await request.check?.(tx);
        const series = SERIES_OF_KIND[request.kind];
        const year = Number(berlinDay(request.issuedAt).slice(0, 4));
        const sequence = await takeNextNumber(tx, request.issuer.id, series, year);
        const id = uuidv7();
        const number = formatDocumentNumber(series, year, sequence);
        const content = request.compose({ id, number });
        const document = await this.insert(tx, request, { id, number, series, year, sequence }, content);
        await request.within?.(tx, document);
        await this.hooks.beforeCommit?.(tx, document);
        return { status: 'ISSUED' as const, document };
      });
    } catch (error) {
      // A concurrent issuance of the same cause won the unique source key; its number stands, ours was rolled back.
      if (isUniqueViolation(error, 'billing_document_source_key_unique')) {
        const existing = await this.bySourceKey(this.em(), request.sourceKey);
        if (existing) return { status: 'EXISTING', document: existing };
      }
      throw error;
    }
  }

  private async insert(
    tx: EntityManager,
    request: IssueRequest,
    identity: { id: string; number: string; series: string; year: number; sequence: bigint },
    content: DocumentContent,
  ): Promise<StoredDocument> {
    const { json, logos } = encodeContent(content);
    const pdfUrl = this.hooks.pdfLink?.(identity.id, request.tenantId) ?? null;
    const event = outboxRow(
      DocumentIssued,
      request.tenantId,
      {
        documentId: identity.id,
        tenantId: request.tenantId,
        kind: request.kind,
        number: identity.number,
        issuerId: request.issuer.id,
        issueDate: content.issueDate,
        servicePeriod: content.servicePeriod,
        currency: content.currency,
        totals: {
          netMinor: content.totals.netMinor.toString(),
          vatMinor: content.totals.vatMinor.toString(),
          grossMinor: content.totals.grossMinor.toString(),
        },
        language: content.language,
        corrects: content.corrects ? { documentId: content.corrects.id, number: content.corrects.number } : null,
        issuedAt: request.issuedAt.toISOString(),
        ...(pdfUrl ? { pdfUrl } : {}),
      },
      request.issuedAt,
    );
    const logoRows = [...logos.entries()].map(([sha256, logo]) => ({ sha256, mime: logo.mime, data: logo.data.toString('base64') }));
    // Document, logos and event in one statement (one round trip); the CTEs run in the same snapshot and all commit
    // or roll back with the number.
    const [row] = await tx.execute<Row[]>(
      `with logos as (
         insert into document_logo (sha256, mime, data)
         select l->>'sha256', l->>'mime', decode(l->>'data', 'base64') from jsonb_array_elements(?::jsonb) as l
         on conflict (sha256) do nothing returning 1
       ), events as (${OUTBOX_INSERT} returning 1)
       insert into billing_document (id, tenant_id, issuer_id, kind, series, year, sequence, number, issue_date, issued_at,
                                     period_from, period_to, currency, net_minor, vat_minor, gross_minor, source_key, corrects_id, content)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb)
       returning ${COLUMNS}`,
      [
        JSON.stringify(logoRows),
        JSON.stringify([event]),
        identity.id,
        request.tenantId,
        request.issuer.id,
        request.kind,
        identity.series,
        identity.year,
        identity.sequence.toString(),
        identity.number,
        content.issueDate,
        request.issuedAt,
        content.servicePeriod.from,
        content.servicePeriod.to,
        content.currency,
        content.totals.netMinor.toString(),
        content.totals.vatMinor.toString(),
        content.totals.grossMinor.toString(),
        request.sourceKey,
        request.correctsId ?? null,
        JSON.stringify(json),
      ],
    );
    return fromRow(row!);
  }

  async bySourceKey(em: EntityManager, sourceKey: string): Promise<StoredDocument | null> {
    const [row] = await em.execute<Row[]>(`select ${COLUMNS} from billing_document where source_key = ?`, [sourceKey]);
    return row ? fromRow(row) : null;
  }

  async byIds(ids: readonly string[]): Promise<StoredDocument[]> {
    if (ids.length === 0) return [];
    const rows = await this.em().execute<Row[]>(`select ${COLUMNS} from billing_document where id in (select jsonb_array_elements_text(?::jsonb)::uuid)`, [
      JSON.stringify(ids),
    ]);
    return rows.map(fromRow);
  }

  /**
   * One page of several tenants' documents, newest first (ids are UUIDv7), in one query: a lateral scan per tenant
   * of the (tenant, issue date, id) index.
   */
  async pageForTenants(
    tenantIds: readonly string[],
    filter: { first: number; afterId: string | null; kind: DocumentKind | null; from: string | null; to: string | null },
  ): Promise<Map<string, StoredDocument[]>> {
    const result = new Map<string, StoredDocument[]>(tenantIds.map((id) => [id, []]));
    if (tenantIds.length === 0) return result;
    const rows = await this.em().execute<Row[]>(
      `select d.* from (select jsonb_array_elements_text(?::jsonb)::uuid as tenant_id) as t
         cross join lateral (
           select ${COLUMNS} from billing_document
            where tenant_id = t.tenant_id
              and (?::uuid is null or id < ?::uuid)
              and (?::text is null or kind = ?::text)
              and (?::date is null or issue_date >= ?::date)
              and (?::date is null or issue_date <= ?::date)
            order by id desc
            limit ?
         ) d`,
      [JSON.stringify(tenantIds), filter.afterId, filter.afterId, filter.kind, filter.kind, filter.from, filter.from, filter.to, filter.to, filter.first + 1],
    );
    for (const row of rows) result.get(row.tenant_id)?.push(fromRow(row));
    return result;
  }

  /** The tenant's most recent statement of a month before `before` (YYYY-MM-DD): where the next month starts. */
  async latestStatementBefore(tenantId: string, before: string): Promise<StoredDocument | null> {
    const [row] = await this.em().execute<Row[]>(
      `select ${COLUMNS} from billing_document where tenant_id = ? and kind = 'STATEMENT' and period_from < ?::date order by period_from desc limit 1`,
      [tenantId, before],
    );
    return row ? fromRow(row) : null;
  }

  /** Document numbers by source key (one query), for references between documents. */
  async numbersBySourceKey(sourceKeys: readonly string[]): Promise<Map<string, string>> {
    if (sourceKeys.length === 0) return new Map();
    const rows = await this.em().execute<Array<{ source_key: string; number: string }>>(
      'select source_key, number from billing_document where source_key in (select jsonb_array_elements_text(?::jsonb))',
      [JSON.stringify(sourceKeys)],
    );
    return new Map(rows.map((row) => [row.source_key, row.number]));
  }

  /** Net already credited against an invoice by credit notes, read under the caller's lock. */
  async creditedAgainst(em: EntityManager, invoiceId: string): Promise<bigint> {
    const [row] = await em.execute<{ net: string | null }[]>(`select sum(net_minor)::text as net from billing_document where corrects_id = ?`, [invoiceId]);
    return BigInt(row?.net ?? '0');
  }

  /** Locks an invoice row (FOR UPDATE: credit notes against one invoice serialize); null when it does not exist. */
  async lockDocument(tx: EntityManager, id: string): Promise<StoredDocument | null> {
    const [row] = await tx.execute<Row[]>(`select ${COLUMNS} from billing_document where id = ? for update`, [id]);
    return row ? fromRow(row) : null;
  }

  /** The content without its logos (no query): for reads that show figures, not pages. */
  contentWithoutLogos(document: StoredDocument): DocumentContent {
    return decodeContent(document.content, new Map());
  }

  /** The full content of stored documents, logos loaded in one query. */
  async content(documents: readonly StoredDocument[]): Promise<DocumentContent[]> {
    const hashes = [...new Set(documents.flatMap((document) => logoReferences(document.content)))];
    const logos = new Map<string, LogoImage>();
    if (hashes.length > 0) {
      const rows = await this.em().execute<{ sha256: string; mime: LogoImage['mime']; data: Buffer }[]>(
        `select sha256, mime, data from document_logo where sha256 in (select jsonb_array_elements_text(?::jsonb))`,
        [JSON.stringify(hashes)],
      );
      for (const row of rows) logos.set(row.sha256, { mime: row.mime, data: row.data });
    }
    return documents.map((document) => decodeContent(document.content, logos));
  }
}
