import { isXRechnung, renderCii } from '../einvoice/cii.js';
import { DocumentKind, type DocumentContent, type StatementUsageLine } from '../model.js';
import { finishPdf, layoutPdf } from './engine.js';
import { attachFacturX } from './facturx.js';
import { invoiceDefinition } from './invoice.js';
import { statementDefinition } from './statement.js';

/**
 * A document as PDF/A-3b. Invoices and credit notes are Factur-X/ZUGFeRD hybrids: their EN 16931 CII XML (the same
 * bytes as the XML download) is embedded as factur-x.xml. Statements are plain PDF/A-3b; their usage lines are read
 * from the ledger by the caller.
 */
export async function renderDocumentPdf(document: DocumentContent, usage: readonly StatementUsageLine[] = []): Promise<Buffer> {
  if (document.kind === DocumentKind.STATEMENT) {
    return finishPdf(await layoutPdf(statementDefinition(document, usage)));
  }
  const xml = renderCii(document);
  const doc = await layoutPdf(invoiceDefinition(document));
  attachFacturX(doc, xml, isXRechnung(document) ? 'XRECHNUNG' : 'EN 16931', document.issuedAt);
  return finishPdf(doc);
}

let warmedUp: Promise<void> | undefined;

/** Renders one sample invoice and statement page once per process, so the first real document is not the slow one. */
export function warmUpRenderer(): Promise<void> {
  warmedUp ??= (async () => {
    const { sampleInvoice, sampleStatement } = await import('../samples.js');
    await renderDocumentPdf(sampleInvoice('domestic'));
    const statement = sampleStatement(10);
    await renderDocumentPdf(statement.document, statement.usage);
  })();
  return warmedUp;
}
