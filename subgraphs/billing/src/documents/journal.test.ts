import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { MikroORM } from '@mikro-orm/postgresql';
import { dropDatabases, ensureDatabases, migrate } from '@saldo/sharding';
import { TEST_POSTGRES_URL, testLogger, uniquePrefix } from '@saldo/testing';
import { invoiceRequest, journalOver, openJournalDatabase } from './journal-test-support.js';
import { DocumentKind } from './model.js';
import { formatDocumentNumber } from './numbering.js';
import { SAMPLE_ISSUER } from './samples.js';

const url = `${TEST_POSTGRES_URL}/${uniquePrefix('journal')}`;
let orm: MikroORM;

before(async () => {
  await ensureDatabases([url]);
  orm = await openJournalDatabase(url, testLogger());
  await migrate(orm);
});
after(async () => {
  await orm?.close();
  await dropDatabases([url]);
});

async function numbersOf(issuerId: string, series: string): Promise<string[]> {
  const rows = await orm.em
    .fork()
    .execute<{ number: string }[]>('select number from billing_document where issuer_id = ? and series = ? order by sequence', [issuerId, series]);
  return rows.map((row) => row.number);
}

async function counter(issuerId: string, series: string, year: number): Promise<bigint | null> {
  const [row] = await orm.em
    .fork()
    .execute<{ last_value: string }[]>('select last_value from document_number_counter where issuer_id = ? and series = ? and year = ?', [
      issuerId,
      series,
      year,
    ]);
  return row ? BigInt(row.last_value) : null;
}

