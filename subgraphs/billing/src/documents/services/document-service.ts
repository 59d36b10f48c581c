import { deterministicJobId, type JobQueue } from '@saldo/jobs';
import type { OutboxRelay } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { LedgerEntryType, readEntries, readLedgerMonth, readUsageLines, type EntryDetails, type LedgerService } from '../../ledger/index.js';
import type { Clock } from '../../shared/clock.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import { berlinDay, berlinMonth } from '../calendar.js';
import { composeCreditNote, composeStatement, composeTopUpInvoice, type DocumentHeader } from '../compose.js';
import type { DownloadLinks } from '../download-links.js';
import { renderCii } from '../einvoice/cii.js';
import type { DocumentJournal, IssueRequest, StoredDocument } from '../journal.js';
import { parseLeitwegId } from '../leitweg-id.js';
import { DocumentKind, type DocumentContent, type IssuerSnapshot, type StatementSummary } from '../model.js';
import { renderDocumentPdf } from '../pdf/render.js';
import { creditNoteLedgerQueue, refundCreditNoteQueue, statementQueue, topUpInvoiceQueue } from '../queues.js';
import type { VatRateTable } from '../vat/rates.js';
import { VatRuleError, determineVatTreatment, vatOf, type VatTreatment } from '../vat/treatment.js';
import { parseCreditNoteInput } from './inputs.js';
import type { DocumentParties, PartiesReader } from './parties.js';

export interface DocumentSettings {
  /** The platform operator as seller of record; null: documents are off (MISSING_ISSUER_DATA). */
  platformIssuer: IssuerSnapshot | null;
  rates: VatRateTable;
  links: DownloadLinks;
}

/** A goodwill (or manual) credit note against an invoice. */
export interface CreditNoteInput {
  documentId: string;
  /** Net amount credited, in the invoice's currency. */
  amount: { amountMinor: bigint; currency: string };
  reason: string;
  idempotencyKey: string;
}

/** The VAT a top-up of `netMinor` is charged on top (payments quotes it when the top-up is created). */
export interface TopUpTaxQuote {
  netMinor: bigint;
  vatMinor: bigint;
  grossMinor: bigint;
  currency: string;
  category: VatTreatment['category'];
  basisPoints: number;
  vatCase: VatTreatment['case'];
  day: string;
}

