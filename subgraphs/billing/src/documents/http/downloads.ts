import type { Express, Request, Response } from 'express';
import type { Logger } from '@saldo/service';
import { DOWNLOAD_PATH } from '../download-links.js';
import type { DocumentService } from '../services/document-service.js';

const STATUS = { MALFORMED: 400, BAD_SIGNATURE: 403, EXPIRED: 410 } as const;

/**
 * GET /documents/<id>.pdf|xml?tenant=...&expires=...&signature=... : a document, for whoever holds a valid link (the
 * gateway forwards this path from its public origin unchanged). The link is the capability: its signature binds the
 * document, its tenant, the format and the expiry; the document must still belong to the signed tenant. Rendered on
 * request from the immutable document (the same bytes every time).
 */
export function mountDocumentDownloads(app: Express, documents: DocumentService, logger: Logger): void {
  app.get(`${DOWNLOAD_PATH}/:file`, async (req: Request, res: Response) => {
    const verdict = documents.links.verify(String(req.params['file']), req.query as Record<string, unknown>);
    if (!verdict.ok) {
      res.status(STATUS[verdict.reason]).json({ error: verdict.reason === 'EXPIRED' ? 'This download link has expired; ask for the document again.' : 'Invalid download link.', code: verdict.reason });
      return;
    }
    const { grant } = verdict;
    try {
      const [document] = await documents.getMany([grant.documentId]);
      if (!document || document.tenantId !== grant.tenantId) {
        res.status(404).json({ error: 'No such document.', code: 'DOCUMENT_NOT_FOUND' });
        return;
      }
      const body = await documents.render(document, grant.format);
      if (!body) {
        res.status(404).json({ error: 'Statements have no e-invoice.', code: 'DOCUMENT_NOT_FOUND' });
        return;
      }
      res
        .status(200)
        .set({
          'content-type': grant.format === 'pdf' ? 'application/pdf' : 'application/xml; charset=utf-8',
          'content-disposition': `inline; filename="${document.number}.${grant.format}"`,
          'cache-control': 'private, max-age=60',
          'x-content-type-options': 'nosniff',
        })
        .send(body);
    } catch (error) {
      logger.error('document download failed', { document: grant.documentId, error: (error as Error).message, stack: (error as Error).stack });
      if (!res.headersSent) res.status(500).json({ error: 'The document could not be rendered.', code: 'INTERNAL_SERVER_ERROR' });
    }
  });
}
