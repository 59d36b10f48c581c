import { LABELS, TITLES, formatDate, formatDecimal, formatMoney, formatRate, formatUnitPrice, vatNote } from '../i18n.js';
import { DocumentKind, type DocumentContent } from '../model.js';
import { baseDefinition, letterHead } from './layout.js';

type Node = Record<string, unknown> | string;

/** The pdfmake definition of an invoice or credit note (§ 14 Abs. 4 UStG fields, EN 16931 totals). */
export function invoiceDefinition(document: DocumentContent): Record<string, unknown> {
  const { language, currency, branding, customer } = document;
  const labels = LABELS[language];
  const money = (minor: bigint) => formatMoney(minor, currency, language);
  const title = `${TITLES[document.kind][language]} ${document.number}`;
  const isCreditNote = document.kind === DocumentKind.CREDIT_NOTE;

  const facts: Array<[string, string]> = [
    [labels.number[document.kind], document.number],
    [labels.issueDate, formatDate(document.issueDate, language)],
    document.servicePeriod.from === document.servicePeriod.to
      ? [labels.serviceDate, formatDate(document.servicePeriod.to, language)]
      : [labels.servicePeriod, `${formatDate(document.servicePeriod.from, language)} – ${formatDate(document.servicePeriod.to, language)}`],
    [labels.customerNumber, customer.tenantId.slice(-12).toUpperCase()],
    ...(customer.vatId ? ([[labels.customerVatId, customer.vatId]] as Array<[string, string]>) : []),
    ...(customer.buyerReference ? ([[labels.buyerReference, customer.buyerReference]] as Array<[string, string]>) : []),
  ];

  const head = (text: string, alignment = 'left') => ({ text, bold: true, color: '#FFFFFF', fillColor: branding.primaryColor, alignment });
  const lineRows = document.lines.map((line) => [
    String(line.position),
    line.description[language],
    { text: formatDecimal(line.quantity, language), alignment: 'right' },
    { text: formatUnitPrice(line.unitPriceMicros, currency, language), alignment: 'right' },
    { text: money(line.netMinor), alignment: 'right' },
  ]);
  const vatRows = document.breakdown.map((row) =>
    row.category === 'S'
      ? [`${labels.vat} ${formatRate(row.basisPoints, language)} % ${language === 'de' ? 'auf' : 'on'} ${money(row.netMinor)}`, money(row.vatMinor)]
      : [`${labels.vat} 0 % (${row.category === 'AE' ? 'Reverse charge' : language === 'de' ? 'nicht steuerbar' : 'not taxable'})`, money(0n)],
  );
  const totals: Array<[string, string, boolean?]> = [
    [labels.netTotal, money(document.totals.netMinor)],
    ...vatRows.map(([label, value]) => [label, value] as [string, string]),
    [labels.gross, money(document.totals.grossMinor), true],
    ...(document.roundingMinor !== 0n ? ([[language === 'de' ? 'Rundung' : 'Rounding', money(document.roundingMinor)]] as Array<[string, string]>) : []),
    ...(document.prepaidMinor > 0n ? ([[settledLabel(document), `-${money(document.prepaidMinor)}`]] as Array<[string, string]>) : []),
    [labels.due, money(document.totals.grossMinor - document.prepaidMinor + document.roundingMinor), true],
  ];
  const note = document.vat ? vatNote(document.vat.case, document.issuer.address.country, language) : null;

  const content: Node[] = [
    ...letterHead(document, facts),
    { text: title, fontSize: 16, bold: true, color: branding.primaryColor, margin: [0, 0, 0, 6] },
    ...(isCreditNote && document.corrects
      ? [{ text: `${labels.corrects} ${document.corrects.number} (${formatDate(document.corrects.issueDate, language)})`, margin: [0, 0, 0, 2] }]
      : []),
    ...(document.reason ? [{ text: `${labels.reason}: ${document.reason}`, margin: [0, 0, 0, 6] }] : []),
    { text: intro(document), margin: [0, 4, 0, 10] },
    {
      table: {
        headerRows: 1,
        widths: [28, '*', 52, 80, 80],
        body: [
          [head(labels.position), head(labels.description), head(labels.quantity, 'right'), head(labels.unitPrice, 'right'), head(labels.amount, 'right')],
          ...lineRows,
        ],
      },
      layout: { hLineWidth: (i: number) => (i === 1 ? 0 : 0.5), vLineWidth: () => 0, hLineColor: () => '#CCCCCC', paddingTop: () => 4, paddingBottom: () => 4 },
    },
    {
      columns: [
        { width: '*', text: '' },
        {
          width: 300,
          table: {
            widths: ['*', 'auto'],
            body: totals.map(([label, value, strong]) => [
              { text: label, bold: Boolean(strong) },
              { text: value, alignment: 'right', bold: Boolean(strong), noWrap: true },
            ]),
          },
          layout: {
            hLineWidth: (i: number, node: { table: { body: unknown[] } }) => (i === node.table.body.length - 2 ? 0.8 : 0),
            vLineWidth: () => 0,
            paddingTop: () => 2,
            paddingBottom: () => 2,
          },
        },
      ],
      margin: [0, 10, 0, 12],
    },
    ...(note ? [{ text: note, bold: true, margin: [0, 0, 0, 8] }] : []),
    ...(document.settlement.kind !== 'NONE' ? [{ text: settlementText(document), margin: [0, 0, 0, 8] }] : []),
    { text: labels.eInvoiceNote, fontSize: 7.5, color: '#666666', margin: [0, 8, 0, 0] },
  ];
  return { ...baseDefinition(document, title), content };
}

function intro(document: DocumentContent): string {
  const de = document.language === 'de';
  if (document.kind === DocumentKind.CREDIT_NOTE) {
    return de ? 'Wir korrigieren die oben genannte Rechnung wie folgt:' : 'We correct the invoice named above as follows:';
  }
  return de ? 'Vielen Dank für Ihre Aufladung. Wir berechnen Ihnen:' : 'Thank you for your top-up. We invoice you:';
}

function settledLabel(document: DocumentContent): string {
  const de = document.language === 'de';
  switch (document.settlement.kind) {
    case 'REFUND':
      return de ? 'Erstattet' : 'Refunded';
    case 'BALANCE_CREDIT':
      return de ? 'Dem Guthaben gutgeschrieben' : 'Credited to your balance';
    default:
      return LABELS[document.language].paid;
  }
}

function settlementText(document: DocumentContent): string {
  const de = document.language === 'de';
  const { settlement } = document;
  const at = settlement.at ? formatDate(settlement.at, document.language) : null;
  const ref = settlement.reference ? ` (${settlement.reference})` : '';
  switch (settlement.kind) {
    case 'ONLINE_PAYMENT':
      return de
        ? `Der Betrag wurde am ${at} per Online-Zahlung (Stripe)${ref} beglichen. Das Guthaben steht Ihnen auf Ihrem Prepaid-Konto zur Verfügung.`
        : `Paid online (Stripe)${ref} on ${at}. The credit is available on your prepaid account.`;
    case 'REFUND':
      return de
        ? `Der Betrag wurde am ${at} auf das ursprüngliche Zahlungsmittel erstattet${ref}.`
        : `The amount was refunded to the original payment method${ref} on ${at}.`;
    case 'BALANCE_CREDIT':
      return de ? `Der Nettobetrag wurde am ${at} Ihrem Prepaid-Guthaben gutgeschrieben.` : `The net amount was credited to your prepaid balance on ${at}.`;
    case 'NONE':
      return '';
  }
}
