import { createLogger } from '@saldo/service';
import { invoiceRequest, journalOver, openJournalDatabase } from './journal-test-support.js';

/**
 * Child process of the journal's crash test: issues one invoice and, with its number taken and the document written
 * but not committed, reports the number and waits to be killed (SIGKILL). argv: database URL, source key.
 */
const [url, sourceKey] = process.argv.slice(2) as [string, string];
const orm = await openJournalDatabase(url, createLogger({ service: 'crash-child', level: 'warn' }));
const journal = journalOver(orm, async (_tx, document) => {
  process.stdout.write(`${JSON.stringify({ number: document.number })}\n`);
  await new Promise(() => {});
});
await journal.issue(invoiceRequest(sourceKey));
