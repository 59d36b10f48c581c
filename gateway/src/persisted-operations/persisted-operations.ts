import type { NextFunction, Request, Response } from 'express';
import { connectRedis, type RedisConnection } from '@saldo/redis';
import type { Logger } from '@saldo/service';
import { canonicalText, sha256Hex, type PersistedQueryManifest } from './manifest.js';

/**
 * Stable error codes of persisted operations (extensions.code):
 * - PERSISTED_QUERY_NOT_FOUND (HTTP 200, message `PersistedQueryNotFound`, Apollo's APQ protocol): the hash is not
 *   known; an APQ client sends it again with the query text.
 * - PERSISTED_QUERY_NOT_ALLOWED (HTTP 400): trusted-documents mode, and the operation is not in the manifest.
 * - PERSISTED_QUERY_HASH_MISMATCH (HTTP 400): the query text does not have the SHA-256 the request claims.
 * - PERSISTED_QUERY_NOT_SUPPORTED (HTTP 400): persisted queries are off, or the extension's version is not 1.
 */
export const PersistedQueryCode = {
  NotFound: 'PERSISTED_QUERY_NOT_FOUND',
  NotAllowed: 'PERSISTED_QUERY_NOT_ALLOWED',
  HashMismatch: 'PERSISTED_QUERY_HASH_MISMATCH',
  NotSupported: 'PERSISTED_QUERY_NOT_SUPPORTED',
} as const;

export type PersistedQueryMode = 'off' | 'apq' | 'trusted';

export interface PersistedOperationError {
  code: (typeof PersistedQueryCode)[keyof typeof PersistedQueryCode];
  message: string;
  status: number;
}

/** What a request carries: GraphQL-over-HTTP body fields (or GET parameters, or a graphql-ws subscribe payload). */
export interface OperationRequest {
  query?: unknown;
  operationName?: unknown;
  extensions?: unknown;
  /** The trusted-documents convention of GraphQL over HTTP (`documentId`, optionally `sha256:` prefixed). */
  documentId?: unknown;
}

export type Resolution = { query: string | undefined } | { error: PersistedOperationError };

const notFound = (): PersistedOperationError => ({ code: PersistedQueryCode.NotFound, message: 'PersistedQueryNotFound', status: 200 });

/** Registered APQ documents: an in-process LRU, backed by Redis (shared by every gateway instance) when configured. */
class ApqStore {
  private readonly local = new Map<string, string>();
  constructor(
    private readonly maxEntries: number,
    private readonly ttlSeconds: number,
    private readonly redis: RedisConnection | undefined,
    private readonly logger: Logger,
  ) {}

  private remember(hash: string, query: string): void {
    this.local.delete(hash);
    this.local.set(hash, query);
    if (this.local.size > this.maxEntries) this.local.delete(this.local.keys().next().value!);
  }

  async get(hash: string): Promise<string | undefined> {
    const hit = this.local.get(hash);
    if (hit !== undefined) {
      this.remember(hash, hit);
      return hit;
    }
    if (!this.redis) return undefined;
    // Redis down or slow: a miss, and the client sends the text again (the protocol heals itself).
    const shared = await this.redis.redis.get(`saldo:apq:${hash}`).catch(() => null);
    if (shared !== null && sha256Hex(shared) === hash) this.remember(hash, shared);
    return shared ?? undefined;
  }

  async set(hash: string, query: string): Promise<void> {
    if (this.local.get(hash) === query) return;
    this.remember(hash, query);
    await this.redis?.redis
      .set(`saldo:apq:${hash}`, query, 'EX', this.ttlSeconds)
      .catch((error: unknown) => this.logger.debug('apq: redis set failed', { error }));
  }
}

export interface PersistedOperationsOptions {
  mode: PersistedQueryMode;
  /** trusted: the operations allowed. */
  manifest?: PersistedQueryManifest;
  apqMaxEntries?: number;
  apqTtlSeconds?: number;
  redisUrl?: string | undefined;
  logger: Logger;
}

/**
 * Automatic persisted queries (Apollo's protocol: `extensions.persistedQuery { version: 1, sha256Hash }`) and trusted
 * documents (only the manifest's operations run). Resolves a request to the query text Apollo should execute, or to an
 * error; the persistedQuery extension is consumed here (Apollo Server's own APQ is switched off: one implementation).
 */
export class PersistedOperations {
  private readonly store: ApqStore | undefined;
  private readonly trusted = new Map<string, string>();
  private readonly redis: RedisConnection | undefined;

  constructor(private readonly options: PersistedOperationsOptions) {
    if (options.mode === 'trusted') {
      if (!options.manifest) throw new Error('trusted documents need a manifest');
      for (const operation of options.manifest.operations) this.trusted.set(operation.id, operation.body);
    }
    if (options.mode === 'apq') {
      this.redis = options.redisUrl ? connectRedis(options.redisUrl, { name: 'saldo-gateway-apq', logger: options.logger, commandTimeoutMs: 250 }) : undefined;
      this.store = new ApqStore(options.apqMaxEntries ?? 2_000, options.apqTtlSeconds ?? 86_400, this.redis, options.logger);
    }
  }

