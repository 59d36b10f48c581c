import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BrandingChanged, PartnerSellerProfileChanged, TenantCreated, outboxRow, toEnvelope, type EventContract } from '@saldo/events';
import type { Identity } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { errorCodes, startStripeStandIn, startTestSubgraph, waitUntil, type StripeStandIn, type TestSubgraph } from '@saldo/testing';
import type { SubgraphDefinition } from '@saldo/subgraph';
import type { z } from 'zod';
import { loadBillingConfig, type BillingConfig } from '../config.js';
import { billingSubgraph, createBillingServices, type BillingServices } from '../definition.js';
import { LedgerEntryType } from '../ledger/index.js';
import { leitwegCheckDigits } from './leitweg-id.js';
import { SAMPLE_ISSUER_ENV, SAMPLE_LOGO_DATA_URI } from './samples.js';
import { PartiesReader } from './services/parties.js';
import { pdfText, validateEn16931 } from './test-tools.js';

/** "Now" for billing's services (statements need a month that is over); Stripe and the job queue keep real time. */
let now = new Date('2026-03-10T09:00:00.000Z');
const clock = { now: () => now };
const definition: SubgraphDefinition<BillingServices, BillingConfig> = {
  ...billingSubgraph,
  createServices: (runtime) => createBillingServices(runtime, clock),
};

let standIn: StripeStandIn;
let subgraph: TestSubgraph<BillingServices, BillingConfig>;
let services: BillingServices;
let db: ShardedDatabase;
const dir = mkdtempSync(join(tmpdir(), 'saldo-documents-flow-'));
/** Downloaded e-invoices, validated together at the end (one JVM start). */
const toValidate: string[] = [];

const ADMIN: Identity = { role: 'platform-admin', subject: 'ops' };
const tenantAdmin = (tenantId: string): Identity => ({ role: 'tenant-admin', subject: 'admin@tenant', tenantId });
const partner = (partnerId: string): Identity => ({ role: 'partner', subject: 'partner', partnerId });

async function publish<C extends EventContract<string, z.ZodType>>(contract: C, key: string, payload: z.input<C['payload']>) {
  await subgraph.service.runtime.bus.publish([toEnvelope(outboxRow(contract, key, payload, now))]);
}

/** A tenant as the tenants subgraph announces it: billing opens its account and records its invoicing data. */
async function newTenant(profile: { country: string; vatId?: string | null; partnerId?: string | null; name?: string }): Promise<string> {
  const tenantId = randomUUID();
  const name = profile.name ?? `Kunde ${tenantId.slice(0, 8)}`;
  await publish(TenantCreated, tenantId, {
    tenantId,
    partnerId: profile.partnerId ?? null,
    name,
    currency: 'EUR',
    country: profile.country,
    status: 'ACTIVE',
    profile: {
      legalName: `${name} GmbH`,
      address: { line1: 'Teststraße 1', line2: null, postalCode: '10115', city: 'Berlin', region: null },
      country: profile.country,
      vatId: profile.vatId ?? null,
    },
  });
  await waitUntil(() => services.ledger.currencyOf(tenantId), 'the account');
  return tenantId;
}

const DOCUMENT_FIELDS = /* GraphQL */ `
  id kind number issueDate servicePeriod { from to } currency
  totals { net { amountMinor currency } vat { amountMinor } gross { amountMinor } }
  vatBreakdown { rate category net { amountMinor } vat { amountMinor } }
  pdfUrl xmlUrl correctedDocument { id number }
`;

async function documentsOf(tenantId: string, args = '', identity: Identity = ADMIN) {
  const response = await subgraph.query(
    `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { documents${args} { edges { node { ${DOCUMENT_FIELDS} } cursor } pageInfo { hasNextPage endCursor } } } } }`,
    { r: [{ __typename: 'Tenant', id: tenantId, currency: 'EUR' }] },
    identity,
  );
  assert.equal(response.errors, undefined, JSON.stringify(response.errors));
  return (response.data!._entities[0]?.documents.edges ?? []).map((edge: any) => edge.node);
}

