import { schedule, work } from '@saldo/jobs';
import type { SubgraphRuntime } from '@saldo/subgraph';
import type { BillingConfig } from '../config.js';
import type { LedgerService } from '../ledger/index.js';
import type { Clock } from '../shared/clock.js';
import type { BillingModule } from '../shared/module.js';
import { platformIssuer } from './config.js';
import { DownloadLinks } from './download-links.js';
import { BillingCustomer, BrandingRecord, IssuerProfileRecord } from './entities/projections.js';
import { DocumentLogo, DocumentNumberCounter, DocumentRecord } from './entities/document-record.js';
import type { DocumentServices } from './graphql/context.js';
import { DocumentResolver, TenantDocumentsResolver } from './graphql/resolvers.js';
import { mountDocumentDownloads } from './http/downloads.js';
import { DocumentJournal, type BeforeCommitHook } from './journal.js';
import { documentsGlobalMigrations, documentsShardMigrations } from './migrations.js';
import { warmUpRenderer } from './pdf/render.js';
import {
  DOCUMENT_QUEUES,
  brandingLogoQueue,
  creditNoteLedgerQueue,
  refundCreditNoteQueue,
  statementQueue,
  statementRunQueue,
  topUpInvoiceQueue,
} from './queues.js';
import { DocumentService } from './services/document-service.js';
import { logoGuards, storeBrandingLogo } from './services/logos.js';
import { breakerSettings } from '@saldo/resilience';
import { PartiesReader } from './services/parties.js';
import { subscribeDocumentParties, subscribeDocumentPostings } from './services/projections.js';

/**
 * Invoices for top-ups, credit notes for refunds and goodwill, monthly statements: numbered in the issuing transaction,
 * immutable, rendered on request as PDF/A-3 (Factur-X/ZUGFeRD hybrids with EN 16931 CII XML) and downloadable through
 * short-lived signed links. docs/decisions/0010-documents.md.
 */
export const documentsModule: BillingModule<DocumentServices> = {
  name: 'documents',
  shard: { entities: [BillingCustomer], migrations: documentsShardMigrations },
  global: { entities: [DocumentRecord, DocumentNumberCounter, DocumentLogo, IssuerProfileRecord, BrandingRecord], migrations: documentsGlobalMigrations },
  resolvers: [DocumentResolver, TenantDocumentsResolver],
  subscribe: (services, runtime) => [
    subscribeDocumentParties(runtime.bus, runtime.db, runtime.jobs, runtime.logger.child('documents')),
    subscribeDocumentPostings(runtime.bus, services.documents),
  ],
  configureHttp: (app, services, runtime) => mountDocumentDownloads(app, services.documents, runtime.logger.child('documents')),
  start: async (services, runtime) => {
    if (!services.documents.enabled) {
      const log = runtime.config.NODE_ENV === 'production' ? runtime.logger.warn : runtime.logger.info;
      log.call(runtime.logger, 'No seller of record configured (ISSUER_*): invoices, credit notes and statements are not issued (MISSING_ISSUER_DATA)');
    } else {
      // The first PDF of a process pays for loading fonts and the layout engine: pay it before the first request.
      await warmUpRenderer();
    }
    return async () => {};
  },
  jobs: {
    queues: DOCUMENT_QUEUES,
    workers: (services, runtime) => {
      const logos = logoGuards(breakerSettings(runtime.config, 'LOGO'));
      return [
        work(topUpInvoiceQueue, async (job) => void (await services.documents.issueTopUpInvoice(job.data.tenantId, job.data.entryId))),
        work(refundCreditNoteQueue, async (job) => void (await services.documents.issueRefundCreditNote(job.data.tenantId, job.data.entryId))),
        work(creditNoteLedgerQueue, (job) => services.documents.postCreditNoteToLedger(job.data.documentId)),
        work(statementRunQueue, async (job) => ({ tenants: await services.documents.runStatements(job.data.period ?? null) })),
        work(statementQueue, async (job) => void (await services.documents.issueStatement(job.data.tenantId, job.data.period)), {
          concurrency: runtime.config.STATEMENT_RUN_CONCURRENCY,
        }),
        work(brandingLogoQueue, (job) => storeBrandingLogo(runtime.db, runtime.logger.child('documents'), job.data, logos, job.signal)),
      ];
    },
    // Statements for the previous month, early on the 1st (Berlin), once across instances.
    schedules: (runtime) => [schedule(statementRunQueue, { cron: runtime.config.STATEMENT_RUN_CRON, tz: 'Europe/Berlin', data: {} })],
  },
};

export interface DocumentOverrides {
  /** Test seam of the journal: runs before COMMIT of every issuance. */
  beforeCommit?: BeforeCommitHook;
}

export function createDocumentServices(
  runtime: SubgraphRuntime<BillingConfig>,
  deps: { ledger: LedgerService; clock: Clock },
  overrides: DocumentOverrides = {},
): DocumentServices {
  const { db, config } = runtime;
  const issuer = platformIssuer(config);
  const links = new DownloadLinks(config.DOCUMENT_URL_SECRET, config.PUBLIC_ORIGIN, config.DOCUMENT_URL_TTL_SECONDS, () => deps.clock.now());
  const eventTtl = config.DOCUMENT_EVENT_URL_TTL_SECONDS;
  const journal = new DocumentJournal(() => db.globalEm(), {
    ...(overrides.beforeCommit ? { beforeCommit: overrides.beforeCommit } : {}),
    // document.issued carries a signed PDF link on the public origin: the notifier attaches the PDF to its mail.
    ...(eventTtl > 0 ? { pdfLink: (documentId: string, tenantId: string) => links.url(documentId, tenantId, 'pdf', eventTtl) } : {}),
  });
  return {
    documents: new DocumentService(
      db,
      journal,
      new PartiesReader(db, issuer),
      deps.ledger,
      runtime.jobs,
      { platformIssuer: issuer, rates: config.VAT_RATES, links },
      runtime.relay,
      runtime.logger.child('documents'),
      deps.clock,
    ),
  };
}