  get mode(): PersistedQueryMode {
    return this.options.mode;
  }

  /** Operations the manifest allows (trusted mode). */
  get trustedCount(): number {
    return this.trusted.size;
  }

  async resolve(request: OperationRequest): Promise<Resolution> {
    const query = typeof request.query === 'string' && request.query.length > 0 ? request.query : undefined;
    const persisted = (request.extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | undefined)?.persistedQuery;
    let hash: string | undefined;
    if (persisted !== undefined) {
      if (this.options.mode === 'off') return { error: { code: PersistedQueryCode.NotSupported, message: 'PersistedQueryNotSupported', status: 400 } };
      if (persisted.version !== 1 || typeof persisted.sha256Hash !== 'string') {
        return {
          error: { code: PersistedQueryCode.NotSupported, message: 'Unsupported persisted query: version 1 with a sha256Hash is required.', status: 400 },
        };
      }
      hash = persisted.sha256Hash.toLowerCase();
    } else if (typeof request.documentId === 'string') {
      hash = request.documentId.replace(/^sha256:/i, '').toLowerCase();
    }
    if (hash !== undefined && query !== undefined && sha256Hex(query) !== hash) {
      return { error: { code: PersistedQueryCode.HashMismatch, message: 'The query does not have the SHA-256 hash the request names.', status: 400 } };
    }

    if (this.options.mode === 'trusted') {
      if (query === undefined) {
        if (hash === undefined) return { query: undefined };
        const body = this.trusted.get(hash);
        return body === undefined ? { error: notFound() } : { query: body };
      }
      if (this.trusted.has(hash ?? sha256Hex(query))) return { query };
      // The same operation written with other whitespace or fragment order is the same trusted operation.
      const canonical = canonicalText(query, typeof request.operationName === 'string' ? request.operationName : undefined);
      if (canonical !== undefined && this.trusted.has(sha256Hex(canonical))) return { query: canonical };
      return { error: { code: PersistedQueryCode.NotAllowed, message: 'This operation is not in the trusted documents of this gateway.', status: 400 } };
    }

    if (this.options.mode === 'apq' && hash !== undefined) {
      if (query === undefined) {
        const stored = await this.store!.get(hash);
        return stored === undefined ? { error: notFound() } : { query: stored };
      }
      await this.store!.set(hash, query);
    }
    return { query };
  }

  /**
   * Express middleware for GraphQL over HTTP (POST bodies and GET parameters): resolves the operation, replaces the
   * request's query with it and drops the persistedQuery extension, or answers the error GraphQL-shaped.
   */
  middleware() {
    return async (request: Request, response: Response, next: NextFunction): Promise<void> => {
      try {
        const get = request.method === 'GET';
        const carrier = (get ? request.query : request.body) as Record<string, unknown> | undefined;
        if (!carrier || typeof carrier !== 'object' || Array.isArray(carrier)) return next();
        let extensions = carrier.extensions;
        if (get && typeof extensions === 'string') {
          try {
            extensions = JSON.parse(extensions) as unknown;
          } catch {
            return next(); // Apollo answers the malformed parameter
          }
        }
        if (
          this.options.mode !== 'trusted' &&
          (extensions as { persistedQuery?: unknown } | undefined)?.persistedQuery === undefined &&
          carrier.documentId === undefined
        )
          return next();
        const resolution = await this.resolve({ query: carrier.query, operationName: carrier.operationName, extensions, documentId: carrier.documentId });
        if ('error' in resolution) {
          response.status(resolution.error.status).json({ errors: [{ message: resolution.error.message, extensions: { code: resolution.error.code } }] });
          return;
        }
        if (resolution.query !== undefined) {
          const { persistedQuery: _consumed, ...rest } = (extensions ?? {}) as Record<string, unknown>;
          if (get) {
            // Apollo's Express integration reads GET parameters from req.url: rewrite its search part.
            const [path, search = ''] = request.url.split('?', 2);
            const params = new URLSearchParams(search);
            params.set('query', resolution.query);
            params.delete('documentId');
            if (Object.keys(rest).length > 0) params.set('extensions', JSON.stringify(rest));
            else params.delete('extensions');
            request.url = `${path}?${params.toString()}`;
          } else {
            carrier.query = resolution.query;
            delete carrier.documentId;
            if (carrier.extensions !== undefined) carrier.extensions = rest;
          }
        }
        next();
      } catch (error) {
        next(error);
      }
    };
  }

  async close(): Promise<void> {
    await this.redis?.close();
  }
}
