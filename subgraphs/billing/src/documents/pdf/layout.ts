import { LABELS, formatDate } from '../i18n.js';
import type { DocumentContent, PostalAddress } from '../model.js';
import { FONT_FAMILY, registerImage } from './engine.js';

/** A4 in points, and the margins the layout is built on (DIN 5008-like: 20 mm left, window-envelope address field). */
export const PAGE = { width: 595.28, height: 841.89 } as const;
export const MARGINS = { left: 57, top: 42, right: 42, bottom: 96 } as const;
export const CONTENT_WIDTH = PAGE.width - MARGINS.left - MARGINS.right;

type Node = Record<string, unknown> | string;

const COUNTRY_NAMES = { de: new Intl.DisplayNames(['de'], { type: 'region' }), en: new Intl.DisplayNames(['en'], { type: 'region' }) };

/** A postal address block; abroad (seen from the German issuer) ends with the country's name in capitals. */
export function addressLines(name: string, address: PostalAddress | null, country: string, language: 'de' | 'en' = 'de'): string[] {
  const countryLine = (code: string) => (code === 'DE' ? [] : [(COUNTRY_NAMES[language].of(code) ?? code).toUpperCase()]);
  if (!address) return [name, ...countryLine(country)];
  return [name, address.line1, ...(address.line2 ? [address.line2] : []), `${address.postalCode} ${address.city}`, ...countryLine(address.country)];
}

/** The top of the first page: logo and brand, sender line, recipient address and the document's key facts. */
export function letterHead(document: DocumentContent, facts: Array<[string, string]>): Node[] {
  const { issuer, branding, customer } = document;
  const logo = branding.logo ?? issuer.branding.logo;
  const senderLine = [issuer.legalName, issuer.address.line1, `${issuer.address.postalCode} ${issuer.address.city}`].join(' · ');
  const brand: Node[] = [
    logo ? { image: 'brandLogo', fit: [170, 52] } : { text: branding.displayName, fontSize: 20, bold: true, color: branding.primaryColor },
  ];
  // A partner's (or tenant's) branding on the platform's invoice: the seller of record still shows its own mark.
  const issuerMark =
    issuer.branding.logo && branding.logo && issuer.branding.logo !== branding.logo
      ? [{ image: 'issuerLogo', fit: [90, 28], alignment: 'right' }]
      : [{ text: issuer.legalName, bold: true, alignment: 'right', color: branding.primaryColor }];
  return [
    {
      columns: [
        { width: '*', stack: brand },
        {
          width: 200,
          stack: [
            ...issuerMark,
            { text: addressLines('', issuer.address, issuer.address.country).slice(1).join('\n'), alignment: 'right', fontSize: 8, color: '#444444' },
          ],
        },
      ],
    },
    { text: senderLine, fontSize: 6.5, color: '#555555', decoration: 'underline', margin: [0, 26, 0, 4] },
    {
      columns: [
        { width: 250, stack: addressLines(customer.name, customer.address, customer.country, document.language).map((line) => ({ text: line })) },
        {
          width: '*',
          table: {
            widths: ['*', 'auto'],
            body: facts.map(([label, value]) => [
              { text: label, color: '#555555' },
              { text: value, alignment: 'right' },
            ]),
          },
          layout: 'noBorders',
          fontSize: 8.5,
        },
      ],
      margin: [0, 0, 0, 28],
    },
  ];
}

/** Legal footer on every page (§ 35a GmbHG / § 14 UStG details of the seller) with page numbers. */
export function footer(document: DocumentContent) {
  const { issuer, branding, language } = document;
  const labels = LABELS[language];
  const columns = [
    [issuer.legalName, issuer.address.line1, `${issuer.address.postalCode} ${issuer.address.city}`],
    [`${labels.contact}: ${issuer.contactName}`, issuer.phone, issuer.email, ...(issuer.website ? [issuer.website] : [])],
    [
      ...(issuer.registration ? [issuer.registration] : []),
      ...(issuer.managingDirectors ? [`${labels.managingDirectors}: ${issuer.managingDirectors}`] : []),
      ...(issuer.vatId ? [`${labels.vatId}: ${issuer.vatId}`] : []),
      ...(issuer.taxNumber ? [`${labels.taxNumber}: ${issuer.taxNumber}`] : []),
    ],
    [
      labels.bank,
      ...(issuer.bank.bankName ? [issuer.bank.bankName] : []),
      `IBAN ${formatIban(issuer.bank.iban)}`,
      ...(issuer.bank.bic ? [`BIC ${issuer.bank.bic}`] : []),
    ],
  ];
  return (currentPage: number, pageCount: number): Node => ({
    margin: [MARGINS.left, 14, MARGINS.right, 0],
    stack: [
      { canvas: [{ type: 'line', x1: 0, y1: 0, x2: CONTENT_WIDTH, y2: 0, lineWidth: 1, lineColor: branding.accentColor }] },
      { columns: columns.map((lines) => ({ width: '*', text: lines.join('\n') })), fontSize: 6.5, color: '#444444', margin: [0, 5, 0, 3], columnGap: 8 },
      {
        columns: [
          { width: '*', text: `${document.number} · ${formatDate(document.issueDate, language)}`, color: '#777777' },
          { width: 'auto', text: labels.page(currentPage, pageCount) },
        ],
        fontSize: 7,
      },
    ],
  });
}

function formatIban(iban: string): string {
  return iban.replace(/(.{4})(?=.)/g, '$1 ');
}

/** The parts every document definition shares: A4, embedded font, PDF/A-3b, metadata. */
export function baseDefinition(document: DocumentContent, title: string): Record<string, unknown> {
  return {
    pageSize: 'A4',
    pageMargins: [MARGINS.left, MARGINS.top, MARGINS.right, MARGINS.bottom],
    version: '1.7',
    subset: 'PDF/A-3b',
    language: document.language === 'de' ? 'de-DE' : 'en-GB',
    compress: true,
    info: {
      title: xmpSafe(title),
      author: xmpSafe(document.issuer.legalName),
      subject: xmpSafe(title),
      creator: 'Saldo',
      producer: 'Saldo',
      creationDate: document.issuedAt,
    },
    footer: footer(document),
    images: documentImages(document),
    defaultStyle: { font: FONT_FAMILY, fontSize: 9.5, lineHeight: 1.15, color: '#1A1A1A' },
  };
}

/**
 * pdfkit copies Title and Author into the XMP packet verbatim; PDF/A needs the Info dictionary and the XMP to agree,
 * so the few characters XML would need escaped are replaced in both instead ("Müller & Co" -> "Müller + Co").
 */
export function xmpSafe(value: string): string {
  return value.replace(/&/g, '+').replace(/[<>"']/g, '');
}

/** The logos a document shows, by the names letterHead uses (registered once per distinct image). */
function documentImages(document: DocumentContent): Record<string, string> {
  const images: Record<string, string> = {};
  const brandLogo = document.branding.logo ?? document.issuer.branding.logo;
  if (brandLogo) images['brandLogo'] = registerImage(brandLogo.data);
  if (document.issuer.branding.logo) images['issuerLogo'] = registerImage(document.issuer.branding.logo.data);
  return images;
}
