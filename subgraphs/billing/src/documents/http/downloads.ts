import type { Express, Request, Response } from 'express';
import { HttpErrorCode, sendHttpError, type Logger } from '@saldo/service';
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
      sendHttpError(
        res,
        STATUS[verdict.reason],
        verdict.reason,
        verdict.reason === 'EXPIRED' ? 'This download link has expired; ask for the document again.' : 'Invalid download link.',
      );
      return;
    }
    const { grant } = verdict;
    try {
      const [document] = await documents.getMany([grant.documentId]);
      if (!document || document.tenantId !== grant.tenantId) {
        sendHttpError(res, 404, 'DOCUMENT_NOT_FOUND', 'No such document.');
        return;
      }
      const body = await documents.render(document, grant.format);
      if (!body) {
        sendHttpError(res, 404, 'DOCUMENT_NOT_FOUND', 'Statements have no e-invoice.');
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
      sendHttpError(res, 500, HttpErrorCode.Internal, 'The document could not be rendered.');
    }
  });
}
