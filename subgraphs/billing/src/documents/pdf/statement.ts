import { LABELS, TITLES, formatDate, formatDecimal, formatMoney, formatMonth, formatUnitPrice } from '../i18n.js';
import type { DocumentContent, StatementUsageLine } from '../model.js';
import { baseDefinition, letterHead, MARGINS, PAGE } from './layout.js';

type Node = Record<string, unknown> | string;

/**
 * Itemization geometry. Every row is one line of 7.5 pt Roboto (line height 2400/2048 em) plus 1 pt padding above
 * and below, and never wraps (noWrap, bounded texts), so the rows that fit a page are known before layout. That is
 * what lets each page open with the total brought forward and close with the total carried forward: pdfmake itself
 * does not know running sums at its own page breaks.
 */
const ROW_FONT_SIZE = 7.5;
const ROW_HEIGHT = ROW_FONT_SIZE * (2400 / 2048) + 2;
const USABLE_HEIGHT = PAGE.height - MARGINS.top - MARGINS.bottom - 8;
/** Table rows on an itemization page: column header, brought forward, items, carried forward. */
export const ROWS_PER_PAGE = Math.floor(USABLE_HEIGHT / ROW_HEIGHT);
/** The first itemization page also has the section title (two rows' height). */
const ITEMS_FIRST_PAGE = ROWS_PER_PAGE - 3 - 2;
const ITEMS_PER_PAGE = ROWS_PER_PAGE - 3;

/** How many itemization pages `count` usage lines take. */
export function itemizationPages(count: number): number {
  if (count === 0) return 0;
  return count <= ITEMS_FIRST_PAGE ? 1 : 1 + Math.ceil((count - ITEMS_FIRST_PAGE) / ITEMS_PER_PAGE);
}

