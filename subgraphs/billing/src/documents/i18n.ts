import { minorUnitExponent, type CurrencyCode } from '@saldo/money';
import { DocumentKind, type Language } from './model.js';
import { VatCase } from './vat/treatment.js';

/**
 * Words and number formats of the two document languages. Amounts are formatted from integer minor units with
 * string arithmetic (no float anywhere between the ledger and the page).
 */
const SYMBOLS: Readonly<Record<string, string>> = { EUR: '€', USD: '$', GBP: '£' };

function groupDigits(digits: string, separator: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
}

/** "1234.5" in the language's decimal style: de "1.234,5", en "1,234.5". */
export function formatDecimal(value: string, language: Language): string {
  const negative = value.startsWith('-');
  const [whole = '0', fraction] = (negative ? value.slice(1) : value).split('.');
  const grouped = groupDigits(whole, language === 'de' ? '.' : ',');
  return `${negative ? '-' : ''}${grouped}${fraction ? `${language === 'de' ? ',' : '.'}${fraction}` : ''}`;
}

/** Minor units as a plain decimal with the currency's digits: 11900n EUR -> "119.00". */
export function minorToDecimal(amountMinor: bigint, currency: string): string {
  const exponent = minorUnitExponent(currency as CurrencyCode);
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(exponent + 1, '0');
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent);
  return `${negative ? '-' : ''}${whole}${exponent === 0 ? '' : `.${digits.slice(-exponent)}`}`;
}

/** Micro-minor units (rate-card prices) as a decimal of major units, at least the currency's digits: 1_250_000n EUR -> "0.0125". */
export function microsToDecimal(micros: bigint, currency: string): string {
  const exponent = minorUnitExponent(currency as CurrencyCode);
  const scale = exponent + 6;
  const negative = micros < 0n;
  const digits = (negative ? -micros : micros).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, -scale);
  let fraction = digits.slice(-scale).replace(/0+$/, '');
  if (fraction.length < exponent) fraction = fraction.padEnd(exponent, '0');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

export function formatMoney(amountMinor: bigint, currency: string, language: Language): string {
  return formatAmount(minorToDecimal(amountMinor, currency), currency, language);
}

export function formatUnitPrice(micros: bigint, currency: string, language: Language): string {
  return formatAmount(microsToDecimal(micros, currency), currency, language);
}

function formatAmount(decimal: string, currency: string, language: Language): string {
  const number = formatDecimal(decimal, language);
  const symbol = SYMBOLS[currency];
  if (language === 'de') return `${number} ${symbol ?? currency}`;
  if (!symbol) return `${currency} ${number}`;
  return number.startsWith('-') ? `-${symbol}${number.slice(1)}` : `${symbol}${number}`;
}

/** Percent from hundredths: 1900 -> "19", 2550 -> "25,5" (de) / "25.5" (en). */
export function formatRate(basisPoints: number, language: Language): string {
  const whole = Math.trunc(basisPoints / 100);
  const fraction = String(basisPoints % 100)
    .padStart(2, '0')
    .replace(/0+$/, '');
  return fraction ? `${whole}${language === 'de' ? ',' : '.'}${fraction}` : String(whole);
}

const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_NAMES = {
  de: ['Januar', 'Februar', 'März', 'April', 'Mai', 'Juni', 'Juli', 'August', 'September', 'Oktober', 'November', 'Dezember'],
  en: ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'],
} as const;

/** YYYY-MM-DD as de "05.01.2026" / en "05 Jan 2026". */
export function formatDate(day: string, language: Language): string {
  const [year, month, date] = day.split('-');
  return language === 'de' ? `${date}.${month}.${year}` : `${date} ${MONTHS_EN[Number(month) - 1]} ${year}`;
}

/** "Januar 2026" / "January 2026" for a YYYY-MM-DD inside the month. */
export function formatMonth(day: string, language: Language): string {
  const [year, month] = day.split('-');
  return `${MONTH_NAMES[language][Number(month) - 1]} ${year}`;
}

export const TITLES: Readonly<Record<DocumentKind, Record<Language, string>>> = {
  [DocumentKind.INVOICE]: { de: 'Rechnung', en: 'Invoice' },
  [DocumentKind.CREDIT_NOTE]: { de: 'Rechnungskorrektur (Gutschrift)', en: 'Credit note' },
  [DocumentKind.STATEMENT]: { de: 'Kontoauszug', en: 'Account statement' },
};

