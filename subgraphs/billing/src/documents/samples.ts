import { composeCreditNote, composeStatement, composeTopUpInvoice, type DocumentHeader, type PaidTopUp } from './compose.js';
import { determineVatTreatment, vatOf } from './vat/treatment.js';
import type { CustomerSnapshot, DocumentBranding, DocumentContent, IssuerSnapshot, StatementSummary, StatementUsageLine } from './model.js';
import { VatRateTable } from './vat/rates.js';

/**
 * Sample parties and documents for tests, the benchmark and trying layouts: one customer per VAT case, an invoice,
 * credit note and statement composed through the same functions the document service uses.
 */
const LOGO_PNG = Buffer.from(
  // 96x32 PNG: a teal bar with an amber dot (drawn once, embedded as bytes so nothing is fetched).
  'iVBORw0KGgoAAAANSUhEUgAAAGAAAAAgCAIAAABiouoDAAAAfklEQVR42u3ZsQ2AIBAFUHoLN7V0HLe01gXgAlcReD+3AC+QwKd8EqYgAAQIEKCJgc77WmD6F/w+B6AKSmt2BwpoOplWBurUiY2WBRrSCYwAbQmU0GkZAQIECNAYUFqnamQHOWKAAAFykwbkNa8P0igq7VOdtH8LQIAAAZo3P+VkpycJAX1ZAAAAAElFTkSuQmCC',
  'base64',
);

export const SAMPLE_BRANDING: DocumentBranding = {
  displayName: 'Saldo',
  primaryColor: '#0F766E',
  accentColor: '#F59E0B',
  logo: { mime: 'image/png', data: LOGO_PNG },
  supportEmail: 'support@saldo.example',
};

export const SAMPLE_ISSUER: IssuerSnapshot = {
  id: 'platform',
  legalName: 'Saldo Demo GmbH',
  address: { line1: 'Friedrichstraße 123', line2: null, postalCode: '10117', city: 'Berlin', country: 'DE' },
  vatId: 'DE123456789',
  taxNumber: '37/123/45678',
  registration: 'HRB 234567 B, Amtsgericht Charlottenburg',
  managingDirectors: 'Jana Müller, Jörg Weiß',
  email: 'rechnung@saldo.example',
  phone: '+49 30 1234567',
  contactName: 'Buchhaltung',
  website: 'https://saldo.example',
  bank: { iban: 'DE89370400440532013000', bic: 'COBADEFFXXX', bankName: 'Commerzbank', accountHolder: 'Saldo Demo GmbH' },
  branding: SAMPLE_BRANDING,
};

export type SampleCase = 'domestic' | 'reverse-charge' | 'eu-consumer' | 'non-eu' | 'xrechnung';

export const SAMPLE_CUSTOMERS: Readonly<Record<SampleCase, CustomerSnapshot>> = {
  domestic: {
    tenantId: '0193f1e2-0000-7000-8000-00000000d0e1',
    name: 'Bäckerei Größl GmbH',
    address: { line1: 'Hauptstraße 5', line2: null, postalCode: '80331', city: 'München', country: 'DE' },
    country: 'DE',
    vatId: 'DE987654321',
    buyerReference: null,
    email: null,
  },
  'reverse-charge': {
    tenantId: '0193f1e2-0000-7000-8000-0000000000a7',
    name: 'Wiener Telefonie GmbH',
    address: { line1: 'Ringstraße 1', line2: null, postalCode: '1010', city: 'Wien', country: 'AT' },
    country: 'AT',
    vatId: 'ATU12345678',
    buyerReference: null,
    email: null,
  },
  'eu-consumer': {
    tenantId: '0193f1e2-0000-7000-8000-0000000000f7',
    name: 'Marie Dubois',
    address: { line1: '12 rue de Rivoli', line2: null, postalCode: '75001', city: 'Paris', country: 'FR' },
    country: 'FR',
    vatId: null,
    buyerReference: null,
    email: null,
  },
  'non-eu': {
    tenantId: '0193f1e2-0000-7000-8000-0000000000c5',
    name: 'Acme Calls Inc.',
    address: { line1: '1 Market Street', line2: 'Suite 400', postalCode: '94105', city: 'San Francisco', country: 'US' },
    country: 'US',
    vatId: null,
    buyerReference: null,
    email: null,
  },
  xrechnung: {
    tenantId: '0193f1e2-0000-7000-8000-0000000000b6',
    name: 'Stadt Musterstadt, Bürgeramt',
    address: { line1: 'Rathausplatz 1', line2: null, postalCode: '12345', city: 'Musterstadt', country: 'DE' },
    country: 'DE',
    vatId: null,
    buyerReference: '04011000-1234512345-06',
    email: null,
  },
};

