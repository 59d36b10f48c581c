import { berlinDay } from './calendar.js';
import {
  DocumentKind,
  type CustomerSnapshot,
  type DocumentBranding,
  type DocumentContent,
  type DocumentLine,
  type DocumentVat,
  type IssuerSnapshot,
  type Language,
  type StatementSummary,
} from './model.js';
import type { VatRateTable } from './vat/rates.js';
import { computeVat, determineVatTreatment, netFromGross, type VatTreatment } from './vat/treatment.js';

/** What every document starts from: who issues it to whom, in which dress and language, under which number. */
export interface DocumentHeader {
  id: string;
  number: string;
  issuedAt: Date;
  issuer: IssuerSnapshot;
  customer: CustomerSnapshot;
  branding: DocumentBranding;
  language: Language;
  currency: string;
}

const TOP_UP_DESCRIPTION = { de: 'Prepaid-Guthaben (Aufladung)', en: 'Prepaid credit (top-up)' } as const;

function treatmentOf(treatment: VatTreatment): DocumentVat {
  return {
    case: treatment.case,
    category: treatment.category,
    basisPoints: treatment.basisPoints,
    rateCountry: treatment.rateCountry,
    exemptionReasonCode: treatment.exemptionReasonCode,
  };
}

/** A paid top-up as its invoice sees it, in the currency paid. */
export interface PaidTopUp {
  /** What was paid (gross). */
  paidMinor: bigint;
  /**
   * The net price quoted when the top-up was created (VAT charged on top), or null when the amount paid was the
   * VAT-inclusive price (top-ups created while documents were off): then net and VAT are taken out of it.
   */
  netMinor: bigint | null;
  paidAt: Date;
  paymentReference: string | null;
  /** What reached the prepaid balance, in the account's currency. */
  accountCredit: { amountMinor: bigint; currency: string } | null;
}

/**
 * The invoice for one top-up: the prepaid credit purchased, net, with VAT at the rate valid on the day the payment
 * was received (prepayments are taxed on receipt); paid, nothing due.
 */
export function composeTopUpInvoice(header: DocumentHeader, topUp: PaidTopUp, rates: VatRateTable): DocumentContent {
  const serviceDay = berlinDay(topUp.paidAt);
  const treatment = determineVatTreatment(
    { sellerCountry: header.issuer.address.country, customerCountry: header.customer.country, customerVatId: header.customer.vatId },
    serviceDay,
    rates,
  );
  const netMinor = topUp.netMinor ?? netFromGross(topUp.paidMinor, treatment.category === 'S' ? treatment.basisPoints : 0);
  const line: DocumentLine = {
    position: 1,
    description: TOP_UP_DESCRIPTION,
    quantity: '1',
    unitCode: 'C62',
    unitPriceMicros: netMinor * 1_000_000n,
    netMinor,
    category: treatment.category,
    basisPoints: treatment.basisPoints,
  };
  const vat = computeVat([line]);
  const roundingMinor = topUp.netMinor === null ? topUp.paidMinor - vat.grossMinor : 0n;
  return {
    ...header,
    kind: DocumentKind.INVOICE,
    issueDate: berlinDay(header.issuedAt),
    servicePeriod: { from: serviceDay, to: serviceDay },
    vat: treatmentOf(treatment),
    lines: [line],
    breakdown: vat.breakdown,
    totals: { netMinor: vat.netMinor, vatMinor: vat.vatMinor, grossMinor: vat.grossMinor },
    prepaidMinor: topUp.paidMinor,
    roundingMinor,
    accountCredit: topUp.accountCredit,
    settlement: { kind: 'ONLINE_PAYMENT', reference: topUp.paymentReference, at: serviceDay },
    corrects: null,
    reason: null,
    statement: null,
  };
}

/**
 * A credit note correcting `invoice` by `netMinor`: taxed exactly as the invoice was (same case, category and rate,
 * § 17 UStG corrects the original supply), settled by a refund or as a credit to the prepaid balance.
 */
export function composeCreditNote(
  header: DocumentHeader,
  invoice: Pick<DocumentContent, 'id' | 'number' | 'issueDate' | 'servicePeriod'> & { vat: DocumentVat },
  credit: {
    netMinor: bigint;
    reason: string;
    settlement: 'REFUND' | 'BALANCE_CREDIT';
    reference: string | null;
    settledAt: Date;
    accountCredit: { amountMinor: bigint; currency: string } | null;
  },
): DocumentContent {
  const line: DocumentLine = {
    position: 1,
    description: {
      de: `Korrektur ${TOP_UP_DESCRIPTION.de} zu ${invoice.number}`,
      en: `Correction of ${TOP_UP_DESCRIPTION.en}, ${invoice.number}`,
    },
    quantity: '1',
    unitCode: 'C62',
    unitPriceMicros: credit.netMinor * 1_000_000n,
    netMinor: credit.netMinor,
    category: invoice.vat.category,
    basisPoints: invoice.vat.basisPoints,
  };
  const vat = computeVat([line]);
  return {
    ...header,
    kind: DocumentKind.CREDIT_NOTE,
    issueDate: berlinDay(header.issuedAt),
    servicePeriod: invoice.servicePeriod,
    vat: invoice.vat,
    lines: [line],
    breakdown: vat.breakdown,
    totals: { netMinor: vat.netMinor, vatMinor: vat.vatMinor, grossMinor: vat.grossMinor },
    prepaidMinor: vat.grossMinor,
    roundingMinor: 0n,
    accountCredit: credit.accountCredit,
    settlement: { kind: credit.settlement, reference: credit.reference, at: berlinDay(credit.settledAt) },
    corrects: { id: invoice.id, number: invoice.number, issueDate: invoice.issueDate },
    reason: credit.reason,
    statement: null,
  };
}

/** A month's statement; the summary is computed from the ledger by the caller. Not a tax document: no VAT lines. */
export function composeStatement(header: DocumentHeader, period: { from: string; to: string }, summary: StatementSummary): DocumentContent {
  return {
    ...header,
    kind: DocumentKind.STATEMENT,
    issueDate: berlinDay(header.issuedAt),
    servicePeriod: period,
    vat: null,
    lines: [],
    breakdown: [],
    totals: { netMinor: 0n, vatMinor: 0n, grossMinor: 0n },
    prepaidMinor: 0n,
    roundingMinor: 0n,
    accountCredit: null,
    settlement: { kind: 'NONE', reference: null, at: null },
    corrects: null,
    reason: null,
    statement: summary,
  };
}
