import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import type { StoredDocument } from '../journal.js';
import type { DocumentKind } from '../model.js';
import type { DocumentService } from '../services/document-service.js';

/** The documents module's services, as billing's composed services carry them. */
export interface DocumentServices {
  documents: DocumentService;
}

export type DocumentsContext = SubgraphContext<DocumentServices>;

/** Documents by id: every document read in one request is one query. */
export function documentLoader(ctx: DocumentsContext): Loader<string, StoredDocument | null> {
  return ctx.loader<string, StoredDocument | null>('documents', async (ids) => {
    const found = new Map((await ctx.services.documents.getMany(ids)).map((document) => [document.id, document]));
    return ids.map((id) => found.get(id) ?? null);
  });
}

export interface DocumentPageQuery {
  tenantId: string;
  first: number;
  afterId: string | null;
  kind: DocumentKind | null;
  from: string | null;
  to: string | null;
}

/** Tenant.documents of every tenant in one request: one query per distinct (first, after, kind, from, to). */
export function documentPageLoader(ctx: DocumentsContext): Loader<DocumentPageQuery, StoredDocument[]> {
  return ctx.loader<DocumentPageQuery, StoredDocument[]>(
    'documentPages',
    async (queries) => {
      const groups = new Map<string, DocumentPageQuery[]>();
      for (const query of queries) {
        const key = JSON.stringify([query.first, query.afterId, query.kind, query.from, query.to]);
        groups.set(key, [...(groups.get(key) ?? []), query]);
      }
      const results = new Map<DocumentPageQuery, StoredDocument[]>();
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const [{ first, afterId, kind, from, to }] = group as [DocumentPageQuery];
          const pages = await ctx.services.documents.pages(
            group.map((query) => query.tenantId),
            { first, afterId, kind, from, to },
          );
          for (const query of group) results.set(query, pages.get(query.tenantId) ?? []);
        }),
      );
      return queries.map((query) => results.get(query) ?? []);
    },
    { cacheKeyFn: (query) => JSON.stringify(query) as unknown as DocumentPageQuery },
  );
}

/** Buyer references of every tenant in one request: one query per shard. */
export function buyerReferenceLoader(ctx: DocumentsContext): Loader<string, string | null> {
  return ctx.loader<string, string | null>('buyerReferences', async (tenantIds) => {
    const found = await ctx.services.documents.buyerReferences(tenantIds);
    return tenantIds.map((id) => found.get(id) ?? null);
  });
}
