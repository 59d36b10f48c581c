import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from './logger.js';

/**
 * Clean errors for bad HTTP requests. Every Saldo HTTP endpoint (the gateway, the subgraphs, their internal and
 * webhook routes) answers a request it cannot serve with the same GraphQL-shaped JSON body GraphQL clients already
 * parse, with a stable code and the right status, in every environment:
 *
 *   { "errors": [{ "message": "...", "extensions": { "code": "BAD_REQUEST" } }] }
 *
 * Express's own fallbacks would answer with an HTML page carrying the error's stack (outside production) and file
 * paths; nothing of the error object reaches the client here except what the mapping below chose to say.
 */
export const HttpErrorCode = {
  BadRequest: 'BAD_REQUEST',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  NotFound: 'NOT_FOUND',
  Internal: 'INTERNAL_SERVER_ERROR',
} as const;

// A type alias (not an interface) so it stays assignable to Record<string, unknown> bodies.
export type HttpErrorBody = {
  errors: [{ message: string; extensions: { code: string } & Record<string, unknown> }];
};

/** The GraphQL-shaped error body: one error with `extensions.code` (plus any extra extensions). */
export function httpErrorBody(code: string, message: string, extensions: Record<string, unknown> = {}): HttpErrorBody {
  return { errors: [{ message, extensions: { ...extensions, code } }] };
}

/** Sends `httpErrorBody(code, message)` with `status` (ignored once headers went out: the socket is ended instead). */
export function sendHttpError(res: Response, status: number, code: string, message: string, extensions: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(status).json(httpErrorBody(code, message, extensions));
}

/** The last route: anything no route answered is NOT_FOUND (never Express's HTML "Cannot GET"). */
export function notFoundHandler(): RequestHandler {
  return (_req, res) => sendHttpError(res, 404, HttpErrorCode.NotFound, 'Nothing is served at this path.');
}

/** What a failed request tells the client: status, code and a fixed message (never the error's own text). */
export function describeHttpError(error: unknown): { status: number; code: string; message: string; extensions?: Record<string, unknown> } {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as { status?: unknown; statusCode?: unknown; type?: unknown; limit?: unknown };
  const rawStatus = Number(fields.status ?? fields.statusCode);
  const status = Number.isInteger(rawStatus) && rawStatus >= 400 && rawStatus < 600 ? rawStatus : 500;
  // body-parser's error types (https://github.com/expressjs/body-parser#errors).
  switch (fields.type) {
    case 'entity.parse.failed':
      return { status: 400, code: HttpErrorCode.BadRequest, message: 'The request body is not valid JSON.' };
    case 'entity.too.large': {
      const limit = typeof fields.limit === 'number' ? fields.limit : undefined;
      return {
        status: 413,
        code: HttpErrorCode.PayloadTooLarge,
        message: limit === undefined ? 'The request body is too large.' : `The request body exceeds the limit of ${limit} bytes.`,
        ...(limit === undefined ? {} : { extensions: { limitBytes: limit } }),
      };
    }
    case 'encoding.unsupported':
      return { status: 415, code: HttpErrorCode.BadRequest, message: 'The request body has an unsupported Content-Encoding.' };
    case 'charset.unsupported':
      return { status: 415, code: HttpErrorCode.BadRequest, message: 'The request body has an unsupported charset; send UTF-8.' };
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return { status: 400, code: HttpErrorCode.BadRequest, message: 'The request body could not be read.' };
  }
  // A path that does not decode (router's URIError carries status 400), and any other client error a middleware raised.
  if (status === 413) return { status, code: HttpErrorCode.PayloadTooLarge, message: 'The request body is too large.' };
  if (status === 404) return { status, code: HttpErrorCode.NotFound, message: 'Nothing is served at this path.' };
  if (status < 500) return { status, code: HttpErrorCode.BadRequest, message: 'Bad request.' };
  return { status: 500, code: HttpErrorCode.Internal, message: 'Internal server error.' };
}

/**
 * The last error handler: maps the error (describeHttpError), logs server faults with their stack (client mistakes
 * at debug only: they are the client's), and answers with the GraphQL-shaped body.
 */
export function httpErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const described = describeHttpError(error);
    if (described.status >= 500) logger.error('request failed', { method: req.method, path: req.path, error });
    else
      logger.debug('bad request', { method: req.method, path: req.path, code: described.code, reason: error instanceof Error ? error.message : String(error) });
    sendHttpError(res, described.status, described.code, described.message, described.extensions);
  };
}
