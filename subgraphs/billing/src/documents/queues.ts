import { z } from '@saldo/config';
import { defineQueue } from '@saldo/jobs';

/**
 * The documents module's durable jobs (@saldo/jobs, pg-boss in billing's control database). Every job is idempotent:
 * a document is unique by its cause (source key), a ledger credit by its idempotency key.
 */
const retry = { limit: 8, delaySeconds: 5, backoff: true, maxDelaySeconds: 3600 } as const;

/** The invoice of one credited top-up (sent by the transaction.posted consumer, once per ledger entry). */
export const topUpInvoiceQueue = defineQueue({
  name: 'billing.documents.top-up-invoice',
  payload: z.object({ tenantId: z.uuid(), entryId: z.uuid() }),
  retry,
});

/** The credit note of one booked Stripe refund. */
export const refundCreditNoteQueue = defineQueue({
  name: 'billing.documents.refund-credit-note',
  payload: z.object({ tenantId: z.uuid(), entryId: z.uuid() }),
  retry,
});

/** The prepaid-balance credit of a goodwill credit note (sent in the credit note's own transaction). */
export const creditNoteLedgerQueue = defineQueue({
  name: 'billing.documents.credit-note-ledger',
  payload: z.object({ documentId: z.uuid() }),
  retry,
});

/** The monthly run: enqueues one statement job per tenant for `period` (default: the month before the run). */
export const statementRunQueue = defineQueue({
  name: 'billing.documents.statement-run',
  payload: z.object({
    period: z
      .string()
      .regex(/^\d{4}-\d{2}$/)
      .optional(),
  }),
  policy: 'singleton',
  retry,
  expireInSeconds: 1800,
});

/** One tenant's statement for one month. */
export const statementQueue = defineQueue({
  name: 'billing.documents.statement',
  payload: z.object({ tenantId: z.uuid(), period: z.string().regex(/^\d{4}-\d{2}$/) }),
  retry,
});

/** Fetches a branding logo into document_logo (kept off the event path: a slow logo host never holds up the bus). */
export const brandingLogoQueue = defineQueue({
  name: 'billing.documents.branding-logo',
  payload: z.object({ level: z.enum(['PARTNER', 'TENANT']), ownerId: z.uuid(), url: z.string().min(1).max(2048) }),
  policy: 'stately',
  // A logo host that is down fails the job (DEPENDENCY_UNAVAILABLE) and the logo is fetched only by a retry until the
  // branding changes again: twelve attempts (30 s doubling to 10 min) ride out an outage of about 1.5 hours, not 3.5 min.
  retry: { limit: 12, delaySeconds: 30, backoff: true, maxDelaySeconds: 600 },
});

export const DOCUMENT_QUEUES = [topUpInvoiceQueue, refundCreditNoteQueue, creditNoteLedgerQueue, statementRunQueue, statementQueue, brandingLogoQueue] as const;
