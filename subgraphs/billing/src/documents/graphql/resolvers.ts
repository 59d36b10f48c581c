import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ErrorCode, SaldoError, assertUuid, decodeCursor, encodeCursor, isUuid, pageSize, toConnection } from '@saldo/graphql';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import { TenantStub } from '../../shared/graphql.js';
import type { StoredDocument } from '../journal.js';
import { DocumentKind } from '../model.js';
import { buyerReferenceLoader, documentLoader, documentPageLoader, type DocumentsContext } from './context.js';
import { DocumentConnection, DocumentType, IssueCreditNoteInput } from './types.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function dayArg(value: string | null | undefined, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (!DAY.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
    throw new SaldoError(ErrorCode.BadUserInput, `${field}: must be a date, YYYY-MM-DD`, { field });
  return value;
}

function toType(ctx: DocumentsContext, stored: StoredDocument): DocumentType {
  return DocumentType.from(stored, ctx.services.documents.figures(stored));
}

@Resolver(() => DocumentType)
export class DocumentResolver {
  @Query(() => DocumentType, { nullable: true, description: 'A document by id; null when there is none or it is not yours.' })
  async document(@Arg('id', () => ID) id: string, @Ctx() ctx: DocumentsContext): Promise<DocumentType | null> {
    ctx.scope.requireAuthenticated();
    const stored = await documentLoader(ctx).load(assertUuid(id, 'id'));
    if (!stored || !(await ctx.scope.allows(stored.tenantId, 'read'))) return null;
    return toType(ctx, stored);
  }

  @FieldResolver(() => String, {
    description: 'A short-lived signed link to the PDF (PDF/A-3; invoices and credit notes carry their e-invoice as factur-x.xml).',
  })
  pdfUrl(@Root() document: DocumentType, @Ctx() ctx: DocumentsContext): string {
    return ctx.services.documents.links.url(document.id, document.stored.tenantId, 'pdf');
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'A short-lived signed link to the EN 16931 CII XML (XRechnung with a buyer reference); null for statements.',
  })
  xmlUrl(@Root() document: DocumentType, @Ctx() ctx: DocumentsContext): string | null {
    return document.kind === DocumentKind.STATEMENT ? null : ctx.services.documents.links.url(document.id, document.stored.tenantId, 'xml');
  }

  @FieldResolver(() => DocumentType, { nullable: true, description: 'The invoice a credit note corrects.' })
  async correctedDocument(@Root() document: DocumentType, @Ctx() ctx: DocumentsContext): Promise<DocumentType | null> {
    if (!document.stored.correctsId) return null;
    const stored = await documentLoader(ctx).load(document.stored.correctsId);
    return stored && (await ctx.scope.allows(stored.tenantId, 'read')) ? toType(ctx, stored) : null;
  }

  @FieldResolver(() => TenantStub)
  tenant(@Root() document: DocumentType): TenantStub {
    return Object.assign(new TenantStub(), { id: document.stored.tenantId });
  }

  @Mutation(() => DocumentType, {
    description:
      "Issues a credit note against an invoice (goodwill, a correction): the net amount plus VAT at the invoice's rate, credited to the prepaid balance. " +
      "Platform admins and the tenant's reselling partner; never above what remains creditable.",
  })
  async issueCreditNote(@Arg('input', () => IssueCreditNoteInput) input: IssueCreditNoteInput, @Ctx() ctx: DocumentsContext): Promise<DocumentType> {
    ctx.scope.requireAuthenticated();
    const role = ctx.scope.identity.role;
    if (role !== 'platform-admin' && role !== 'partner')
      throw new SaldoError(ErrorCode.Forbidden, 'Only platform operators and the reselling partner issue credit notes.');
    const invoice = isUuid(input.documentId) ? await documentLoader(ctx).load(input.documentId) : null;
    // Unknown and foreign documents read the same.
    if (!invoice || !(await ctx.scope.allows(invoice.tenantId, 'write'))) {
      throw billingError(BillingErrorCode.DocumentNotFound, `No document ${input.documentId}.`, { field: 'documentId' });
    }
    return toType(ctx, await ctx.services.documents.issueCreditNote(input));
  }

  @Mutation(() => Int, {
    description: 'Platform operators: runs the monthly statements for a month (YYYY-MM; default the previous one) now. Returns the tenants covered.',
  })
  async runMonthlyStatements(@Ctx() ctx: DocumentsContext, @Arg('period', () => String, { nullable: true }) period?: string | null): Promise<number> {
    ctx.scope.requirePlatformAdmin();
    return ctx.services.documents.runStatements(period ?? null);
  }
}

@Resolver(() => TenantStub)
export class TenantDocumentsResolver {
  @FieldResolver(() => DocumentConnection, { description: "The tenant's invoices, credit notes and statements, newest first." })
  async documents(
    @Root() tenant: TenantStub,
    @Ctx() ctx: DocumentsContext,
    // type-graphql prints arguments last parameter first: this order gives documents(first, after, kind, from, to).
    @Arg('to', () => String, { nullable: true, description: 'Only documents issued on or before this day (YYYY-MM-DD).' }) to?: string | null,
    @Arg('from', () => String, { nullable: true, description: 'Only documents issued on or after this day (YYYY-MM-DD).' }) from?: string | null,
    @Arg('kind', () => DocumentKind, { nullable: true }) kind?: DocumentKind | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20).' }) first?: number | null,
  ): Promise<DocumentConnection> {
    const tenantId = assertUuid(tenant.id, 'id');
    const size = pageSize(first);
    const afterId = after ? decodeCursor(after, isUuid) : null;
    const filter = { from: dayArg(from, 'from'), to: dayArg(to, 'to') };
    await ctx.scope.requireTenant(tenantId, 'read');
    const rows = await documentPageLoader(ctx).load({ tenantId, first: size, afterId, kind: kind ?? null, ...filter });
    return toConnection(
      rows.slice(0, size).map((row) => toType(ctx, row)),
      rows.length > size,
      (document) => encodeCursor(document.id),
    ) as DocumentConnection;
  }

  @FieldResolver(() => String, { nullable: true, description: "Leitweg-ID (buyer reference): with it the tenant's invoices are XRechnung." })
  async buyerReference(@Root() tenant: TenantStub, @Ctx() ctx: DocumentsContext): Promise<string | null> {
    await ctx.scope.requireTenant(assertUuid(tenant.id, 'id'), 'read');
    return buyerReferenceLoader(ctx).load(tenant.id);
  }

  @Mutation(() => TenantStub, {
    description: "Sets the tenant's buyer reference (a Leitweg-ID; null clears it): from then on its invoices and credit notes are XRechnung.",
  })
  async setBuyerReference(
    @Arg('tenantId', () => ID) tenantId: string,
    @Ctx() ctx: DocumentsContext,
    @Arg('buyerReference', () => String, { nullable: true }) buyerReference?: string | null,
  ): Promise<TenantStub> {
    await ctx.scope.requireTenant(assertUuid(tenantId, 'tenantId'), 'write');
    await ctx.services.documents.setBuyerReference(tenantId, buyerReference ?? null);
    return Object.assign(new TenantStub(), { id: tenantId });
  }
}
