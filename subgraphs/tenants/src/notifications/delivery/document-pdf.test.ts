import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { dependencyBreakers } from '@saldo/resilience';
import { restartableServer, waitUntil } from '@saldo/testing';
import { documentPdfGuard, fetchDocumentPdf, type DocumentPdfOptions } from './document-pdf.js';

const PDF = Buffer.from('%PDF-1.7\n% a stand-in document\n%%EOF\n', 'latin1');

/** Billing's signed document download, stand-in: can be stopped (connections refused) and started on the same port. */
function standInBilling() {
  return restartableServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/pdf', 'content-length': PDF.length });
    response.end(PDF);
  });
}

describe("the notifier's document PDF fetch", () => {
  const billing = standInBilling();
  after(() => billing.stop());

  it('fails fast with DEPENDENCY_UNAVAILABLE (the delivery is retried) while billing is down, and attaches the PDF once it is back', async () => {
    const origin = await billing.start();
    const guard = documentPdfGuard({ failureThreshold: 2, halfOpenAfterMs: 200 }, 2_000);
    const options: DocumentPdfOptions = { timeoutMs: 2_000, fetchOrigin: null, guard };
    const data = { pdfUrl: `${origin}/documents/INV-1.pdf?signature=abc`, number: 'INV-2026-000001' };
    const state = () => dependencyBreakers.read().find((reading) => reading.dependency === 'document-pdf')?.state;
    try {
      const attached = await fetchDocumentPdf(data, options);
      assert.equal(attached.kind, 'ATTACHED');
      assert.equal(state(), 'closed');

      await billing.stop();
      for (let i = 0; i < 2; i++) assert.equal((await fetchDocumentPdf(data, options)).kind, 'RETRY');
      assert.equal(state(), 'open');
      const refused = await fetchDocumentPdf(data, options);
      assert.equal(refused.kind, 'RETRY');
      assert.match(refused.kind === 'RETRY' ? refused.error : '', /DEPENDENCY_UNAVAILABLE: document-pdf is unavailable/);

      await billing.start();
      const before = billing.requests;
      const again = await waitUntil(async () => {
        const result = await fetchDocumentPdf(data, options);
        return result.kind === 'ATTACHED' ? result : null;
      }, 'the trial fetch to close the circuit');
      assert.equal(again.attachment.filename, 'INV-2026-000001.pdf');
      assert.deepEqual(again.attachment.content, PDF);
      assert.equal(state(), 'closed');
      assert.ok(billing.requests > before);
    } finally {
      guard.dispose();
    }
  });
});