async function waitForDocuments(tenantId: string, count: number) {
  return waitUntil(async () => {
    const documents = await documentsOf(tenantId);
    return documents.length >= count ? documents : null;
  }, `${count} documents of ${tenantId}`);
}

async function balanceOf(tenantId: string): Promise<bigint> {
  const located = await db.emForTenant(tenantId);
  const [row] = await located!.em.execute<{ balance_minor: string }[]>('select balance_minor from account where tenant_id = ?', [tenantId]);
  return BigInt(row!.balance_minor);
}

/** A top-up through GraphQL, paid at the Stripe stand-in and delivered to billing's webhook. */
async function paidTopUp(tenantId: string, amountMinor: number) {
  const created = await subgraph.query(
    'mutation($input: CreateTopUpInput!) { createTopUp(input: $input) { id sessionId amount { amountMinor } tax { amountMinor } total { amountMinor } credit { amountMinor } } }',
    { input: { tenantId, amount: { amountMinor, currency: 'EUR' }, idempotencyKey: `k-${randomUUID()}` } },
    tenantAdmin(tenantId),
  );
  assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  const topUp = created.data!.createTopUp;
  const paid = standIn.completeCheckout(topUp.sessionId);
  assert.equal((await standIn.deliver(paid.checkoutCompleted)).status, 200);
  return { topUp, paymentIntentId: paid.paymentIntent['id'] as string, session: standIn.checkoutSessions.get(topUp.sessionId)! };
}