const berlinTime = new Intl.DateTimeFormat('de-DE', {
  timeZone: 'Europe/Berlin',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The pdfmake definition of a monthly statement: summary reconciling opening and closing balance, then every usage line. */
export function statementDefinition(document: DocumentContent, usage: readonly StatementUsageLine[]): Record<string, unknown> {
  const summary = document.statement;
  if (!summary) throw new Error(`document ${document.number} is not a statement`);
  const { language, currency, branding, customer } = document;
  const labels = LABELS[language];
  const money = (minor: bigint) => formatMoney(minor, currency, language);
  const month = formatMonth(document.servicePeriod.from, language);
  const title = `${TITLES[document.kind][language]} ${month}`;

  const facts: Array<[string, string]> = [
    [labels.number.STATEMENT, document.number],
    [labels.issueDate, formatDate(document.issueDate, language)],
    [labels.statementPeriod, `${formatDate(document.servicePeriod.from, language)} – ${formatDate(document.servicePeriod.to, language)}`],
    [labels.customerNumber, customer.tenantId.slice(-12).toUpperCase()],
  ];

  const section = (text: string) => [{ text, bold: true, colSpan: 4, color: branding.primaryColor, margin: [0, 6, 0, 0] }, '', '', ''];
  const row = (a: string, b: string, c: string, amount: bigint) => [a, b, { text: c, alignment: 'right' }, { text: money(amount), alignment: 'right' }];
  const body: unknown[][] = [
    [
      { text: `${labels.openingBalance} (${formatDate(document.servicePeriod.from, language)})`, bold: true, colSpan: 3 },
      '',
      '',
      { text: money(summary.openingBalanceMinor), alignment: 'right', bold: true },
    ],
    section(labels.topUps),
    ...summary.topUps.map((entry) => row(formatDate(entry.at, language), entry.description, entry.reference ?? '', entry.amountMinor)),
    section(labels.usage),
    [
      { text: labels.product, color: '#555555' },
      { text: labels.events, color: '#555555' },
      { text: `${labels.quantity} × ${labels.unitPrice}`, color: '#555555', alignment: 'right' },
      '',
    ],
    ...summary.usage.map((entry) =>
      row(
        entry.product,
        formatDecimal(String(entry.events), language),
        `${formatDecimal(entry.quantity, language)} × ${formatUnitPrice(entry.unitPriceMicros, currency, language)}`,
        entry.amountMinor,
      ),
    ),
    section(labels.other),
    ...summary.other.map((entry) => row(formatDate(entry.at, language), entry.description, entry.reference ?? '', entry.amountMinor)),
    [
      { text: `${labels.closingBalance} (${formatDate(document.servicePeriod.to, language)})`, bold: true, colSpan: 3 },
      '',
      '',
      { text: money(summary.closingBalanceMinor), alignment: 'right', bold: true },
    ],
  ];

  const content: Node[] = [
    ...letterHead(document, facts),
    { text: title, fontSize: 16, bold: true, color: branding.primaryColor, margin: [0, 0, 0, 10] },
    {
      table: { widths: [110, '*', 120, 80], body },
      layout: {
        hLineWidth: (i: number, node: { table: { body: unknown[] } }) => (i === 1 || i === node.table.body.length - 1 ? 0.8 : 0),
        vLineWidth: () => 0,
        paddingTop: () => 2,
        paddingBottom: () => 2,
      },
    },
    {
      text:
        `${labels.openingBalance} ${money(summary.openingBalanceMinor)} + ${labels.topUps} ${money(summary.totals.topUpsMinor)} ` +
        `${summary.totals.usageMinor < 0n ? '−' : '+'} ${labels.usage} ${money(summary.totals.usageMinor < 0n ? -summary.totals.usageMinor : summary.totals.usageMinor)} ` +
        `${summary.totals.otherMinor < 0n ? '−' : '+'} ${money(summary.totals.otherMinor < 0n ? -summary.totals.otherMinor : summary.totals.otherMinor)} = ${labels.closingBalance} ${money(summary.closingBalanceMinor)}`,
      fontSize: 8,
      color: '#555555',
      margin: [0, 8, 0, 4],
    },
    ...(summary.topUps.length + summary.usage.length + summary.other.length === 0 ? [{ text: labels.none, margin: [0, 4, 0, 4] }] : []),
    { text: labels.statementNote, fontSize: 8, color: '#555555', margin: [0, 4, 0, 0] },
    ...itemization(document, usage),
  ];
  return {
    ...baseDefinition(document, `${TITLES[document.kind][language]} ${document.number}`),
    header: (currentPage: number) =>
      currentPage === 1
        ? null
        : { text: `${title} · ${document.number} · ${customer.name}`, fontSize: 7, color: '#777777', margin: [MARGINS.left, 20, MARGINS.right, 0] },
    content,
  };
}

/** Every usage line, a table per page that opens with the total brought forward and closes with the total carried forward. */
function itemization(document: DocumentContent, usage: readonly StatementUsageLine[]): Node[] {
  if (usage.length === 0) return [];
  const { language, currency, branding } = document;
  const labels = LABELS[language];
  const money = (minor: bigint) => formatMoney(minor, currency, language);
  const cell = (text: string, alignment = 'left') => ({ text, alignment, noWrap: true });
  const head = (text: string, alignment = 'left') => ({ text, alignment, noWrap: true, bold: true, color: '#FFFFFF', fillColor: branding.primaryColor });
  // A fresh header per page: pdfmake annotates cell objects while laying them out, so they cannot be shared.
  const header = () => [head(labels.time), head(labels.product), head(labels.quantity, 'right'), head(labels.unitPrice, 'right'), head(labels.amount, 'right')];
  const sumRow = (label: string, total: bigint) => [
    { text: label, colSpan: 4, italics: true, noWrap: true },
    '',
    '',
    '',
    { text: money(total), alignment: 'right', italics: true, noWrap: true },
  ];
  const layout = { hLineWidth: () => 0, vLineWidth: () => 0, paddingTop: () => 1, paddingBottom: () => 1, paddingLeft: () => 3, paddingRight: () => 3 };

  const nodes: Node[] = [];
  let running = 0n;
  let index = 0;
  let first = true;
  while (index < usage.length) {
    const take = first ? ITEMS_FIRST_PAGE : ITEMS_PER_PAGE;
    const chunk = usage.slice(index, index + take);
    const rows: unknown[][] = [header(), sumRow(labels.carriedForward, running)];
    for (const line of chunk) {
      running += line.amountMinor;
      rows.push([
        cell(berlinTime.format(line.at).replace(',', '')),
        cell(clip(line.product, 40)),
        cell(formatDecimal(line.quantity.toString(), language), 'right'),
        cell(formatUnitPrice(line.unitPriceMicros, currency, language), 'right'),
        cell(money(line.amountMinor), 'right'),
      ]);
    }
    index += chunk.length;
    rows.push(sumRow(index < usage.length ? labels.carryOver : labels.usage, running));
    if (first)
      nodes.push({
        text: labels.itemization,
        bold: true,
        fontSize: 11,
        color: branding.primaryColor,
        margin: [0, 0, 0, 6],
        lineHeight: 1,
        pageBreak: 'before',
      });
    nodes.push({
      table: { widths: [70, '*', 60, 80, 70], body: rows, dontBreakRows: true },
      layout,
      fontSize: ROW_FONT_SIZE,
      lineHeight: 1,
      ...(first ? {} : { pageBreak: 'before' }),
    });
    first = false;
  }
  return nodes;
}
