import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seedDemoData } from '@saldo/dev-stack';
import { previousMonth } from '@saldo/subgraph-billing';
import { testLogger } from '@saldo/testing';
import { download, pdfText, validateEn16931 } from './document-tools.js';
import { startTestStack, type TestStack } from './test-stack.js';

const TENANT_DOCUMENTS = /* GraphQL */ `
  {
    tenants(first: 20) {
      edges {
        node {
          id
          name
          country
          partner {
            name
          }
          documents(first: 10) {
            edges {
              node {
                kind
                number
                servicePeriod {
                  from
                  to
                }
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
    }
  }
`;

interface DemoTenant {
  id: string;
  name: string;
  country: string;
  partner: { name: string } | null;
  documents: { edges: Array<{ node: { kind: string; number: string; servicePeriod: { from: string; to: string }; pdfUrl: string; xmlUrl: string | null } }> };
}

/**
 * What a new user of `pnpm start` finds: the demo data (seeded exactly as `pnpm start` seeds it) gives every demo tenant
 * the invoices of its top-ups and last month's statement, readable through the gateway, each PDF a proper German (or
 * English) invoice whose e-invoice passes the EN 16931 validation.
 */
describe('documents of the demo data (pnpm start)', () => {
  let stack: TestStack;
  let tenants: DemoTenant[];
  const dir = mkdtempSync(join(tmpdir(), 'saldo-demo-documents-'));

  before(async () => {
    stack = await startTestStack('demo-docs');
    assert.equal(await seedDemoData(stack, testLogger()), true);
    await stack.flushEvents();
  });

  after(async () => {
    await stack?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every demo tenant has its top-up invoices and last month's statement", async () => {
    const result = await stack.gql<{ tenants: { edges: Array<{ node: DemoTenant }> } }>(TENANT_DOCUMENTS);
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    tenants = result.data!.tenants.edges.map((edge) => edge.node);
    assert.equal(tenants.length, 12);
    const month = previousMonth(new Date());
    for (const tenant of tenants) {
      const documents = tenant.documents.edges.map((edge) => edge.node);
      const invoices = documents.filter((document) => document.kind === 'INVOICE');
      const statements = documents.filter((document) => document.kind === 'STATEMENT');
      assert.ok(invoices.length >= 2, `${tenant.name}: last month's and a recent top-up are invoiced (${invoices.length})`);
      assert.equal(statements.length, 1, `${tenant.name}: one statement`);
      assert.equal(statements[0]!.servicePeriod.from, `${month}-01`);
      assert.ok(statements[0]!.servicePeriod.to.startsWith(month));
      for (const document of documents) assert.match(document.number, /^(RE|KA)-\d{4}-\d{6}$/);
    }
  });

  it('opens a proper German invoice (and an English one) through the gateway; their e-invoices pass EN 16931', async () => {
    const byName = (name: string) => tenants.find((tenant) => tenant.name === name)!;
    const invoiceOf = (tenant: DemoTenant) => tenant.documents.edges.map((edge) => edge.node).find((document) => document.kind === 'INVOICE')!;
    const statementOf = (tenant: DemoTenant) => tenant.documents.edges.map((edge) => edge.node).find((document) => document.kind === 'STATEMENT')!;

    // A German practice under Voxly, which resells as seller of record: Voxly's name, VAT id and bank on the invoice.
    const weber = byName('Praxis Dr. Weber');
    assert.equal(weber.partner?.name, 'Voxly Reseller GmbH');
    const german = await download(invoiceOf(weber).pdfUrl);
    assert.equal(german.status, 200);
    const germanText = pdfText(german.body);
    for (const expected of [
      `Rechnung ${invoiceOf(weber).number}`,
      'Voxly Reseller GmbH',
      'Lindenstraße 12',
      'DE287654321',
      'Praxis Dr. Weber',
      'Marienplatz 4',
      'Umsatzsteuer 19 %',
      'Seite 1 von 1',
    ]) {
      assert.ok(germanText.includes(expected), `the German invoice lacks "${expected}"`);
    }

    // A French business with a VAT id, sold to by the platform itself: English, reverse charge.
    const lumiere = byName('Studio Lumière');
    assert.equal(lumiere.partner, null);
    const english = await download(invoiceOf(lumiere).pdfUrl);
    const englishText = pdfText(english.body);
    for (const expected of [`Invoice ${invoiceOf(lumiere).number}`, 'Saldo Demo GmbH', 'DE123456789', 'FR12345678901', 'Reverse charge']) {
      assert.ok(englishText.includes(expected), `the English invoice lacks "${expected}"`);
    }

    // Last month's statement opens too.
    const statement = await download(statementOf(weber).pdfUrl);
    assert.equal(statement.status, 200);
    assert.ok(pdfText(statement.body).includes(statementOf(weber).number));

    const files = [join(dir, 'weber.pdf'), join(dir, 'lumiere.pdf'), join(dir, 'lumiere.xml')];
    writeFileSync(files[0]!, german.body);
    writeFileSync(files[1]!, english.body);
    writeFileSync(files[2]!, (await download(invoiceOf(lumiere).xmlUrl!)).body);
    for (const verdict of validateEn16931(files)) {
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      assert.equal(verdict.fatal, 0);
      assert.deepEqual(verdict.schemaErrors, []);
    }
  });
});