/** GET on a fresh connection (a pooled keep-alive one may be closed by the server after a long pause). */
function download(url: string): Promise<{ status: number; body: Buffer; type: string | null }> {
  // Links point at the gateway's public origin; the subgraph serves the same path itself.
  const { pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    get(`${subgraph.service.url}${pathname}${search}`, { agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), type: response.headers['content-type'] ?? null }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

async function counters(): Promise<Record<string, string>> {
  const rows = await db
    .globalEm()
    .execute<{ issuer_id: string; series: string; year: number; last_value: string }[]>(
      'select issuer_id, series, year, last_value from document_number_counter',
    );
  return Object.fromEntries(rows.map((row) => [`${row.issuer_id}/${row.series}-${row.year}`, row.last_value]));
}

const ISSUE_CREDIT_NOTE = `mutation($input: IssueCreditNoteInput!) { issueCreditNote(input: $input) { ${DOCUMENT_FIELDS} } }`;

before(async () => {
  standIn = await startStripeStandIn();
  subgraph = await startTestSubgraph(definition, loadBillingConfig, {
    label: 'documents',
    env: { ...standIn.env(), ...SAMPLE_ISSUER_ENV, DATABASE_POOL_MAX: '8', PUBLIC_ORIGIN: 'https://api.saldo.example' },
  });
  standIn.setWebhookUrl(`${subgraph.service.url}/webhooks/stripe`);
  services = subgraph.service.services;
  db = subgraph.service.runtime.db;
});

after(async () => {
  await subgraph?.destroy();
  await standIn?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('documents of the prepaid ledger', () => {
  let domestic: string;
  let domesticInvoice: any;
  let austrian: string;
  let austrianInvoice: any;

  it('a domestic top-up charges 19 % VAT on top, credits the net and is invoiced once, as RE-2026-000001', async () => {
    domestic = await newTenant({ country: 'DE', vatId: 'DE111111111', name: 'Müller Telefonie' });
    const { topUp, session } = await paidTopUp(domestic, 10_000);
    assert.deepEqual([topUp.amount.amountMinor, topUp.tax.amountMinor, topUp.total.amountMinor, topUp.credit.amountMinor], [10_000, 1_900, 11_900, 10_000]);
    assert.equal(session['amount_total'], 11_900, 'Stripe charges net + VAT');
    assert.equal(await balanceOf(domestic), 10_000n, 'the balance gets the net');
    const [invoice] = await waitForDocuments(domestic, 1);
    domesticInvoice = invoice;
    assert.equal(invoice.kind, 'INVOICE');
    assert.equal(invoice.number, 'RE-2026-000001');
    assert.deepEqual([invoice.totals.net.amountMinor, invoice.totals.vat.amountMinor, invoice.totals.gross.amountMinor], [10_000, 1_900, 11_900]);
    assert.deepEqual(invoice.vatBreakdown, [{ rate: '19.00', category: 'S', net: { amountMinor: 10_000 }, vat: { amountMinor: 1_900 } }]);
    assert.equal(invoice.issueDate, '2026-03-10');
    assert.match(invoice.pdfUrl, /^https:\/\/api\.saldo\.example\/documents\/[0-9a-f-]{36}\.pdf\?tenant=.+&expires=\d+&signature=/);
    // document.issued carries its own signed PDF link, valid for DOCUMENT_EVENT_URL_TTL_SECONDS (7 days): the notifier
    // fetches it to attach the PDF, also on retries days later.
    const [issued] = await db
      .globalEm()
      .execute<{ payload: { pdfUrl?: string; number: string } }[]>(
        `select payload from outbox_event where type = 'document.issued' and payload->>'documentId' = ?`,
        [invoice.id],
      );
    assert.equal(issued!.payload.number, 'RE-2026-000001');
    const eventLink = new URL(issued!.payload.pdfUrl!);
    assert.equal(eventLink.origin + eventLink.pathname, `https://api.saldo.example/documents/${invoice.id}.pdf`);
    assert.equal(Number(eventLink.searchParams.get('expires')), Math.floor(now.getTime() / 1000) + 7 * 86_400);
    const saved = now;
    now = new Date(saved.getTime() + 6 * 86_400_000);
    try {
      const late = await download(eventLink.href);
      assert.equal(late.status, 200, 'the event link still works six days later');
      assert.equal(late.type, 'application/pdf');
      now = new Date(saved.getTime() + 8 * 86_400_000);
      assert.equal((await download(eventLink.href)).status, 410, 'and expires after seven');
    } finally {
      now = saved;
    }
    // The webhook delivered again and the job run again: still one invoice, one number.
    const delivered = standIn.checkoutSessions.get(session['id'])!;
    assert.ok(delivered);
    await services.documents.issueTopUpInvoice(domestic, (await documentEntry(domestic, 'TOP_UP')).id);
    assert.equal((await documentsOf(domestic)).length, 1);
    assert.equal((await counters())['platform/RE-2026'], '1');
  });

  it('an EU business with a VAT id pays no VAT (reverse charge) and its invoice says so', async () => {
    austrian = await newTenant({ country: 'AT', vatId: 'ATU12345678', name: 'Wiener Anrufe' });
    const { topUp } = await paidTopUp(austrian, 20_000);
    assert.equal(topUp.tax.amountMinor, 0);
    const [invoice] = await waitForDocuments(austrian, 1);
    austrianInvoice = invoice;
    assert.equal(invoice.number, 'RE-2026-000002');
    assert.deepEqual(invoice.vatBreakdown, [{ rate: '0.00', category: 'AE', net: { amountMinor: 20_000 }, vat: { amountMinor: 0 } }]);
  });

  it('downloads the PDF/A-3 with its embedded e-invoice and the XML through signed links; both pass EN 16931', async () => {
    const pdf = await download(domesticInvoice.pdfUrl);
    assert.equal(pdf.status, 200);
    assert.equal(pdf.type, 'application/pdf');
    assert.equal(pdf.body.subarray(0, 5).toString(), '%PDF-');
    const xml = await download(domesticInvoice.xmlUrl);
    assert.equal(xml.status, 200);
    assert.match(xml.type!, /application\/xml/);
    const austrianPdf = await download(austrianInvoice.pdfUrl);
    const files = [join(dir, 'domestic.pdf'), join(dir, 'domestic.xml'), join(dir, 'austrian.pdf')];
    writeFileSync(files[0]!, pdf.body);
    writeFileSync(files[1]!, xml.body);
    writeFileSync(files[2]!, austrianPdf.body);
    toValidate.push(...files);
    const text = pdfText(files[0]!);
    for (const expected of [
      'Rechnung RE-2026-000001',
      'Müller Telefonie GmbH',
      'Teststraße 1',
      'Saldo Demo GmbH',
      'DE123456789',
      'DE111111111',
      '10.03.2026',
      'Prepaid-Guthaben',
      '100,00 €',
      '19,00 €',
      '119,00 €',
    ]) {
      assert.ok(text.includes(expected), `PDF text lacks "${expected}"`);
    }
    assert.ok(pdfText(files[2]!).includes('Steuerschuldnerschaft des Leistungsempfängers / Reverse charge'));
  });

  it('a download link is bound to its document, tenant, format and expiry', async () => {
    const url = new URL(domesticInvoice.pdfUrl);
    const otherId = austrianInvoice.id;
    const forged = [
      url.href.replace(domesticInvoice.id, otherId),
      url.href.replace('.pdf?', '.xml?'),
      url.href.replace(`tenant=${domestic}`, `tenant=${austrian}`),
      url.href.replace(/expires=(\d+)/, (_m, e) => `expires=${Number(e) + 3600}`),
      url.href.replace(/signature=[^&]+/, 'signature=' + 'A'.repeat(43)),
    ];
    for (const link of forged) assert.equal((await download(link)).status, 403, link);
    assert.equal((await download(url.href.replace(/signature=[^&]+/, 'signature=short'))).status, 400);
    const saved = now;
    now = new Date(now.getTime() + 10 * 60_000);
    try {
      const late = await subgraph.query(`query($id: ID!) { document(id: $id) { pdfUrl } }`, { id: domesticInvoice.id }, ADMIN);
      now = saved;
      assert.equal((await download(late.data!.document.pdfUrl)).status, 200, 'minted later, still valid now');
      assert.equal((await download(domesticInvoice.pdfUrl)).status, 200);
      now = new Date(saved.getTime() + 10 * 60_000);
      assert.equal((await download(domesticInvoice.pdfUrl)).status, 410, 'expired after DOCUMENT_URL_TTL_SECONDS');
    } finally {
      now = saved;
    }
  });

  it('documents are scoped like the tenant: another tenant and a foreign partner see nothing', async () => {
    assert.equal((await documentsOf(domestic, '', tenantAdmin(domestic))).length, 1);
    const foreign = await subgraph.query(`query($id: ID!) { document(id: $id) { id } }`, { id: domesticInvoice.id }, tenantAdmin(austrian));
    assert.equal(foreign.data!.document, null);
    const viaPartner = await subgraph.query(`query($id: ID!) { document(id: $id) { id } }`, { id: domesticInvoice.id }, partner(randomUUID()));
    assert.equal(viaPartner.data!.document, null);
    const list = await subgraph.query(
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { documents { edges { node { id } } } } } }`,
      { r: [{ __typename: 'Tenant', id: domestic, currency: 'EUR' }] },
      tenantAdmin(austrian),
    );
    assert.equal(list.data!._entities[0], null);
  });

  it('a full refund issues a credit note that corrects the invoice and takes the net back from the balance', async () => {
    const tenantId = await newTenant({ country: 'DE', name: 'Erstattung' });
    const { paymentIntentId } = await paidTopUp(tenantId, 5_000);
    const [invoice] = await waitForDocuments(tenantId, 1);
    const refunded = standIn.refund(paymentIntentId);
    assert.equal((await standIn.deliver(refunded.chargeRefunded)).status, 200);
    const documents = await waitForDocuments(tenantId, 2);
    const creditNote = documents.find((document: any) => document.kind === 'CREDIT_NOTE');
    assert.match(creditNote.number, /^GS-2026-\d{6}$/);
    assert.deepEqual(creditNote.correctedDocument, { id: invoice.id, number: invoice.number });
    assert.deepEqual([creditNote.totals.net.amountMinor, creditNote.totals.vat.amountMinor, creditNote.totals.gross.amountMinor], [5_000, 950, 5_950]);
    assert.equal(await balanceOf(tenantId), 0n, 'the refund of 59.50 took back the 50.00 credit');
    const xml = await download(creditNote.xmlUrl);
    assert.ok(xml.body.toString().includes(`<ram:InvoiceReferencedDocument><ram:IssuerAssignedID>${invoice.number}</ram:IssuerAssignedID>`));
  });

  describe('issueCreditNote (goodwill)', () => {
    it('credits the net to the balance, references the invoice, and is idempotent per key', async () => {
      const before = await balanceOf(austrian);
      const input = {
        documentId: austrianInvoice.id,
        amount: { amountMinor: 2_500, currency: 'EUR' },
        reason: 'Kulanz: Störung am 9. März',
        idempotencyKey: 'goodwill-1',
      };
      const response = await subgraph.query(ISSUE_CREDIT_NOTE, { input }, ADMIN);
      assert.equal(response.errors, undefined, JSON.stringify(response.errors));
      const creditNote = response.data!.issueCreditNote;
      assert.equal(creditNote.kind, 'CREDIT_NOTE');
      assert.deepEqual(creditNote.correctedDocument, { id: austrianInvoice.id, number: austrianInvoice.number });
      assert.deepEqual(creditNote.vatBreakdown, [{ rate: '0.00', category: 'AE', net: { amountMinor: 2_500 }, vat: { amountMinor: 0 } }]);
      assert.equal(await balanceOf(austrian), before + 2_500n);
      const again = await subgraph.query(ISSUE_CREDIT_NOTE, { input }, ADMIN);
      assert.equal(again.data!.issueCreditNote.id, creditNote.id);
      assert.equal(await balanceOf(austrian), before + 2_500n, 'credited once');
      const entries = await documentEntries(austrian, 'CREDIT_NOTE');
      assert.equal(entries.length, 1);
      assert.equal(entries[0]!.external_ref, creditNote.number);
    });

    it('refuses bad input with a stable code: nothing issued, no number used', async () => {
      const numbers = await counters();
      const balance = await balanceOf(austrian);
      const base = { documentId: austrianInvoice.id, amount: { amountMinor: 100, currency: 'EUR' }, reason: 'Kulanz', idempotencyKey: `k-${randomUUID()}` };
      const cases: Array<[Record<string, unknown>, Identity, string]> = [
        [{ ...base, amount: { amountMinor: 17_501, currency: 'EUR' } }, ADMIN, 'AMOUNT_EXCEEDS_CREDITABLE'],
        [{ ...base, amount: { amountMinor: 100, currency: 'USD' } }, ADMIN, 'CURRENCY_MISMATCH'],
        [{ ...base, amount: { amountMinor: 0, currency: 'EUR' } }, ADMIN, 'INVALID_AMOUNT'],
        [{ ...base, documentId: randomUUID() }, ADMIN, 'DOCUMENT_NOT_FOUND'],
        [{ ...base, documentId: 'not-an-id' }, ADMIN, 'DOCUMENT_NOT_FOUND'],
        [base, partner(randomUUID()), 'DOCUMENT_NOT_FOUND'],
        [base, tenantAdmin(austrian), 'FORBIDDEN'],
        [{ ...base, idempotencyKey: 'goodwill-1', amount: { amountMinor: 300, currency: 'EUR' } }, ADMIN, 'IDEMPOTENCY_KEY_REUSED'],
        [{ ...base, idempotencyKey: 'no spaces allowed' }, ADMIN, 'INVALID_ID'],
      ];
      for (const [input, identity, code] of cases) {
        assert.deepEqual(errorCodes(await subgraph.query(ISSUE_CREDIT_NOTE, { input }, identity)), [code], `${code}: ${JSON.stringify(input)}`);
      }
      // A credit note cannot correct a credit note.
      const [creditNote] = (await documentsOf(austrian)).filter((d: any) => d.kind === 'CREDIT_NOTE');
      assert.deepEqual(errorCodes(await subgraph.query(ISSUE_CREDIT_NOTE, { input: { ...base, documentId: creditNote.id } }, ADMIN)), ['NOT_AN_INVOICE']);
      assert.deepEqual(await counters(), numbers, 'no number was used');
      assert.equal(await balanceOf(austrian), balance);
      // Exactly what remains (200.00 - 25.00) is still creditable, and then nothing is.
      const rest = await subgraph.query(ISSUE_CREDIT_NOTE, { input: { ...base, amount: { amountMinor: 17_500, currency: 'EUR' } } }, ADMIN);
      assert.equal(rest.errors, undefined, JSON.stringify(rest.errors));
      assert.equal(rest.data!.issueCreditNote.number, `GS-2026-${String(Number(numbers['platform/GS-2026']) + 1).padStart(6, '0')}`, 'the next number, no gap');
      const more = await subgraph.query(ISSUE_CREDIT_NOTE, { input: { ...base, idempotencyKey: 'one-more' } }, ADMIN);
      assert.deepEqual(errorCodes(more), ['AMOUNT_EXCEEDS_CREDITABLE']);
    });
  });

  it('setBuyerReference takes a valid Leitweg-ID only; then invoices are XRechnung', async () => {
    const tenantId = await newTenant({ country: 'DE', name: 'Stadtwerke' });
    const set = (value: string | null, identity: Identity = tenantAdmin(tenantId)) =>
      subgraph.query(
        'mutation($t: ID!, $b: String) { setBuyerReference(tenantId: $t, buyerReference: $b) { id buyerReference } }',
        { t: tenantId, b: value },
        identity,
      );
    assert.deepEqual(errorCodes(await set('04011000-1234512345-07')), ['INVALID_BUYER_REFERENCE']);
    assert.deepEqual(errorCodes(await set('hello')), ['INVALID_BUYER_REFERENCE']);
    assert.deepEqual(errorCodes(await set('04011000-1234512345-06', tenantAdmin(austrian))), ['FORBIDDEN']);
    const leitwegId = `991-33333TEST-${leitwegCheckDigits('991', '33333TEST')}`;
    const ok = await set(leitwegId.toLowerCase());
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
    assert.equal(ok.data!.setBuyerReference.buyerReference, leitwegId);
    await paidTopUp(tenantId, 1_000);
    const [invoice] = await waitForDocuments(tenantId, 1);
    const xml = (await download(invoice.xmlUrl)).body.toString();
    assert.ok(xml.includes('urn:xeinkauf.de:kosit:xrechnung_3.0'));
    assert.ok(xml.includes(`<ram:BuyerReference>${leitwegId}</ram:BuyerReference>`));
    const file = join(dir, 'xrechnung.xml');
    writeFileSync(file, xml);
    toValidate.push(file);
  });

  it("a partner reselling as seller of record issues its tenants' invoices in its own name and series, in its branding", async () => {
    const partnerId = randomUUID();
    await publish(PartnerSellerProfileChanged, partnerId, {
      partnerId,
      changedAt: now.toISOString(),
      profile: {
        legalName: 'Reseller Rhein GmbH',
        address: { line1: 'Rheinufer 7', line2: null, postalCode: '50667', city: 'Köln' },
        country: 'DE',
        vatId: 'DE222222222',
        taxNumber: null,
        registration: 'HRB 999 Köln',
        managingDirectors: null,
        email: 'billing@reseller.example',
        phone: '+49 221 123456',
        contactName: 'Team Abrechnung',
        website: null,
        iban: 'DE89370400440532013000',
        bic: null,
        bankName: null,
      },
    });
    await publish(BrandingChanged, partnerId, {
      level: 'PARTNER',
      partnerId,
      tenantId: null,
      values: { displayName: 'Rhein Phone', primaryColor: '#1D4ED8', accentColor: '#DC2626', logoUrl: SAMPLE_LOGO_DATA_URI, supportEmail: null },
      changedAt: now.toISOString(),
    });
    await waitUntil(async () => {
      const [row] = await db
        .globalEm()
        .execute<{ logo_sha256: string | null }[]>(`select logo_sha256 from document_branding where level = 'PARTNER' and owner_id = ?`, [partnerId]);
      return row?.logo_sha256;
    }, 'the partner logo fetched by its job');
    const tenantId = await newTenant({ country: 'DE', partnerId, name: 'Rhein Kunde' });
    await paidTopUp(tenantId, 2_000);
    const [invoice] = await waitForDocuments(tenantId, 1);
    assert.equal(invoice.number, 'RE-2026-000001', "the partner's own series starts at 1");
    const file = join(dir, 'partner.pdf');
    writeFileSync(file, (await download(invoice.pdfUrl)).body);
    const text = pdfText(file);
    assert.ok(text.includes('Reseller Rhein GmbH') && text.includes('DE222222222') && text.includes('50667 Köln'));
    assert.ok(!text.includes('Saldo Demo GmbH'), 'the platform is not the seller');
    toValidate.push(file);
    // The partner may issue credit notes for its tenants.
    const credit = await subgraph.query(
      ISSUE_CREDIT_NOTE,
      { input: { documentId: invoice.id, amount: { amountMinor: 500, currency: 'EUR' }, reason: 'Kulanz des Partners', idempotencyKey: 'p-1' } },
      partner(partnerId),
    );
    assert.equal(credit.errors, undefined, JSON.stringify(credit.errors));
    assert.equal(credit.data!.issueCreditNote.number, 'GS-2026-000001');
  });

  it('every downloaded PDF and XML passes the EN 16931 validation (zero schema errors, zero fatal rules)', () => {
    assert.equal(toValidate.length, 5);
    for (const verdict of validateEn16931(toValidate)) assert.equal(verdict.ok, true, JSON.stringify(verdict));
  });

  it('without customer data or a seller of record nothing can be issued (CUSTOMER_DATA_MISSING, MISSING_ISSUER_DATA)', async () => {
    const noIssuer = new PartiesReader(db, null);
    const problem = await noIssuer.resolve(domestic);
    assert.equal('code' in problem && problem.code, 'MISSING_ISSUER_DATA');
    const unknown = await new PartiesReader(db, null).resolve(randomUUID());
    assert.equal('code' in unknown && unknown.code, 'CUSTOMER_DATA_MISSING');
  });

  describe('monthly statements', () => {
    it('reconcile exactly with the ledger of the month, chain month to month, and run once per tenant-month', async () => {
      const tenantId = await newTenant({ country: 'DE', name: 'Monatskunde' });
      const post = (type: LedgerEntryType, amountMinor: bigint, extra: Record<string, unknown> = {}) =>
        services.ledger.post({ tenantId, entries: [{ type, amountMinor, idempotencyKey: `t:${randomUUID()}`, ...extra }] });
      now = new Date('2026-03-15T10:00:00Z');
      await post(LedgerEntryType.TOP_UP, 30_000n, { description: 'Top-up via Stripe' });
      for (let i = 0; i < 40; i++) {
        await post(LedgerEntryType.USAGE, -12n * BigInt(1 + (i % 3)), {
          product: i % 2 ? 'inbound_minute' : 'sms',
          quantity: BigInt(1 + (i % 3)),
          unitPriceMicros: 12_000_000n,
          occurredAt: now,
        });
      }
      await post(LedgerEntryType.ADJUSTMENT, -150n, { description: 'Korrektur' });
      const marchClosing = await balanceOf(tenantId);
      now = new Date('2026-04-02T08:00:00Z');
      await post(LedgerEntryType.USAGE, -24n, { product: 'sms', quantity: 2n, unitPriceMicros: 12_000_000n, occurredAt: now });

      // The run for March (as the monthly job does it), twice: one statement per tenant.
      const run = () => subgraph.query('mutation { runMonthlyStatements(period: "2026-03") }', {}, ADMIN);
      assert.ok(((await run()).data!.runMonthlyStatements as number) >= 1);
      await run();
      const statement = await waitUntil(async () => (await documentsOf(tenantId, '(kind: STATEMENT)'))[0], 'the March statement');
      assert.match(statement.number, /^KA-2026-\d{6}$/);
      assert.deepEqual(statement.servicePeriod, { from: '2026-03-01', to: '2026-03-31' });
      assert.equal(statement.xmlUrl, null);
      const stored = (await services.documents.getMany([statement.id]))[0]!;
      const summary = services.documents.figures(stored).statement!;
      assert.equal(summary.openingBalanceMinor, 0n);
      assert.equal(summary.closingBalanceMinor, marchClosing, 'closing = the ledger balance at the end of March');
      assert.equal(
        summary.openingBalanceMinor + summary.totals.topUpsMinor + summary.totals.usageMinor + summary.totals.otherMinor,
        summary.closingBalanceMinor,
      );
      const located = await db.emForTenant(tenantId);
      const [sums] = await located!.em.execute<{ usage: string; top_ups: string }[]>(
        `select sum(amount_minor) filter (where type = 'USAGE')::text as usage, sum(amount_minor) filter (where type = 'TOP_UP')::text as top_ups
           from ledger_entry where tenant_id = ? and created_at < '2026-03-31T22:00:00Z'`,
        [tenantId],
      );
      assert.equal(summary.totals.usageMinor, BigInt(sums!.usage));
      assert.equal(summary.totals.topUpsMinor, BigInt(sums!.top_ups));
      assert.deepEqual(
        summary.usage.map((line) => [line.product, line.events]),
        [
          ['inbound_minute', 20],
          ['sms', 20],
        ],
      );
      assert.equal((await documentsOf(tenantId, '(kind: STATEMENT)')).length, 1, 'the second run issued nothing');

      // April starts where March ended.
      now = new Date('2026-05-01T06:00:00Z');
      const april = await services.documents.issueStatement(tenantId, '2026-04');
      const aprilSummary = services.documents.figures(april).statement!;
      assert.equal(aprilSummary.openingBalanceMinor, marchClosing);
      assert.equal(aprilSummary.closingBalanceMinor, await balanceOf(tenantId));
      assert.equal(aprilSummary.fromVersion, summary.toVersion);

      // A link minted now (the one listed in April has expired by May).
      const fresh = await subgraph.query(`query($id: ID!) { document(id: $id) { pdfUrl } }`, { id: statement.id }, tenantAdmin(tenantId));
      const pdf = await download(fresh.data!.document.pdfUrl);
      assert.equal(pdf.status, 200);
      const file = join(dir, 'statement.pdf');
      writeFileSync(file, pdf.body);
      const text = pdfText(file);
      assert.ok(text.includes('Kontoauszug März 2026') && text.includes('Anfangssaldo') && text.includes('Endsaldo') && text.includes('Einzelnachweis'));
      // Filters: by kind and by issue date.
      // The top-up posted without a VAT quote (its price included VAT) was invoiced too, VAT taken out of it.
      const invoices = await documentsOf(tenantId, '(kind: INVOICE)');
      assert.equal(invoices.length, 1);
      assert.deepEqual([invoices[0].totals.net.amountMinor, invoices[0].totals.vat.amountMinor, invoices[0].totals.gross.amountMinor], [25_210, 4_790, 30_000]);
      assert.equal((await documentsOf(tenantId, '(from: "2026-05-01", to: "2026-05-31")')).length, 1);
      assert.deepEqual(errorCodes(await subgraph.query('mutation { runMonthlyStatements(period: "2026-13") }', {}, ADMIN)), ['INVALID_PERIOD']);
      assert.deepEqual(errorCodes(await subgraph.query('mutation { runMonthlyStatements(period: "2026-03") }', {}, tenantAdmin(tenantId))), ['FORBIDDEN']);
    });
  });
});

async function documentEntry(tenantId: string, type: string) {
  return (await documentEntries(tenantId, type))[0]!;
}

async function documentEntries(tenantId: string, type: string) {
  const located = await db.emForTenant(tenantId);
  return located!.em.execute<{ id: string; external_ref: string | null }[]>(
    'select id, external_ref from ledger_entry where tenant_id = ? and type = ? order by account_version',
    [tenantId, type],
  );
}
