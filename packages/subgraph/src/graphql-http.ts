import type http from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, type IdentityVerifier } from '@saldo/identity';
import { HttpErrorCode, httpErrorBody, type Logger, type RawHandler } from '@saldo/service';
import { serveObserved } from './observability.js';

/**
 * A subgraph's POST /graphql without Express (docs/decisions/0025-subgraph-request-cost.md). Every federated query
 * makes one such request per subgraph it touches, and Express's router, body-parser and the Apollo integration cost
 * more CPU per request than the subgraph's resolvers. This handler takes the requests the gateway sends — a JSON
 * body (UTF-8, not compressed) with its Content-Length within the limit — and answers them exactly as the Express
 * route does: the gateway-signed identity first (401 UNAUTHENTICATED), then body-parser's JSON rules (strict: an
 * object or array; 400 BAD_REQUEST when it is not JSON), then Apollo Server's own request handling. Anything else
 * (another method, content type, charset, encoding, a chunked or oversized body) it declines before reading a byte,
 * and the Express route serves it as before.
 */
export function graphqlHttpHandler<C extends BaseContext>(options: {
  apollo: ApolloServer<C>;
  identity: IdentityVerifier;
  context: (identity: Identity) => C;
  limitBytes: number;
  logger: Logger;
  /** The subgraph's name (its server spans). */
  service: string;
}): RawHandler {
  const { apollo, identity, context, limitBytes, logger, service } = options;

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let caller: Identity;
    try {
      const header = req.headers[IDENTITY_HEADER];
      caller = await identity.verify(Array.isArray(header) ? header.join(', ') : header);
    } catch (error) {
      writeJson(res, 401, { errors: [{ message: (error as Error).message, extensions: { code: 'UNAUTHENTICATED' } }] });
      return;
    }
    await serveObserved(service, req, res, 'tenantId' in caller ? caller.tenantId : undefined, () => answer(req, res, caller));
  }

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, caller: Identity): Promise<void> {
    const text = await readBody(req);
    if (text === undefined) return;
    let body: unknown;
    try {
      body = parseJsonStrict(text);
    } catch (error) {
      logger.debug('bad request', { method: req.method, path: req.url, code: HttpErrorCode.BadRequest, reason: (error as Error).message });
      writeJson(res, 400, httpErrorBody(HttpErrorCode.BadRequest, 'The request body is not valid JSON.'));
      return;
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: 'POST', headers, search: '', body },
      context: async () => context(caller),
    });
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.setHeader('content-length', Buffer.byteLength(response.body.string));
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return (req, res) => {
    if (req.method !== 'POST' || !isUtf8Json(req.headers['content-type'])) return false;
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
    const length = req.headers['content-length'];
    if (length === undefined || !/^\d+$/.test(length) || Number(length) > limitBytes || req.headers['transfer-encoding'] !== undefined) return false;
    serve(req, res).catch((error: unknown) => {
      logger.error('request failed', { method: req.method, path: req.url, error });
      if (res.headersSent) res.destroy();
      else writeJson(res, 500, httpErrorBody(HttpErrorCode.Internal, 'Internal server error.'));
    });
    return true;
  };
}

/** `application/json`, with no parameter but a UTF-8 charset (what body-parser's json() reads without asking iconv). */
function isUtf8Json(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type, ...parameters] = contentType.split(';');
  if (type!.trim().toLowerCase() !== 'application/json') return false;
  return parameters.every((parameter) => /^\s*charset\s*=\s*"?utf-8"?\s*$/i.test(parameter));
}

/** The body as UTF-8 text (a leading byte order mark dropped, as body-parser's decoding does); undefined if the client went away. */
function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    });
    req.on('error', () => resolve(undefined));
    req.on('aborted', () => resolve(undefined));
  });
}

/** body-parser's strict JSON: empty is {}, otherwise the first non-blank character must open an object or array. */
function parseJsonStrict(text: string): unknown {
  if (text.length === 0) return {};
  const first = /^[ \t\n\r]*(.)/s.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw new SyntaxError('strict violation');
  return JSON.parse(text);
}

function writeJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}