/** Waits until a session of this test's database waits for a row lock (the second issuer queuing on the counter). */
async function waitForLockWaiter(): Promise<void> {
  const database = url.slice(url.lastIndexOf('/') + 1);
  for (;;) {
    const [row] = await orm.em
      .fork()
      .execute<{ waiting: string }[]>(`select count(*) as waiting from pg_stat_activity where datname = ? and wait_event_type = 'Lock'`, [database]);
    if (Number(row!.waiting) > 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const issuer = (id: string) => ({ ...SAMPLE_ISSUER, id });

describe('document numbers: gapless per issuer, series and year, assigned in the issuing transaction', () => {
  it('50 concurrent issuances get 50 consecutive numbers, each with its document and one document.issued event', async () => {
    const journal = journalOver(orm);
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => journal.issue(invoiceRequest(`concurrent-${i}`, undefined, issuer('issuer-concurrent')))),
    );
    assert.ok(outcomes.every((outcome) => outcome.status === 'ISSUED'));
    const expected = Array.from({ length: 50 }, (_, i) => formatDocumentNumber('RE', 2026, BigInt(i + 1)));
    assert.deepEqual(outcomes.map((outcome) => outcome.document.number).sort(), expected);
    assert.deepEqual(await numbersOf('issuer-concurrent', 'RE'), expected);
    const [events] = await orm.em
      .fork()
      .execute<{ count: string }[]>(`select count(*) from outbox_event where type = 'document.issued' and payload->>'issuerId' = 'issuer-concurrent'`);
    assert.equal(Number(events!.count), 50);
  });

  it('a process killed between taking its number and COMMIT leaves no gap: the next document gets that number', async () => {
    const journal = journalOver(orm);
    const id = 'platform';
    await journal.issue(invoiceRequest('before-crash'));
    const child = spawn(process.execPath, [fileURLToPath(new URL('./journal-crash-child.js', import.meta.url)), url, 'crashing'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const taken = (JSON.parse(line.toString()) as { number: string }).number;
    assert.equal(taken, formatDocumentNumber('RE', 2026, 2n), 'the child holds number 2, uncommitted');
    // While the child holds the counter row, another issuance of the series waits for it.
    let settled = false;
    const next = journal.issue(invoiceRequest('after-crash')).finally(() => (settled = true));
    await waitForLockWaiter();
    assert.equal(settled, false, 'the counter row is locked by the uncommitted issuance');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const outcome = await next;
    assert.equal(outcome.document.number, taken, 'the crashed transaction gave its number back');
    assert.deepEqual(await numbersOf(id, 'RE'), [formatDocumentNumber('RE', 2026, 1n), taken]);
    assert.equal(await journal.bySourceKey(orm.em.fork(), 'crashing'), null, 'nothing of the crashed issuance remains');
  });

  it('a failure inside the transaction (composing, checking, before COMMIT) uses no number', async () => {
    const failing = journalOver(orm, async () => {
      throw new Error('crash before commit');
    });
    const journal = journalOver(orm);
    const mine = issuer('issuer-failures');
    await journal.issue(invoiceRequest('f-1', undefined, mine));
    await assert.rejects(failing.issue(invoiceRequest('f-2', undefined, mine)), /crash before commit/);
    await assert.rejects(
      journal.issue({
        ...invoiceRequest('f-3', undefined, mine),
        compose: () => {
          throw new Error('missing issuer data');
        },
      }),
      /missing issuer data/,
    );
    await assert.rejects(
      journal.issue({
        ...invoiceRequest('f-4', undefined, mine),
        check: async () => {
          throw new Error('above what remains creditable');
        },
      }),
      /remains creditable/,
    );
    assert.equal(await counter('issuer-failures', 'RE', 2026), 1n);
    const next = await journal.issue(invoiceRequest('f-5', undefined, mine));
    assert.equal(next.document.number, 'RE-2026-000002');
  });

  it('issuing the same cause twice, even concurrently, gives one document and uses one number', async () => {
    const journal = journalOver(orm);
    const mine = issuer('issuer-idempotent');
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => journal.issue(invoiceRequest('same-top-up', undefined, mine))));
    assert.equal(new Set(outcomes.map((outcome) => outcome.document.id)).size, 1);
    assert.equal(outcomes.filter((outcome) => outcome.status === 'ISSUED').length, 1);
    assert.equal(await counter('issuer-idempotent', 'RE', 2026), 1n);
    assert.equal((await journal.issue(invoiceRequest('other-top-up', undefined, mine))).document.number, 'RE-2026-000002');
  });

  it('series are per issuer and per year of the Berlin calendar', async () => {
    const journal = journalOver(orm);
    const a = await journal.issue(invoiceRequest('year-a', new Date('2026-12-31T22:59:59Z'), issuer('issuer-years')));
    const b = await journal.issue(invoiceRequest('year-b', new Date('2026-12-31T23:00:00Z'), issuer('issuer-years')));
    const c = await journal.issue(invoiceRequest('year-c', new Date('2026-12-31T23:00:00Z'), issuer('issuer-other')));
    assert.equal(a.document.number, 'RE-2026-000001');
    assert.equal(b.document.number, 'RE-2027-000001', '00:00 on 1 January in Berlin starts the new year');
    assert.equal(c.document.number, 'RE-2027-000001', 'another issuer has its own series');
    assert.equal(b.document.kind, DocumentKind.INVOICE);
  });

  it('documents are immutable: the database refuses UPDATE and DELETE', async () => {
    const journal = journalOver(orm);
    const { document } = await journal.issue(invoiceRequest('immutable', undefined, issuer('issuer-immutable')));
    const em = orm.em.fork();
    await assert.rejects(em.execute('update billing_document set gross_minor = 1, net_minor = 1, vat_minor = 0 where id = ?', [document.id]), /immutable/);
    await assert.rejects(em.execute('delete from billing_document where id = ?', [document.id]), /immutable/);
    const [content] = await journal.content([document]);
    assert.equal(content!.number, document.number);
    assert.equal(content!.totals.grossMinor, 11_900n);
    assert.ok(content!.branding.logo?.data.equals(SAMPLE_ISSUER.branding.logo!.data), 'the logo comes back from document_logo');
  });
});