export const SAMPLE_RATES = VatRateTable.withOverrides();

function header(kind: string, sequence: number, customer: CustomerSnapshot, language: 'de' | 'en', issuedAt: Date): DocumentHeader {
  return {
    id: `0193f1e2-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
    number: `${kind}-${issuedAt.getUTCFullYear()}-${String(sequence).padStart(6, '0')}`,
    issuedAt,
    issuer: SAMPLE_ISSUER,
    customer,
    branding: SAMPLE_BRANDING,
    language,
    currency: 'EUR',
  };
}

/** A top-up of `netMinor` credit paid with VAT on top, as the invoice sees it. */
function samplePaid(vatCase: SampleCase, netMinor: bigint): PaidTopUp {
  const customer = SAMPLE_CUSTOMERS[vatCase];
  const treatment = determineVatTreatment(
    { sellerCountry: 'DE', customerCountry: customer.country, customerVatId: customer.vatId },
    '2026-03-14',
    SAMPLE_RATES,
  );
  const paidMinor = netMinor + (treatment.category === 'S' ? vatOf(netMinor, treatment.basisPoints) : 0n);
  return {
    paidMinor,
    netMinor,
    paidAt: new Date('2026-03-14T09:26:50Z'),
    paymentReference: 'pi_3Pq2sample',
    accountCredit: { amountMinor: netMinor, currency: 'EUR' },
  };
}

export function sampleInvoice(vatCase: SampleCase, options: { language?: 'de' | 'en'; netMinor?: bigint; sequence?: number } = {}): DocumentContent {
  const issuedAt = new Date('2026-03-14T09:26:53Z');
  return composeTopUpInvoice(
    header('RE', options.sequence ?? 123, SAMPLE_CUSTOMERS[vatCase], options.language ?? 'de', issuedAt),
    samplePaid(vatCase, options.netMinor ?? 10_000n),
    SAMPLE_RATES,
  );
}

/** An invoice for a top-up whose price included VAT (no quote): net and VAT taken out of what was paid. */
export function sampleInclusiveInvoice(paidMinor: bigint): DocumentContent {
  const issuedAt = new Date('2026-03-14T09:26:53Z');
  return composeTopUpInvoice(
    header('RE', 124, SAMPLE_CUSTOMERS.domestic, 'de', issuedAt),
    {
      paidMinor,
      netMinor: null,
      paidAt: new Date('2026-03-14T09:26:50Z'),
      paymentReference: 'pi_3Pq2inclusive',
      accountCredit: { amountMinor: paidMinor, currency: 'EUR' },
    },
    SAMPLE_RATES,
  );
}

export function sampleCreditNote(vatCase: SampleCase, options: { language?: 'de' | 'en'; netMinor?: bigint } = {}): DocumentContent {
  const invoice = sampleInvoice(vatCase, options.language ? { language: options.language } : {});
  return composeCreditNote(
    header('GS', 7, SAMPLE_CUSTOMERS[vatCase], options.language ?? 'de', new Date('2026-03-20T10:00:00Z')),
    { ...invoice, vat: invoice.vat! },
    {
      netMinor: options.netMinor ?? 2_500n,
      reason: 'Kulanz wegen Störung am 18.03.2026',
      settlement: 'BALANCE_CREDIT',
      reference: null,
      settledAt: new Date('2026-03-20T10:00:00Z'),
      accountCredit: { amountMinor: options.netMinor ?? 2_500n, currency: 'EUR' },
    },
  );
}

/** A statement with `usageLines` usage events over the month, and the lines themselves. */
export function sampleStatement(usageLines: number, options: { language?: 'de' | 'en' } = {}): { document: DocumentContent; usage: StatementUsageLine[] } {
  const start = Date.parse('2026-02-01T00:00:00+01:00');
  const usage: StatementUsageLine[] = [];
  const products = [
    { product: 'inbound_minute', unitPriceMicros: 1_200_000n },
    { product: 'outbound_minute', unitPriceMicros: 1_900_000n },
  ];
  const byProduct = new Map<string, { quantity: bigint; amount: bigint; events: number; unitPriceMicros: bigint }>();
  for (let i = 0; i < usageLines; i++) {
    const { product, unitPriceMicros } = products[i % 2]!;
    const quantity = BigInt(1 + (i % 17));
    const amountMinor = -((quantity * unitPriceMicros + 500_000n) / 1_000_000n);
    usage.push({ at: new Date(start + Math.floor((i * 27 * 86_400_000) / Math.max(usageLines, 1))), product, quantity, unitPriceMicros, amountMinor });
    const agg = byProduct.get(product) ?? { quantity: 0n, amount: 0n, events: 0, unitPriceMicros };
    agg.quantity += quantity;
    agg.amount += amountMinor;
    agg.events += 1;
    byProduct.set(product, agg);
  }
  const usageMinor = [...byProduct.values()].reduce((sum, agg) => sum + agg.amount, 0n);
  const topUpsMinor = 50_000n;
  const otherMinor = -1_000n;
  const opening = 12_345n;
  const summary: StatementSummary = {
    openingBalanceMinor: opening,
    closingBalanceMinor: opening + topUpsMinor + usageMinor + otherMinor,
    fromVersion: 10,
    toVersion: 10 + usageLines + 2,
    topUps: [{ at: '2026-02-03', description: 'Top-up via Stripe', amountMinor: topUpsMinor, reference: 'RE-2026-000042' }],
    usage: [...byProduct.entries()].map(([product, agg]) => ({
      product,
      quantity: agg.quantity.toString(),
      unitPriceMicros: agg.unitPriceMicros,
      amountMinor: agg.amount,
      events: agg.events,
    })),
    other: [{ at: '2026-02-10', type: 'REFUND', description: 'Refund via Stripe', amountMinor: otherMinor, reference: 'GS-2026-000003' }],
    totals: { topUpsMinor, usageMinor, otherMinor },
  };
  const document = composeStatement(
    header('KA', 1, SAMPLE_CUSTOMERS.domestic, options.language ?? 'de', new Date('2026-03-01T02:00:00Z')),
    { from: '2026-02-01', to: '2026-02-28' },
    summary,
  );
  return { document, usage };
}

/** The sample seller of record as billing settings (tests, the development stack's demo issuer). */
export const SAMPLE_ISSUER_ENV: Readonly<Record<string, string>> = Object.freeze({
  ISSUER_LEGAL_NAME: SAMPLE_ISSUER.legalName,
  ISSUER_ADDRESS_LINE1: SAMPLE_ISSUER.address.line1,
  ISSUER_POSTAL_CODE: SAMPLE_ISSUER.address.postalCode,
  ISSUER_CITY: SAMPLE_ISSUER.address.city,
  ISSUER_COUNTRY: 'DE',
  ISSUER_VAT_ID: SAMPLE_ISSUER.vatId!,
  ISSUER_TAX_NUMBER: SAMPLE_ISSUER.taxNumber!,
  ISSUER_REGISTRATION: SAMPLE_ISSUER.registration!,
  ISSUER_MANAGING_DIRECTORS: SAMPLE_ISSUER.managingDirectors!,
  ISSUER_EMAIL: SAMPLE_ISSUER.email,
  ISSUER_PHONE: SAMPLE_ISSUER.phone,
  ISSUER_CONTACT_NAME: SAMPLE_ISSUER.contactName,
  ISSUER_WEBSITE: SAMPLE_ISSUER.website!,
  ISSUER_IBAN: SAMPLE_ISSUER.bank.iban,
  ISSUER_BIC: SAMPLE_ISSUER.bank.bic!,
  ISSUER_BANK_NAME: SAMPLE_ISSUER.bank.bankName!,
});

/** The sample logo as a data: URI (white-label branding in tests and demo data). */
export const SAMPLE_LOGO_DATA_URI = `data:image/png;base64,${LOGO_PNG.toString('base64')}`;
