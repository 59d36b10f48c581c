import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSmtpSink, type SmtpSink } from '@saldo/testing';
import { Mailer, type MailMessage } from './mailer.js';

const mail = (index: number, to = [`t${index}@burst.test`]): MailMessage => ({
  to,
  fromName: 'Saldo',
  replyTo: null,
  subject: `Guthaben niedrig ${index}`,
  text: `Mail ${index}`,
  html: `<p>Mail ${index}</p>`,
  attachments: [],
  messageId: `0190a3c4-0000-7000-8000-${String(index).padStart(12, '0')}.email`,
});

describe('the mailer sends from its SMTP thread (real SMTP server, parsed by mailparser)', () => {
  let smtp: SmtpSink;
  let mailer: Mailer;
  before(async () => {
    smtp = await startSmtpSink();
    mailer = new Mailer({ url: smtp.url, fromAddress: 'notify@saldo.test', maxConnections: 4, timeoutMs: 5_000 });
  });
  after(async () => {
    await mailer.close();
    await smtp.close();
  });

  it('delivers a burst larger than the pool exactly once each, every send answered with the server reply', async () => {
    const count = 200;
    const results = await Promise.all(Array.from({ length: count }, (_value, index) => mailer.send(mail(index))));
    assert.deepEqual(
      results.filter((result) => !result.ok),
      [],
    );
    assert.ok(results.every((result) => result.responseCode === 250));
    const received = await smtp.waitFor(count);
    const subjects = received.map((entry) => entry.parsed.subject);
    assert.equal(new Set(subjects).size, count, 'no mail twice');
    assert.deepEqual(new Set(subjects), new Set(Array.from({ length: count }, (_value, index) => `Guthaben niedrig ${index}`)));
    assert.deepEqual(received.find((entry) => entry.parsed.subject === 'Guthaben niedrig 7')?.to, ['t7@burst.test']);
  });
});

describe('a refusal from the SMTP server', () => {
  let smtp: SmtpSink;
  let mailer: Mailer;
  before(async () => {
    smtp = await startSmtpSink({ refuseRecipient: (address) => address.endsWith('@refused.test') });
    mailer = new Mailer({
      url: smtp.url,
      fromAddress: 'notify@saldo.test',
      maxConnections: 2,
      timeoutMs: 5_000,
      breaker: { failureThreshold: 2, halfOpenAfterMs: 60_000 },
    });
  });
  after(async () => {
    await mailer.close();
    await smtp.close();
  });

  it('reports the code and keeps the circuit closed: the next mail goes out', async () => {
    for (const index of [1, 2, 3]) {
      const refused = await mailer.send(mail(index, ['nobody@refused.test']));
      assert.equal(refused.ok, false);
      assert.equal(refused.responseCode, 550);
      assert.match(refused.error ?? '', /mailbox unavailable/);
    }
    assert.equal(mailer.guard.state, 'closed');
    const sent = await mailer.send(mail(4));
    assert.equal(sent.ok, true, sent.error ?? undefined);
    assert.equal((await smtp.waitFor(1))[0]!.parsed.subject, 'Guthaben niedrig 4');
  });
});

describe('an SMTP server that is down', () => {
  it('fails the send with no reply code, and the mailer closes cleanly afterwards', async () => {
    const gone = await startSmtpSink();
    await gone.close();
    const mailer = new Mailer({ url: gone.url, fromAddress: 'notify@saldo.test', maxConnections: 1, timeoutMs: 2_000 });
    try {
      const result = await mailer.send(mail(1));
      assert.equal(result.ok, false);
      assert.equal(result.responseCode, null);
      assert.match(result.error ?? '', /ECONNREFUSED|connect/i);
    } finally {
      await mailer.close();
    }
  });
});
