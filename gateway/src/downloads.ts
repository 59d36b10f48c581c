import { request } from 'node:http';
import { request as requestTls } from 'node:https';
import type { Express, Request, Response } from 'express';
import { sendHttpError, type Logger } from '@saldo/service';

/** Response headers a download keeps on its way through the gateway. */
const PASSED_HEADERS = ['content-type', 'content-length', 'content-disposition', 'cache-control', 'x-content-type-options'];

/**
 * Public download paths (`/documents/<id>.pdf?...`): forwarded unchanged to the subgraph that serves them, so links
 * point at the gateway's public origin. The subgraph checks the link's signature (a capability bound to one document,
 * its tenant, format and expiry; docs/decisions/0010-documents.md): the gateway adds no identity and needs no key.
 * Only GET; the body is streamed.
 */
export function mountDownloadProxy(app: Express, path: string, upstream: () => string | undefined, logger: Logger): void {
  app.get(`${path}/:file`, (req: Request, res: Response) => {
    const base = upstream();
    if (!base) {
      sendHttpError(res, 503, 'SUBGRAPH_UNAVAILABLE', 'Downloads are unavailable: no route to the subgraph that serves them.');
      return;
    }
    const target = new URL(req.originalUrl, new URL(base).origin);
    const send = target.protocol === 'https:' ? requestTls : request;
    const outgoing = send(target, { method: 'GET', headers: { accept: req.header('accept') ?? '*/*' } }, (incoming) => {
      res.status(incoming.statusCode ?? 502);
      for (const header of PASSED_HEADERS) {
        const value = incoming.headers[header];
        if (value !== undefined) res.setHeader(header, value);
      }
      incoming.pipe(res);
    });
    outgoing.setTimeout(30_000, () => outgoing.destroy(new Error('download timed out')));
    outgoing.on('error', (error) => {
      logger.warn('download proxy failed', { path: target.pathname, error: error.message });
      sendHttpError(res, 502, 'SUBGRAPH_UNAVAILABLE', 'The document could not be fetched.');
    });
    outgoing.end();
  });
}
