import { Migration20261123000100Outbox, Migration20261129120000OutboxTraceparent, OutboxEvent } from '@saldo/events';
import type { Logger } from '@saldo/service';
import { openOrm } from '@saldo/sharding';
import type { MikroORM } from '@mikro-orm/postgresql';
import { composeTopUpInvoice } from './compose.js';
import { DocumentLogo, DocumentNumberCounter, DocumentRecord } from './entities/document-record.js';
import { DocumentJournal, type BeforeCommitHook, type IssueRequest } from './journal.js';
import { Migration20261129001000DocumentJournal } from './migrations.js';
import { DocumentKind } from './model.js';
import { SAMPLE_BRANDING, SAMPLE_CUSTOMERS, SAMPLE_ISSUER, SAMPLE_RATES } from './samples.js';

/** A journal over its own database (the control database's document tables and outbox), for the journal tests. */
export async function openJournalDatabase(url: string, logger: Logger): Promise<MikroORM> {
  return openOrm({
    url,
    entities: [DocumentRecord, DocumentNumberCounter, DocumentLogo, OutboxEvent],
    migrations: [Migration20261123000100Outbox, Migration20261129120000OutboxTraceparent, Migration20261129001000DocumentJournal],
    poolMax: 60,
    logger,
  });
}

export function journalOver(orm: MikroORM, beforeCommit?: BeforeCommitHook): DocumentJournal {
  return new DocumentJournal(() => orm.em.fork(), beforeCommit ? { beforeCommit } : {});
}

/** A top-up invoice request for the sample domestic customer. */
export function invoiceRequest(sourceKey: string, issuedAt = new Date('2026-03-14T09:00:00Z'), issuer = SAMPLE_ISSUER): IssueRequest {
  const customer = SAMPLE_CUSTOMERS.domestic;
  return {
    tenantId: customer.tenantId,
    kind: DocumentKind.INVOICE,
    sourceKey,
    issuer,
    issuedAt,
    compose: ({ id, number }) =>
      composeTopUpInvoice(
        { id, number, issuedAt, issuer, customer, branding: SAMPLE_BRANDING, language: 'de', currency: 'EUR' },
        {
          netMinor: 10_000n,
          paidMinor: 11_900n,
          paidAt: issuedAt,
          paymentReference: `pi_${sourceKey}`,
          accountCredit: { amountMinor: 10_000n, currency: 'EUR' },
        },
        SAMPLE_RATES,
      ),
  };
}
