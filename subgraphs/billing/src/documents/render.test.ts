import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EN16931_GUIDELINE, XRECHNUNG_GUIDELINE, renderCii } from './einvoice/cii.js';
import type { DocumentContent } from './model.js';
import { renderDocumentPdf } from './pdf/render.js';
import { itemizationPages } from './pdf/statement.js';
import { SAMPLE_CUSTOMERS, sampleCreditNote, sampleInclusiveInvoice, sampleInvoice, sampleStatement, type SampleCase } from './samples.js';
import { pdfAttachments, pdfObjects, pdfPageCount, pdfText, qpdfCheck, validateEn16931, type ValidationResult } from './test-tools.js';

const CASES: SampleCase[] = ['domestic', 'reverse-charge', 'eu-consumer', 'non-eu', 'xrechnung'];
const dir = mkdtempSync(join(tmpdir(), 'saldo-documents-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Rendered {
  name: string;
  document: DocumentContent;
  pdf: string;
  xml: string;
}
const rendered: Rendered[] = [];
let verdicts = new Map<string, ValidationResult>();

before(async () => {
  for (const vatCase of CASES) {
    for (const language of ['de', 'en'] as const) {
      for (const document of [sampleInvoice(vatCase, { language }), sampleCreditNote(vatCase, { language })]) {
        const name = `${document.kind}-${vatCase}-${language}`;
        const pdf = join(dir, `${name}.pdf`);
        const xml = join(dir, `${name}.xml`);
        writeFileSync(pdf, await renderDocumentPdf(document));
        writeFileSync(xml, renderCii(document));
        rendered.push({ name, document, pdf, xml });
      }
    }
  }
  // A top-up paid VAT-inclusive: 100.05 is no net + 19 % of it, so 0.01 is left as the rounding amount (BT-114).
  for (const paid of [10_005n, 11_900n]) {
    const document = sampleInclusiveInvoice(paid);
    const name = `INCLUSIVE-${paid}`;
    const pdf = join(dir, `${name}.pdf`);
    const xml = join(dir, `${name}.xml`);
    writeFileSync(pdf, await renderDocumentPdf(document));
    writeFileSync(xml, renderCii(document));
    rendered.push({ name, document, pdf, xml });
  }
  // One validator run (one JVM) for every XML and every PDF's embedded XML.
  const results = validateEn16931(rendered.flatMap((r) => [r.xml, r.pdf]));
  verdicts = new Map(results.map((result) => [result.file, result]));
});

describe('e-invoices: every document kind and VAT case passes the official EN 16931 CII validation', () => {
  it('zero schema errors and zero fatal rules, for the XML and the XML embedded in the PDF', () => {
    assert.equal(rendered.length, CASES.length * 2 * 2 + 2);
    for (const { pdf, xml } of rendered) {
      for (const file of [xml, pdf]) {
        const verdict = verdicts.get(file);
        assert.ok(verdict, `no verdict for ${file}`);
        assert.deepEqual(verdict.schemaErrors, [], `${file}: schema errors`);
        assert.equal(verdict.fatal, 0, `${file}: ${JSON.stringify(verdict.rules)}`);
        assert.equal(verdict.ok, true);
      }
    }
  });

  it('the validator is not a rubber stamp: a broken total and a missing seller VAT id are refused', () => {
    const good = readFileSync(rendered[0]!.xml, 'utf8');
    const badTotal = join(dir, 'bad-total.xml');
    writeFileSync(badTotal, good.replace('<ram:GrandTotalAmount>119.00</ram:GrandTotalAmount>', '<ram:GrandTotalAmount>119.01</ram:GrandTotalAmount>'));
    const noVatId = join(dir, 'no-seller-vat-id.xml');
    writeFileSync(
      noVatId,
      good
        .replace(/<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">DE123456789<\/ram:ID><\/ram:SpecifiedTaxRegistration>/, '')
        .replace(/<ram:SpecifiedTaxRegistration><ram:ID schemeID="FC">[^<]*<\/ram:ID><\/ram:SpecifiedTaxRegistration>/, ''),
    );
    const [total, vatId] = validateEn16931([badTotal, noVatId]);
    assert.equal(total!.ok, false);
    assert.ok(
      total!.rules.some((rule) => rule.id === 'BR-CO-15'),
      JSON.stringify(total!.rules),
    );
    assert.equal(vatId!.ok, false);
    assert.ok(
      vatId!.rules.some((rule) => rule.id === 'BR-S-02'),
      JSON.stringify(vatId!.rules),
    );
  });

  it('a VAT-inclusive payment is split exactly: net + VAT + rounding = paid, nothing due', () => {
    const odd = rendered.find((r) => r.name === 'INCLUSIVE-10005')!.document;
    assert.deepEqual([odd.totals.netMinor, odd.totals.vatMinor, odd.roundingMinor], [8_407n, 1_597n, 1n]);
    assert.equal(odd.totals.grossMinor + odd.roundingMinor, 10_005n);
    const even = rendered.find((r) => r.name === 'INCLUSIVE-11900')!.document;
    assert.deepEqual([even.totals.netMinor, even.totals.vatMinor, even.roundingMinor], [10_000n, 1_900n, 0n]);
    assert.ok(readFileSync(rendered.find((r) => r.name === 'INCLUSIVE-10005')!.xml, 'utf8').includes('<ram:RoundingAmount>0.01</ram:RoundingAmount>'));
  });

  it('the PDF carries exactly the downloadable XML as factur-x.xml', () => {
    for (const { name, pdf, xml } of rendered.filter((r) => r.name.endsWith('-de'))) {
      const out = join(dir, `${name}-attachments`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      assert.deepEqual(pdfAttachments(pdf, out), ['factur-x.xml']);
      assert.equal(readFileSync(join(out, 'factur-x.xml'), 'utf8'), readFileSync(xml, 'utf8'));
    }
  });

  it('profile EN 16931, or XRechnung 3.0 with buyer reference, contact and electronic addresses when a Leitweg-ID is set', () => {
    for (const { document, xml } of rendered) {
      const text = readFileSync(xml, 'utf8');
      if (document.customer.buyerReference) {
        assert.ok(text.includes(`<ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>${XRECHNUNG_GUIDELINE}</ram:ID>`));
        assert.ok(text.includes(`<ram:BuyerReference>${document.customer.buyerReference}</ram:BuyerReference>`), 'BR-DE-15 buyer reference');
        assert.ok(text.includes(`<ram:URIID schemeID="0204">${document.customer.buyerReference}</ram:URIID>`), 'BT-49 buyer electronic address');
        assert.ok(text.includes('<ram:URIID schemeID="EM">rechnung@saldo.example</ram:URIID>'), 'BT-34 seller electronic address');
        assert.match(
          text,
          /<ram:DefinedTradeContact><ram:PersonName>.+<\/ram:PersonName><ram:TelephoneUniversalCommunication><ram:CompleteNumber>.+<\/ram:CompleteNumber><\/ram:TelephoneUniversalCommunication><ram:EmailURIUniversalCommunication><ram:URIID>.+<\/ram:URIID>/,
          'BR-DE-2/5/6/7 seller contact',
        );
        assert.match(text, /<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>\d+<\/ram:TypeCode>/, 'BR-DE-1 payment instructions');
        assert.ok(text.includes('urn:fdc:peppol.eu:2017:poacc:billing:01:1.0'), 'BT-23 business process');
      } else {
        assert.ok(text.includes(`<ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>${EN16931_GUIDELINE}</ram:ID>`));
        assert.ok(!text.includes('<ram:BuyerReference>'));
      }
    }
  });

  it('credit notes are type 381 and reference the invoice they correct; invoices are 380', () => {
    for (const { document, xml } of rendered) {
      const text = readFileSync(xml, 'utf8');
      if (document.kind === 'CREDIT_NOTE') {
        assert.ok(text.includes('<ram:TypeCode>381</ram:TypeCode>'));
        assert.ok(text.includes(`<ram:InvoiceReferencedDocument><ram:IssuerAssignedID>${document.corrects!.number}</ram:IssuerAssignedID>`));
      } else {
        assert.ok(text.includes('<ram:TypeCode>380</ram:TypeCode>'));
        assert.ok(!text.includes('InvoiceReferencedDocument'));
      }
    }
  });
});

describe('PDFs: the fields § 14 Abs. 4 UStG requires, in German and English', () => {
  it('names and addresses, VAT id and tax number, date, number, quantity and kind, service date, net per rate, rate, tax, gross', () => {
    for (const { document, pdf } of rendered) {
      const text = pdfText(pdf);
      const de = document.language === 'de';
      const expect = (fragment: string, what: string) =>
        assert.ok(text.includes(fragment), `${document.number} (${document.customer.name}, ${document.language}): ${what} "${fragment}" missing\n${text}`);
      expect('Saldo Demo GmbH', 'issuer name');
      expect('Friedrichstraße 123', 'issuer address');
      expect('10117 Berlin', 'issuer city');
      expect(document.customer.name, 'customer name');
      expect(document.customer.address!.line1, 'customer address');
      expect(`${document.customer.address!.postalCode} ${document.customer.address!.city}`, 'customer city');
      expect('DE123456789', 'issuer VAT id');
      expect('37/123/45678', 'issuer tax number');
      expect(document.number, 'sequential number');
      expect(de ? (document.kind === 'INVOICE' ? '14.03.2026' : '20.03.2026') : document.kind === 'INVOICE' ? '14 Mar 2026' : '20 Mar 2026', 'issue date');
      expect(de ? 'Leistungsdatum' : 'Date of supply', 'service date label');
      expect(document.lines[0]!.description[document.language].slice(0, 24), 'kind of service');
      const net = document.totals.netMinor;
      const euros = (minor: bigint) =>
        de ? `${minor / 100n},${String(minor % 100n).padStart(2, '0')} €` : `€${minor / 100n}.${String(minor % 100n).padStart(2, '0')}`;
      expect(euros(net), 'net amount');
      expect(euros(document.totals.grossMinor), 'gross amount');
      const row = document.breakdown[0]!;
      if (row.category === 'S') {
        expect(`${row.basisPoints / 100} %`, 'rate');
        expect(euros(row.vatMinor), 'tax amount');
      }
      if (document.kind === 'CREDIT_NOTE') expect(document.corrects!.number, 'the corrected invoice');
    }
  });

  it('says what each VAT case requires: reverse charge with both VAT ids, not taxable outside the EU, the OSS rate', () => {
    for (const { document, pdf } of rendered) {
      const text = pdfText(pdf);
      switch (document.vat!.case) {
        case 'REVERSE_CHARGE':
          assert.ok(text.includes('Steuerschuldnerschaft des Leistungsempfängers / Reverse charge'));
          assert.ok(text.includes('DE123456789') && text.includes(SAMPLE_CUSTOMERS['reverse-charge'].vatId!), 'both VAT ids');
          break;
        case 'NON_EU':
          assert.ok(text.includes(document.language === 'de' ? 'Nicht im Inland steuerbare Leistung' : 'Not subject to German VAT'));
          break;
        case 'EU_CONSUMER':
          assert.ok(text.includes('20 %'), 'France 20 %');
          assert.ok(text.includes(document.language === 'de' ? 'One-Stop-Shop' : 'One-Stop Shop'));
          break;
        case 'DOMESTIC':
          assert.ok(text.includes('19 %'));
          break;
      }
    }
  });
});

describe('PDF/A-3 Factur-X structure (checked with qpdf)', () => {
  it('has the PDF/A-3 and Factur-X XMP, the sRGB output intent, the associated file and only embedded fonts', () => {
    const sample = rendered.find((r) => r.name === 'INVOICE-domestic-de')!;
    assert.match(qpdfCheck(sample.pdf), /No syntax or stream encoding errors found/);
    const objects = Object.values(pdfObjects(sample.pdf));
    const dict = (o: (typeof objects)[number]) => (o.value ?? o.stream?.dict ?? {}) as Record<string, unknown>;
    const catalog = objects.map(dict).find((d) => d['/Type'] === '/Catalog')!;
    assert.ok(Array.isArray(catalog['/AF']) && (catalog['/AF'] as unknown[]).length === 1, 'catalog /AF');
    assert.ok(catalog['/OutputIntents'] && catalog['/Metadata'] && catalog['/Lang'] === 'u:de-DE');
    const filespec = objects.map(dict).find((d) => d['/Type'] === '/Filespec')!;
    assert.equal(filespec['/AFRelationship'], '/Alternative');
    assert.equal(filespec['/F'], 'u:factur-x.xml');
    assert.equal(filespec['/UF'], 'u:factur-x.xml');
    const embedded = objects.map(dict).find((d) => d['/Type'] === '/EmbeddedFile')!;
    assert.equal(embedded['/Subtype'], '/text/xml');
    assert.ok((embedded['/Params'] as Record<string, unknown>)['/ModDate'], 'embedded file ModDate');
    const intent = objects.map(dict).find((d) => d['/Type'] === '/OutputIntent')!;
    assert.equal(intent['/S'], '/GTS_PDFA1');
    assert.ok(intent['/DestOutputProfile'], 'ICC profile');
    const xmp = objects.map((o) => (o.stream && dict(o)['/Type'] === '/Metadata' ? Buffer.from(o.stream.data!, 'base64').toString('utf8') : '')).join('');
    assert.match(xmp, /<pdfaid:part>3<\/pdfaid:part>\s*<pdfaid:conformance>B<\/pdfaid:conformance>/);
    assert.match(xmp, /<fx:DocumentFileName>factur-x.xml<\/fx:DocumentFileName>/);
    assert.match(xmp, /<fx:ConformanceLevel>EN 16931<\/fx:ConformanceLevel>/);
    assert.match(xmp, /<pdfaSchema:namespaceURI>urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#<\/pdfaSchema:namespaceURI>/);
    const fonts = objects.map(dict).filter((d) => d['/Type'] === '/Font');
    assert.ok(fonts.length >= 2);
    for (const font of fonts)
      assert.ok(font['/Subtype'] === '/Type0' || font['/Subtype'] === '/CIDFontType2', `no unembedded simple font: ${JSON.stringify(font)}`);
    const descriptors = objects.map(dict).filter((d) => d['/Type'] === '/FontDescriptor');
    assert.ok(descriptors.length >= 2 && descriptors.every((d) => d['/FontFile2']), 'every font program embedded');
    const xrechnung = rendered.find((r) => r.name === 'INVOICE-xrechnung-de')!;
    const xrXmp = Object.values(pdfObjects(xrechnung.pdf))
      .map((o) => (o.stream && o.stream.dict['/Type'] === '/Metadata' ? Buffer.from(o.stream.data!, 'base64').toString('utf8') : ''))
      .join('');
    assert.match(xrXmp, /<fx:ConformanceLevel>XRECHNUNG<\/fx:ConformanceLevel>/);
  });
});

describe('statements', () => {
  it('a month with 10,000 usage lines renders: every page numbered, totals carried from page to page', async () => {
    const { document, usage } = sampleStatement(10_000);
    const file = join(dir, 'statement-10000.pdf');
    writeFileSync(file, await renderDocumentPdf(document, usage));
    const pages = pdfPageCount(file);
    assert.equal(pages, 1 + itemizationPages(10_000));
    const text = pdfText(file);
    assert.ok(text.includes(`Seite ${pages} von ${pages}`));
    // Each itemization page opens with the total brought forward and (but the last) closes with the total carried forward.
    assert.equal(text.split('Übertrag auf nächste Seite').length - 1, pages - 2);
    const last = pdfText(file, { first: pages, last: pages });
    const usageTotal = document.statement!.totals.usageMinor;
    const formatted = `-${(-usageTotal / 100n).toLocaleString('de-DE')},${String(-usageTotal % 100n).padStart(2, '0')} €`;
    assert.ok(last.includes(formatted), `the last page ends with the month's usage ${formatted}`);
    // The carried total at the bottom of page 2 is the one brought forward at the top of page 3.
    const carried = (page: number, marker: string) =>
      pdfText(file, { first: page, last: page })
        .split('\n')
        .find((line) => line.includes(marker))!
        .trim()
        .split(/\s+/)
        .slice(-2)
        .join(' ');
    assert.equal(carried(2, 'Übertrag auf nächste Seite'), carried(3, 'Übertrag'));
    assert.ok(text.includes('Anfangssaldo') && text.includes('Endsaldo') && text.includes('keine Rechnung'));
  });

  it('an English statement with no usage has only its summary page', async () => {
    const { document } = sampleStatement(0, { language: 'en' });
    const file = join(dir, 'statement-empty.pdf');
    writeFileSync(file, await renderDocumentPdf(document, []));
    assert.equal(pdfPageCount(file), 1);
    const text = pdfText(file);
    assert.ok(
      text.includes('Account statement February 2026') && text.includes('Opening balance') && text.includes('Closing balance') && text.includes('Page 1 of 1'),
    );
  });
});
