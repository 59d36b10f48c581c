import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Identity } from '@saldo/graphql';
import { startSmtpSink, waitUntil, type ReceivedMail, type SmtpSink } from '@saldo/testing';
import { download, pdfText, validateEn16931 } from './document-tools.js';
import { startTestStack, type TestStack } from './test-stack.js';

const DOCUMENTS = /* GraphQL */ `
  query Documents($id: ID!) {
    tenant(id: $id) {
      documents(first: 10) {
        edges {
          node {
            id
            kind
            number
            totals {
              gross {
                amountMinor
                currency
              }
            }
            pdfUrl
            xmlUrl
          }
        }
      }
    }
  }
`;

interface DocumentNode {
  id: string;
  kind: string;
  number: string;
  totals: { gross: { amountMinor: number; currency: string } };
  pdfUrl: string;
  xmlUrl: string | null;
}

/**
 * Documents as a tenant meets them, with the whole stack: a top-up paid through the gateway (Stripe stand-in) is
 * invoiced; the links in the graph point at the gateway's public origin, which serves the PDF and the XML; the scope
 * is the tenant's; and `document.issued` reaches the notifier, whose mail carries the PDF it fetched through the
 * signed link in the event.
 */
describe('documents through the gateway', () => {
  let stack: TestStack;
  let smtp: SmtpSink;
  let gatewayOrigin: string;
  const dir = mkdtempSync(join(tmpdir(), 'saldo-documents-e2e-'));

  before(async () => {
    smtp = await startSmtpSink();
    stack = await startTestStack('documents-e2e', { tenantsEnv: { SMTP_URL: smtp.url } });
    // Download links point at the gateway's public origin (the stack picks the gateway's port before billing starts).
    gatewayOrigin = `http://localhost:${new URL(stack.gateway.url).port}`;
  });

  after(async () => {
    await stack?.destroy();
    await smtp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function ok<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, identity?: Identity): Promise<T> {
    const result = await stack.gql<T>(query, variables, identity);
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return result.data as T;
  }

  async function tenant(name: string, recipient: string): Promise<{ id: string; admin: Identity }> {
    const created = await ok<{ createTenant: { id: string } }>('mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }', {
      input: {
        name,
        legalName: `${name} GmbH`,
        currency: 'EUR',
        country: 'DE',
        vatId: null,
        address: { line1: 'Torstraße 1', postalCode: '10119', city: 'Berlin' },
      },
    });
    const id = created.createTenant.id;
    await stack.flushEvents();
    await ok('mutation($id: ID!, $to: [String!]) { setNotificationSettings(tenantId: $id, input: { recipients: $to }) { recipients } }', {
      id,
      to: [recipient],
    });
    return { id, admin: { role: 'tenant-admin', subject: recipient, tenantId: id } };
  }

  /** A top-up of `amountMinor` net, paid at the stand-in's checkout page; resolves once billing took both payment events. */
  async function paidTopUp(tenantId: string, admin: Identity, amountMinor: number): Promise<void> {
    const created = await ok<{ createTopUp: { checkoutUrl: string } }>(
      'mutation($input: CreateTopUpInput!) { createTopUp(input: $input) { checkoutUrl } }',
      { input: { tenantId, amount: { amountMinor, currency: 'EUR' }, idempotencyKey: `e2e-${tenantId}` } },
      admin,
    );
    const paid = await fetch(`${created.createTopUp.checkoutUrl}/pay`, { method: 'POST', redirect: 'manual' });
    assert.equal(paid.status, 303);
    const sessionId = new URL(paid.headers.get('location')!, stack.stripeStandIn!.url).searchParams.get('session_id')!;
    const paymentIntentId = stack.stripeStandIn!.checkoutSessions.get(sessionId)!['payment_intent'] as string;
    const acknowledged = (type: string, objectId: string) =>
      stack.stripeStandIn!.deliveries.some((d) => d.type === type && d.objectId === objectId && d.status === 200);
    await waitUntil(
      () => acknowledged('checkout.session.completed', sessionId) && acknowledged('payment_intent.succeeded', paymentIntentId),
      'billing to take the payment',
    );
  }

  async function documentsOf(tenantId: string, identity: Identity): Promise<DocumentNode[]> {
    const data = await ok<{ tenant: { documents: { edges: Array<{ node: DocumentNode }> } } }>(DOCUMENTS, { id: tenantId }, identity);
    return data.tenant.documents.edges.map((edge) => edge.node);
  }

  /** The mail that announces document `number` (the notifier sends others too, e.g. balance warnings). */
  async function mailOf(number: string): Promise<ReceivedMail> {
    const find = () => smtp.mails.find((mail) => (mail.parsed.subject ?? '').includes(number));
    while (!find()) await smtp.waitFor(smtp.mails.length + 1);
    return find()!;
  }

  let weber: { id: string; admin: Identity };
  let invoice!: DocumentNode;
  let pdf!: Buffer;

  it('a paid top-up is invoiced; its links point at the gateway, which serves the PDF/A-3 and the e-invoice', async () => {
    weber = await tenant('Praxis Weber', 'buchhaltung@weber.test');
    await paidTopUp(weber.id, weber.admin, 10_000);
    await stack.flushEvents();
    invoice = await waitUntil(async () => (await documentsOf(weber.id, weber.admin))[0] ?? null, 'the invoice of the top-up');
    assert.equal(invoice.kind, 'INVOICE');
    assert.match(invoice.number, /^RE-\d{4}-\d{6}$/);
    assert.deepEqual(invoice.totals.gross, { amountMinor: 11_900, currency: 'EUR' }, '100.00 net + 19 % VAT');
    for (const url of [invoice.pdfUrl, invoice.xmlUrl!]) assert.equal(new URL(url).origin, gatewayOrigin, url);

    const served = await download(invoice.pdfUrl);
    assert.equal(served.status, 200);
    assert.equal(served.type, 'application/pdf');
    assert.equal(served.body.subarray(0, 5).toString(), '%PDF-');
    pdf = served.body;
    const xml = await download(invoice.xmlUrl!);
    assert.equal(xml.status, 200);
    assert.match(xml.type!, /^application\/xml/);
    assert.match(xml.body.toString('utf8'), new RegExp(`<ram:ID>${invoice.number}</ram:ID>`));
    const text = pdfText(pdf);
    for (const expected of [invoice.number, 'Praxis Weber GmbH', 'Torstraße 1', '119,00 €']) assert.ok(text.includes(expected), `PDF text lacks "${expected}"`);
  });

  it('the gateway serves only what the link grants: altered links and another tenant get nothing', async () => {
    const other = await tenant('Kanzlei Fremd', 'office@fremd.test');
    await paidTopUp(other.id, other.admin, 5_000);
    await stack.flushEvents();
    const [foreign] = await waitUntil(async () => {
      const documents = await documentsOf(other.id, other.admin);
      return documents.length > 0 ? documents : null;
    }, "the other tenant's invoice");

    // Another tenant's user sees neither the document nor its links; nor the first tenant's list.
    const asOther = await stack.gql<{ document: unknown }>('query($id: ID!) { document(id: $id) { id pdfUrl } }', { id: invoice.id }, other.admin);
    assert.equal(asOther.errors, undefined);
    assert.equal(asOther.data!.document, null);
    const list = await stack.gql<{ tenant: unknown }>(DOCUMENTS, { id: weber.id }, other.admin);
    assert.equal(list.errors, undefined);
    assert.equal(list.data!.tenant, null, 'another tenant is invisible, and so are its documents');

    // Every alteration of a valid link, through the gateway, is refused; the originals still work.
    const url = new URL(invoice.pdfUrl);
    const altered = [
      url.href.replace(invoice.id, foreign!.id),
      url.href.replace(`tenant=${weber.id}`, `tenant=${other.id}`),
      url.href.replace('.pdf?', '.xml?'),
      url.href.replace(/expires=(\d+)/, (_match, expires: string) => `expires=${Number(expires) + 86_400}`),
    ];
    for (const link of altered) assert.equal((await download(link)).status, 403, link);
    // The other tenant's own link, re-pointed at the first tenant's document with the other's tenant id: refused.
    assert.equal((await download(foreign!.pdfUrl.replace(foreign!.id, invoice.id))).status, 403);
    assert.equal((await download(invoice.pdfUrl)).status, 200);
    assert.equal((await download(foreign!.pdfUrl)).status, 200);
  });

  it('document.issued carries a signed PDF link: the notifier mails the invoice with its PDF attached', async () => {
    const mail = await mailOf(invoice.number);
    assert.deepEqual(mail.to, ['buchhaltung@weber.test']);
    assert.match(mail.parsed.text ?? '', /Das PDF finden Sie im Anhang/);
    const attachments = mail.parsed.attachments ?? [];
    assert.equal(attachments.length, 1);
    assert.equal(attachments[0]!.filename, `${invoice.number}.pdf`);
    assert.equal(attachments[0]!.contentType, 'application/pdf');
    // The notifier fetched the same immutable document through the gateway: byte for byte what the portal downloads.
    assert.ok(attachments[0]!.content.equals(pdf), 'the attachment is the invoice PDF');

    // The mailed PDF is a Factur-X hybrid whose embedded e-invoice passes the EN 16931 validation.
    const file = join(dir, `${invoice.number}.pdf`);
    writeFileSync(file, attachments[0]!.content);
    const detached = execFileSync('pdfdetach', ['-list', file], { encoding: 'utf8' });
    assert.match(detached, /factur-x\.xml/);
    const [verdict] = validateEn16931([file]);
    assert.equal(verdict!.ok, true, JSON.stringify(verdict));
    assert.equal(verdict!.fatal, 0);
    assert.deepEqual(verdict!.schemaErrors, []);
  });
});