/** The month before the one `at` falls in (Berlin calendar), YYYY-MM. */
export function previousMonth(at: Date): string {
  const [year, month] = berlinDay(at).split('-').map(Number) as [number, number];
  return month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, '0')}`;
}

const isoMonth = (period: string) => /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period);

/** The money a ledger entry's metadata says was paid (or refunded), in the payer's currency. */
function paidOf(entry: EntryDetails): { amountMinor: bigint; currency: string } {
  const paid = entry.metadata?.['paid'] as { amountMinor?: string; currency?: string } | undefined;
  return paid?.amountMinor && paid.currency
    ? { amountMinor: BigInt(paid.amountMinor), currency: paid.currency }
    : { amountMinor: entry.amountMinor, currency: entry.currency };
}

/** The VAT quote payments stored on a credited top-up (VAT charged on top), if any. */
function taxOf(entry: EntryDetails): { netMinor: bigint } | null {
  const tax = entry.metadata?.['tax'] as { netMinor?: string } | undefined;
  return tax?.netMinor ? { netMinor: BigInt(tax.netMinor) } : null;
}

/**
 * Issues, reads and renders billing documents. Every document comes into existence through the journal (one
 * transaction: number, document, event); the causes are the ledger's (a credited top-up, a booked refund, a month's
 * postings) or an operator's (a goodwill credit note). Issuing is idempotent per cause, so jobs and redelivered events
 * may ask twice.
 */
export class DocumentService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly journal: DocumentJournal,
    private readonly parties: PartiesReader,
    private readonly ledger: LedgerService,
    private readonly jobs: JobQueue,
    private readonly settings: DocumentSettings,
    private readonly relay: OutboxRelay,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** Documents are issued once a seller of record is configured. */
  get enabled(): boolean {
    return this.settings.platformIssuer !== null;
  }

  get links(): DownloadLinks {
    return this.settings.links;
  }

  // ---- Causes: what the ledger did ------------------------------------------------------------------------------

  /**
   * Sends the jobs a posting asks for: an invoice per credited top-up, a credit note per booked refund. Deterministic
   * job ids: a redelivered transaction.posted enqueues nothing new.
   */
  async onPosting(tenantId: string, entries: ReadonlyArray<{ entryId: string; type: string }>): Promise<void> {
    if (!this.enabled) return;
    for (const entry of entries) {
      if (entry.type === 'TOP_UP')
        await this.jobs.send(topUpInvoiceQueue, { tenantId, entryId: entry.entryId }, { id: deterministicJobId(topUpInvoiceQueue, entry.entryId) });
      if (entry.type === 'REFUND')
        await this.jobs.send(refundCreditNoteQueue, { tenantId, entryId: entry.entryId }, { id: deterministicJobId(refundCreditNoteQueue, entry.entryId) });
    }
  }

  /** The invoice for a credited top-up: what was paid, net and VAT, as of the day the payment arrived. */
  async issueTopUpInvoice(tenantId: string, entryId: string): Promise<StoredDocument> {
    const entry = await this.entry(tenantId, entryId, 'TOP_UP');
    const parties = await this.requireParties(tenantId);
    const paid = paidOf(entry);
    const tax = taxOf(entry);
    const paidAt = entry.occurredAt ?? entry.createdAt;
    const reference = entry.externalRef;
    const issuedAt = this.clock.now();
    return this.issue({
      tenantId,
      kind: DocumentKind.INVOICE,
      sourceKey: `top-up:${entry.id}`,
      issuer: parties.issuer,
      issuedAt,
      compose: (identity) =>
        composeTopUpInvoice(
          this.header(identity, issuedAt, parties, paid.currency),
          {
            paidMinor: paid.amountMinor,
            netMinor: tax?.netMinor ?? null,
            paidAt,
            paymentReference: reference,
            accountCredit: { amountMinor: entry.amountMinor, currency: entry.currency },
          },
          this.settings.rates,
        ),
    });
  }

  /**
   * The credit note for a booked Stripe refund: it corrects the invoice of the refunded payment by the refunded share
   * of its net (VAT at the invoice's rate), never by more than remains creditable.
   */
  async issueRefundCreditNote(tenantId: string, entryId: string): Promise<StoredDocument | null> {
    const refund = await this.entry(tenantId, entryId, 'REFUND');
    const paymentIntentId = (refund.metadata?.['stripe'] as { paymentIntentId?: string } | undefined)?.paymentIntentId;
    if (!paymentIntentId) {
      this.logger.warn('refund without a payment intent: no invoice to correct', { tenant: tenantId, entry: entryId });
      return null;
    }
    const [credit] = await this.entries(tenantId, { keys: [`stripe:pi:${paymentIntentId}`] });
    const invoice = credit ? await this.journal.bySourceKey(this.db.globalEm(), `top-up:${credit.id}`) : null;
    // The invoice is issued by its own job; until it exists this job fails and is retried.
    if (!invoice) throw new Error(`the invoice of payment ${paymentIntentId} is not issued yet`);
    const [invoiceContent] = await this.journal.content([invoice]);
    const refunded = -paidOf(refund).amountMinor;
    const share = invoice.grossMinor === 0n ? 0n : (refunded * invoice.netMinor * 2n + invoice.grossMinor) / (invoice.grossMinor * 2n);
    const parties = await this.requireParties(tenantId);
    const issuedAt = this.clock.now();
    let remainingNet = 0n;
    try {
      return await this.issue({
        tenantId,
        kind: DocumentKind.CREDIT_NOTE,
        sourceKey: `refund:${refund.id}`,
        // A correction is issued by whoever issued the invoice, in that issuer's series.
        issuer: invoiceContent!.issuer,
        issuedAt,
        correctsId: invoice.id,
        check: async (tx) => {
          await this.journal.lockDocument(tx, invoice.id);
          remainingNet = invoice.netMinor - (await this.journal.creditedAgainst(tx, invoice.id));
          if (remainingNet <= 0n) throw billingError(BillingErrorCode.AmountExceedsCreditable, `Invoice ${invoice.number} has nothing left to credit.`);
        },
        compose: (identity) =>
          composeCreditNote(
            this.header(identity, issuedAt, { ...parties, issuer: invoiceContent!.issuer }, invoice.currency),
            { ...invoiceContent!, vat: invoiceContent!.vat! },
            {
              netMinor: share < remainingNet ? share : remainingNet,
              reason: 'Erstattung / Refund',
              settlement: 'REFUND',
              reference: refund.externalRef,
              settledAt: refund.occurredAt ?? refund.createdAt,
              accountCredit: { amountMinor: refund.amountMinor, currency: refund.currency },
            },
          ),
      });
    } catch (error) {
      // Goodwill credit notes may have used up the invoice already: the refund is booked, there is nothing to correct.
      if ((error as { extensions?: { code?: string } }).extensions?.code === BillingErrorCode.AmountExceedsCreditable) {
        this.logger.warn('refund exceeds what remains creditable on its invoice: no credit note', {
          tenant: tenantId,
          entry: entryId,
          invoice: invoice.number,
        });
        return null;
      }
      throw error;
    }
  }

  /**
   * A credit note against an invoice (goodwill, a price correction): net `amount` in the invoice's currency, VAT at the
   * invoice's rate, credited to the prepaid balance. Never above what remains creditable; the same idempotency key
   * returns the same credit note.
   */
  async issueCreditNote(input: unknown): Promise<StoredDocument> {
    const { documentId, amount, idempotencyKey, reason } = parseCreditNoteInput(input);
    const [invoice] = await this.journal.byIds([documentId]);
    if (!invoice) throw billingError(BillingErrorCode.DocumentNotFound, `No document ${documentId}.`, { field: 'documentId' });
    if (invoice.kind !== DocumentKind.INVOICE)
      throw billingError(BillingErrorCode.NotAnInvoice, `${invoice.number} is not an invoice; only invoices are corrected by credit notes.`, {
        field: 'documentId',
      });
    if (amount.currency !== invoice.currency) {
      throw billingError(BillingErrorCode.CurrencyMismatch, `Invoice ${invoice.number} is in ${invoice.currency}, the credit in ${amount.currency}.`, {
        field: 'amount.currency',
      });
    }
    const sourceKey = `credit-note:${invoice.tenantId}:${idempotencyKey}`;
    const [invoiceContent] = await this.journal.content([invoice]);
    const parties = await this.requireParties(invoice.tenantId);
    const issuedAt = this.clock.now();
    const credit = invoiceContent!.accountCredit;
    // The balance gets the credited share of what the invoice put on it (its currency may differ from the invoice's).
    const accountCredit =
      credit && invoice.netMinor > 0n
        ? { amountMinor: (amount.amountMinor * credit.amountMinor * 2n + invoice.netMinor) / (invoice.netMinor * 2n), currency: credit.currency }
        : null;
    const outcome = await this.journal.issue({
      tenantId: invoice.tenantId,
      kind: DocumentKind.CREDIT_NOTE,
      sourceKey,
      issuer: invoiceContent!.issuer,
      issuedAt,
      correctsId: invoice.id,
      check: async (tx) => {
        await this.journal.lockDocument(tx, invoice.id);
        const remaining = invoice.netMinor - (await this.journal.creditedAgainst(tx, invoice.id));
        if (amount.amountMinor > remaining) {
          throw billingError(BillingErrorCode.AmountExceedsCreditable, `Only ${remaining} (minor units, net) of invoice ${invoice.number} remain creditable.`, {
            field: 'amount.amountMinor',
            remainingMinor: remaining.toString(),
          });
        }
      },
      compose: (identity) =>
        composeCreditNote(
          this.header(identity, issuedAt, { ...parties, issuer: invoiceContent!.issuer }, invoice.currency),
          { ...invoiceContent!, vat: invoiceContent!.vat! },
          {
            netMinor: amount.amountMinor,
            reason,
            settlement: 'BALANCE_CREDIT',
            reference: null,
            settledAt: issuedAt,
            accountCredit,
          },
        ),
      // The balance credit is a job of the same transaction: it exists exactly when the credit note does.
      within: async (tx, document) => {
        await this.jobs.send(creditNoteLedgerQueue, { documentId: document.id }, { id: deterministicJobId(creditNoteLedgerQueue, document.id), em: tx });
      },
    });
    if (outcome.status === 'EXISTING' && (outcome.document.correctsId !== invoice.id || outcome.document.netMinor !== amount.amountMinor)) {
      throw billingError(
        BillingErrorCode.IdempotencyKeyReused,
        `Idempotency key ${idempotencyKey} was used for another credit note (${outcome.document.number}).`,
        { field: 'idempotencyKey' },
      );
    }
    this.relay.poke();
    // Credit the balance now (the job does it too, idempotently, should this process die first).
    await this.postCreditNoteToLedger(outcome.document.id);
    return outcome.document;
  }

  /** Credits a goodwill credit note to the prepaid balance: one CREDIT_NOTE ledger entry per credit note, ever. */
  async postCreditNoteToLedger(documentId: string): Promise<void> {
    const [document] = await this.journal.byIds([documentId]);
    if (!document || document.kind !== DocumentKind.CREDIT_NOTE) return;
    const [content] = await this.journal.content([document]);
    const credit = content!.accountCredit;
    if (content!.settlement.kind !== 'BALANCE_CREDIT' || !credit || credit.amountMinor <= 0n) return;
    await this.ledger.post({
      tenantId: document.tenantId,
      currency: credit.currency,
      entries: [
        {
          type: LedgerEntryType.CREDIT_NOTE,
          amountMinor: credit.amountMinor,
          idempotencyKey: `credit-note:${document.id}`,
          externalRef: document.number,
          description: `Credit note ${document.number}`,
          metadata: { documentId: document.id, corrects: content!.corrects?.number ?? null },
        },
      ],
    });
  }

  // ---- Statements -------------------------------------------------------------------------------------------------

  /**
   * One tenant's statement for a month (YYYY-MM, Berlin calendar): opening balance, top-ups (with their invoices),
   * usage per product and price, refunds and other credits, closing balance; exactly the ledger's versions posted in
   * the month. Idempotent per tenant-month.
   */
  async issueStatement(tenantId: string, period: string): Promise<StoredDocument> {
    const match = isoMonth(period);
    if (!match) throw billingError(BillingErrorCode.InvalidPeriod, `period: ${period} is not YYYY-MM`, { field: 'period' });
    const month = berlinMonth(Number(match[1]), Number(match[2]));
    const issuedAt = this.clock.now();
    if (issuedAt < month.end) throw billingError(BillingErrorCode.InvalidPeriod, `The month ${period} is not over yet.`, { field: 'period' });
    const sourceKey = `statement:${tenantId}:${period}`;
    const existing = await this.journal.bySourceKey(this.db.globalEm(), sourceKey);
    if (existing) return existing;
    const located = await this.db.emForTenant(tenantId);
    const currency = await this.ledger.currencyOf(tenantId);
    if (!located || !currency) throw billingError(BillingErrorCode.AccountNotFound, `Billing holds no account for tenant ${tenantId}.`, { tenantId });
    const parties = await this.requireParties(tenantId);
    // Months chain: this one starts where the tenant's latest earlier statement ended.
    const previous = await this.journal.latestStatementBefore(tenantId, month.from);
    const afterVersion = previous ? ((await this.journal.content([previous]))[0]!.statement?.toVersion ?? 0) : 0;
    const ledgerMonth = await readLedgerMonth(located.em, tenantId, afterVersion, month.end);
    const invoices = await this.journal.numbersBySourceKey(ledgerMonth.entries.filter((e) => e.type === 'TOP_UP').map((e) => `top-up:${e.id}`));
    const creditNotes = await this.journal.numbersBySourceKey(ledgerMonth.entries.filter((e) => e.type === 'REFUND').map((e) => `refund:${e.id}`));
    const topUps = ledgerMonth.entries.filter((e) => e.type === 'TOP_UP');
    const others = ledgerMonth.entries.filter((e) => e.type !== 'TOP_UP');
    const sum = (list: ReadonlyArray<{ amountMinor: bigint }>) => list.reduce((total, e) => total + e.amountMinor, 0n);
    const summary: StatementSummary = {
      openingBalanceMinor: ledgerMonth.openingBalanceMinor,
      closingBalanceMinor: ledgerMonth.closingBalanceMinor,
      fromVersion: ledgerMonth.fromVersion,
      toVersion: ledgerMonth.toVersion,
      topUps: topUps.map((e) => ({
        at: berlinDay(e.at),
        description: e.description ?? 'Top-up',
        amountMinor: e.amountMinor,
        reference: invoices.get(`top-up:${e.id}`) ?? e.externalRef,
      })),
      usage: ledgerMonth.usage,
      other: others.map((e) => ({
        at: berlinDay(e.at),
        type: e.type,
        description: e.description ?? e.type,
        amountMinor: e.amountMinor,
        reference: creditNotes.get(`refund:${e.id}`) ?? e.externalRef,
      })),
      totals: { topUpsMinor: sum(topUps), usageMinor: sum(ledgerMonth.usage), otherMinor: sum(others) },
    };
    const outcome = await this.issue({
      tenantId,
      kind: DocumentKind.STATEMENT,
      sourceKey,
      issuer: parties.issuer,
      issuedAt,
      compose: (identity) => composeStatement(this.header(identity, issuedAt, parties, currency), { from: month.from, to: month.to }, summary),
    });
    return outcome;
  }

  /** Runs the statements of `period` (default: the month before now, Berlin calendar) now. */
  runStatements(period: string | null): Promise<number> {
    return this.enqueueStatements(period ?? previousMonth(this.clock.now()));
  }

  /**
   * The monthly run: one statement job per tenant with an account opened before the month ended, sent in batches with
   * deterministic ids (a rerun or a second instance sends nothing twice). Returns how many tenants it covered.
   */
  async enqueueStatements(period: string): Promise<number> {
    const match = isoMonth(period);
    if (!match) throw billingError(BillingErrorCode.InvalidPeriod, `period: ${period} is not YYYY-MM`, { field: 'period' });
    const { end } = berlinMonth(Number(match[1]), Number(match[2]));
    let total = 0;
    for (const shardId of this.db.shardIds) {
      let after = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        // Every tenant whose account existed before the month ended (or had postings by then).
        const tenantIds = await this.ledger.accountsOpenedBefore(shardId, end, after, 1000);
        if (tenantIds.length === 0) break;
        await this.jobs.sendMany(
          statementQueue,
          tenantIds.map((tenantId) => ({ data: { tenantId, period }, options: { id: deterministicJobId(statementQueue, tenantId, period) } })),
        );
        total += tenantIds.length;
        after = tenantIds.at(-1)!;
      }
    }
    this.logger.info('statement run: statements enqueued', { period, tenants: total });
    return total;
  }

  // ---- Customers ----------------------------------------------------------------------------------------------------

  /** Sets (or clears, with null) the tenant's buyer reference: a Leitweg-ID, which makes its invoices XRechnung. */
  async setBuyerReference(tenantId: string, value: string | null): Promise<string | null> {
    const normalized = value === null || value.trim() === '' ? null : parseLeitwegId(value);
    if (value !== null && value.trim() !== '' && !normalized) {
      throw billingError(
        BillingErrorCode.InvalidBuyerReference,
        'buyerReference: not a Leitweg-ID (coarse-fine-check digits, e.g. 04011000-1234512345-06, check digits per ISO 7064 MOD 97-10)',
        {
          field: 'buyerReference',
        },
      );
    }
    const placed = await this.db.forTenantIfPlaced(tenantId, async (em) => {
      await em.execute(
        `insert into billing_customer (tenant_id, buyer_reference, updated_at) values (?, ?, ?)
         on conflict (tenant_id) do update set buyer_reference = excluded.buyer_reference, updated_at = excluded.updated_at`,
        [tenantId, normalized, this.clock.now()],
        'run',
      );
      return true;
    });
    if (!placed) throw billingError(BillingErrorCode.AccountNotFound, `Billing holds no account for tenant ${tenantId}.`, { tenantId });
    return normalized;
  }

  async buyerReferences(tenantIds: readonly string[]): Promise<Map<string, string | null>> {
    const result = new Map<string, string | null>();
    const groups = await this.db.groupByShard(tenantIds);
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db
          .em(shardId)
          .execute<{ tenant_id: string; buyer_reference: string | null }[]>(
            'select tenant_id, buyer_reference from billing_customer where tenant_id in (select jsonb_array_elements_text(?::jsonb)::uuid)',
            [JSON.stringify(ids)],
          );
        for (const row of rows) result.set(row.tenant_id, row.buyer_reference);
      }),
    );
    return result;
  }

  /** VAT on top of a top-up of `netMinor` for the tenant, on `at`; null while documents are off. */
  async quoteTopUpTax(tenantId: string, netMinor: bigint, currency: string, at: Date): Promise<TopUpTaxQuote | null> {
    if (!this.enabled) return null;
    const parties = await this.requireParties(tenantId);
    const day = berlinDay(at);
    const treatment = this.treatment(parties, day);
    const vatMinor = treatment.category === 'S' ? vatOf(netMinor, treatment.basisPoints) : 0n;
    return {
      netMinor,
      vatMinor,
      grossMinor: netMinor + vatMinor,
      currency,
      category: treatment.category,
      basisPoints: treatment.basisPoints,
      vatCase: treatment.case,
      day,
    };
  }

  // ---- Reads ----------------------------------------------------------------------------------------------------------

  getMany(ids: readonly string[]): Promise<StoredDocument[]> {
    return this.journal.byIds(ids);
  }

  pages(...args: Parameters<DocumentJournal['pageForTenants']>): ReturnType<DocumentJournal['pageForTenants']> {
    return this.journal.pageForTenants(...args);
  }

  content(documents: readonly StoredDocument[]): Promise<DocumentContent[]> {
    return this.journal.content(documents);
  }

  figures(document: StoredDocument): DocumentContent {
    return this.journal.contentWithoutLogos(document);
  }

  /** The document as PDF (statements with their usage lines from the ledger) or EN 16931 XML. */
  async render(document: StoredDocument, format: 'pdf' | 'xml'): Promise<Buffer | null> {
    const [content] = await this.journal.content([document]);
    if (format === 'xml') return content!.kind === DocumentKind.STATEMENT ? null : Buffer.from(renderCii(content!), 'utf8');
    if (content!.kind !== DocumentKind.STATEMENT || !content!.statement || content!.statement.toVersion === null) return renderDocumentPdf(content!);
    const located = await this.db.emForTenant(document.tenantId);
    const usage = located ? await readUsageLines(located.em, document.tenantId, content!.statement.fromVersion ?? 0, content!.statement.toVersion) : [];
    return renderDocumentPdf(content!, usage);
  }

  // ---- Helpers ------------------------------------------------------------------------------------------------------

  private async issue(request: IssueRequest): Promise<StoredDocument> {
    const outcome = await this.journal.issue(request);
    if (outcome.status === 'ISSUED') {
      this.relay.poke();
      this.logger.info('issued document', { tenant: request.tenantId, number: outcome.document.number, kind: outcome.document.kind });
    }
    return outcome.document;
  }

  private header(identity: { id: string; number: string }, issuedAt: Date, parties: DocumentParties, currency: string): DocumentHeader {
    return { ...identity, issuedAt, issuer: parties.issuer, customer: parties.customer, branding: parties.branding, language: parties.language, currency };
  }

  private treatment(parties: DocumentParties, day: string): VatTreatment {
    try {
      return determineVatTreatment(
        { sellerCountry: parties.issuer.address.country, customerCountry: parties.customer.country, customerVatId: parties.customer.vatId },
        day,
        this.settings.rates,
      );
    } catch (error) {
      if (error instanceof VatRuleError)
        throw billingError(error.code === 'VAT_RATE_NOT_FOUND' ? BillingErrorCode.VatRateNotFound : BillingErrorCode.MissingIssuerData, error.message);
      throw error;
    }
  }

  private async requireParties(tenantId: string): Promise<DocumentParties> {
    const parties = await this.parties.resolve(tenantId);
    if ('code' in parties) {
      throw billingError(parties.code === 'MISSING_ISSUER_DATA' ? BillingErrorCode.MissingIssuerData : BillingErrorCode.CustomerDataMissing, parties.message, {
        tenantId,
      });
    }
    return parties;
  }

  private async entries(tenantId: string, lookup: { ids?: readonly string[]; keys?: readonly string[] }): Promise<EntryDetails[]> {
    const located = await this.db.emForTenant(tenantId);
    return located ? readEntries(located.em, tenantId, lookup) : [];
  }

  private async entry(tenantId: string, entryId: string, type: string): Promise<EntryDetails> {
    const [entry] = await this.entries(tenantId, { ids: [entryId] });
    if (!entry || entry.type !== type) throw new Error(`ledger entry ${entryId} of tenant ${tenantId} is not a ${type}`);
    return entry;
  }
}