export const LABELS = {
  de: {
    number: { INVOICE: 'Rechnungsnummer', CREDIT_NOTE: 'Nummer', STATEMENT: 'Auszugsnummer' },
    issueDate: 'Datum',
    serviceDate: 'Leistungsdatum (Zahlungseingang)',
    servicePeriod: 'Leistungszeitraum',
    statementPeriod: 'Zeitraum',
    customerNumber: 'Kundennummer',
    customerVatId: 'USt-IdNr. des Leistungsempfängers',
    buyerReference: 'Leitweg-ID',
    vatId: 'USt-IdNr.',
    taxNumber: 'Steuernummer',
    position: 'Pos.',
    description: 'Beschreibung',
    quantity: 'Menge',
    unitPrice: 'Einzelpreis (netto)',
    amount: 'Betrag (netto)',
    netTotal: 'Summe netto',
    vat: 'Umsatzsteuer',
    vatRate: 'Steuersatz',
    vatBase: 'Bemessungsgrundlage',
    gross: 'Gesamtbetrag',
    paid: 'Bereits bezahlt',
    due: 'Zu zahlen',
    corrects: 'Korrektur zu Rechnung',
    reason: 'Grund',
    page: (page: number, pages: number) => `Seite ${page} von ${pages}`,
    carriedForward: 'Übertrag',
    carryOver: 'Übertrag auf nächste Seite',
    openingBalance: 'Anfangssaldo',
    closingBalance: 'Endsaldo',
    topUps: 'Aufladungen',
    usage: 'Nutzung',
    other: 'Erstattungen, Korrekturen und Gutschriften',
    events: 'Vorgänge',
    product: 'Produkt',
    itemization: 'Einzelnachweis der Nutzung',
    time: 'Zeitpunkt',
    bank: 'Bankverbindung',
    registration: 'Handelsregister',
    managingDirectors: 'Geschäftsführung',
    contact: 'Kontakt',
    none: 'Keine Buchungen in diesem Zeitraum.',
    statementNote: 'Dieser Kontoauszug ist keine Rechnung. Die Umsatzsteuer wurde mit den Rechnungen zu den Aufladungen ausgewiesen.',
    eInvoiceNote: 'Dieses Dokument enthält seine strukturierten Rechnungsdaten nach EN 16931 (ZUGFeRD/Factur-X) als Anhang factur-x.xml.',
  },
  en: {
    number: { INVOICE: 'Invoice number', CREDIT_NOTE: 'Number', STATEMENT: 'Statement number' },
    issueDate: 'Date',
    serviceDate: 'Date of supply (payment received)',
    servicePeriod: 'Service period',
    statementPeriod: 'Period',
    customerNumber: 'Customer number',
    customerVatId: "Customer's VAT ID",
    buyerReference: 'Buyer reference (Leitweg-ID)',
    vatId: 'VAT ID',
    taxNumber: 'Tax number',
    position: 'Item',
    description: 'Description',
    quantity: 'Quantity',
    unitPrice: 'Unit price (net)',
    amount: 'Amount (net)',
    netTotal: 'Net total',
    vat: 'VAT',
    vatRate: 'Rate',
    vatBase: 'Taxable amount',
    gross: 'Total',
    paid: 'Paid',
    due: 'Amount due',
    corrects: 'Corrects invoice',
    reason: 'Reason',
    page: (page: number, pages: number) => `Page ${page} of ${pages}`,
    carriedForward: 'Brought forward',
    carryOver: 'Carried forward',
    openingBalance: 'Opening balance',
    closingBalance: 'Closing balance',
    topUps: 'Top-ups',
    usage: 'Usage',
    other: 'Refunds, adjustments and credits',
    events: 'Events',
    product: 'Product',
    itemization: 'Itemized usage',
    time: 'Time',
    bank: 'Bank account',
    registration: 'Commercial register',
    managingDirectors: 'Managing directors',
    contact: 'Contact',
    none: 'Nothing was posted in this period.',
    statementNote: 'This statement is not an invoice. VAT was charged on the invoices for the top-ups.',
    eInvoiceNote: 'This document carries its EN 16931 structured data (ZUGFeRD/Factur-X) as the attachment factur-x.xml.',
  },
} as const;

/**
 * What a document must say about its VAT case. Reverse charge carries the bilingual wording the issue and § 14a
 * Abs. 5 UStG ask for in every language; the non-EU note names § 3a UStG for German sellers.
 */
export function vatNote(vatCase: VatCase, sellerCountry: string, language: Language): string | null {
  switch (vatCase) {
    case VatCase.REVERSE_CHARGE:
      return 'Steuerschuldnerschaft des Leistungsempfängers / Reverse charge';
    case VatCase.NON_EU:
      if (sellerCountry === 'DE') {
        return language === 'de'
          ? 'Nicht im Inland steuerbare Leistung: Der Leistungsort liegt nach § 3a UStG außerhalb Deutschlands.'
          : 'Not subject to German VAT: the place of supply is outside Germany (section 3a UStG).';
      }
      return language === 'de'
        ? 'Nicht im Inland steuerbare Leistung (Leistungsort außerhalb der EU).'
        : 'Not subject to VAT: the place of supply is outside the EU.';
    case VatCase.EU_CONSUMER:
      return language === 'de'
        ? 'Umsatzsteuer des Mitgliedstaats des Leistungsempfängers (One-Stop-Shop).'
        : "VAT of the customer's member state (One-Stop Shop).";
    case VatCase.DOMESTIC:
      return null;
  }
}

/** The exemption reason text of the e-invoice (BT-120) for AE and O. */
export function exemptionReason(vatCase: VatCase): string | null {
  if (vatCase === VatCase.REVERSE_CHARGE) return 'Reverse charge';
  if (vatCase === VatCase.NON_EU) return 'Not subject to VAT';
  return null;
}
