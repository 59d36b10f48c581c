import type { VatBreakdownRow, VatCase, VatCategory } from './vat/treatment.js';

/** The three kinds of billing document; each has its own number series per issuer and year. */
export enum DocumentKind {
  /** Rechnung: the prepaid credit of one successful top-up (VAT due on payment). Series RE. */
  INVOICE = 'INVOICE',
  /** Rechnungskorrektur (Gutschrift): corrects an invoice (refund, goodwill). Series GS. */
  CREDIT_NOTE = 'CREDIT_NOTE',
  /** Kontoauszug: one tenant's month on its prepaid account; not a tax invoice. Series KA. */
  STATEMENT = 'STATEMENT',
}

export const SERIES_OF_KIND: Readonly<Record<DocumentKind, string>> = Object.freeze({
  [DocumentKind.INVOICE]: 'RE',
  [DocumentKind.CREDIT_NOTE]: 'GS',
  [DocumentKind.STATEMENT]: 'KA',
});

export type Language = 'de' | 'en';

export interface PostalAddress {
  line1: string;
  line2: string | null;
  postalCode: string;
  city: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
}

/** A logo as embedded into PDFs: PNG or JPEG bytes. */
export interface LogoImage {
  mime: 'image/png' | 'image/jpeg';
  data: Buffer;
}

/** Colors and names a document is dressed in (the tenant's white-label branding, else the issuer's own). */
export interface DocumentBranding {
  displayName: string;
  /** #RRGGBB */
  primaryColor: string;
  accentColor: string;
  logo: LogoImage | null;
  supportEmail: string | null;
}

/** The seller of record as printed on a document (§ 14 Abs. 4 Nr. 1-2 UStG). */
export interface IssuerSnapshot {
  /** `platform` for the operator, else the reselling partner's id. */
  id: string;
  legalName: string;
  address: PostalAddress;
  vatId: string | null;
  /** Steuernummer. */
  taxNumber: string | null;
  /** Handelsregister entry, e.g. "HRB 123456 B, Amtsgericht Charlottenburg". */
  registration: string | null;
  managingDirectors: string | null;
  email: string;
  phone: string;
  contactName: string;
  website: string | null;
  bank: { iban: string; bic: string | null; bankName: string | null; accountHolder: string | null };
  /** The issuer's own logo and colors (documents add the tenant's branding to them). */
  branding: DocumentBranding;
}

/** The buyer as printed on a document. */
export interface CustomerSnapshot {
  tenantId: string;
  name: string;
  address: PostalAddress | null;
  country: string;
  vatId: string | null;
  /** Leitweg-ID / buyer reference (BT-10); makes the e-invoice an XRechnung. */
  buyerReference: string | null;
  /** Where the buyer receives e-invoices (BT-49), when known. */
  email: string | null;
}

/** One line of an invoice or credit note. */
export interface DocumentLine {
  position: number;
  description: { de: string; en: string };
  /** Plain decimal, e.g. "1" or "120.5". */
  quantity: string;
  /** UN/ECE Recommendation 20 unit: C62 (one), MIN (minute), ... */
  unitCode: string;
  /** Net price per unit in minor units x 10^6 (millionths), as the rate card keeps prices. */
  unitPriceMicros: bigint;
  netMinor: bigint;
  category: VatCategory;
  basisPoints: number;
}

/** What a statement reports; every figure comes from the ledger of the month. */
export interface StatementSummary {
  openingBalanceMinor: bigint;
  closingBalanceMinor: bigint;
  /** Ledger versions the month covers (inclusive), null when nothing was posted. */
  fromVersion: number | null;
  toVersion: number | null;
  topUps: Array<{ at: string; description: string; amountMinor: bigint; reference: string | null }>;
  usage: Array<{ product: string; quantity: string; unitPriceMicros: bigint; amountMinor: bigint; events: number }>;
  /** Refunds, adjustments, bonuses and credit-note credits, one by one. */
  other: Array<{ at: string; type: string; description: string; amountMinor: bigint; reference: string | null }>;
  totals: { topUpsMinor: bigint; usageMinor: bigint; otherMinor: bigint };
}

/** One usage entry of a statement's itemization (read from the ledger when rendering). */
export interface StatementUsageLine {
  at: Date;
  product: string;
  quantity: bigint;
  unitPriceMicros: bigint;
  /** Non-positive: usage debits the balance. */
  amountMinor: bigint;
}

export interface DocumentVat {
  case: VatCase;
  category: VatCategory;
  basisPoints: number;
  rateCountry: string | null;
  exemptionReasonCode: 'VATEX-EU-AE' | 'VATEX-EU-O' | null;
}

/** Everything needed to render a document: immutable once issued (the PDF and XML are rendered from it). */
export interface DocumentContent {
  id: string;
  kind: DocumentKind;
  number: string;
  /** YYYY-MM-DD (issuer's calendar, Europe/Berlin). */
  issueDate: string;
  /** When the document was issued (PDF creation date). */
  issuedAt: Date;
  servicePeriod: { from: string; to: string };
  currency: string;
  language: Language;
  issuer: IssuerSnapshot;
  customer: CustomerSnapshot;
  branding: DocumentBranding;
  /** How an invoice or credit note is taxed; null for statements (not tax documents). */
  vat: DocumentVat | null;
  lines: DocumentLine[];
  breakdown: VatBreakdownRow[];
  totals: { netMinor: bigint; vatMinor: bigint; grossMinor: bigint };
  /** Already paid (top-up by card, refund settled, credit to the balance): BT-113. */
  prepaidMinor: bigint;
  /**
   * BT-114: added to the total so the amount due comes out exact. Only a top-up paid without a VAT quote (the price
   * included VAT) can need it: not every gross amount is net + VAT(net) for some net, and then 0.01 is left over.
   */
  roundingMinor: bigint;
  /** What the document moved on the prepaid balance, in the account's currency (credit of an invoice, ...). */
  accountCredit: { amountMinor: bigint; currency: string } | null;
  /** How it was settled, e.g. "Stripe pi_..." (shown and put into the e-invoice's payment means). */
  settlement: { kind: 'ONLINE_PAYMENT' | 'REFUND' | 'BALANCE_CREDIT' | 'NONE'; reference: string | null; at: string | null };
  /** The invoice a credit note corrects. */
  corrects: { id: string; number: string; issueDate: string } | null;
  /** Why a credit note was issued. */
  reason: string | null;
  statement: StatementSummary | null;
}
