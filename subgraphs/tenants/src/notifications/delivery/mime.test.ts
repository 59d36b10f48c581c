import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSmtpSink, type SmtpSink } from '@saldo/testing';
import { Mailer } from './mailer.js';

describe('notification mail as built by the notifier (through a real SMTP server, parsed by mailparser)', () => {
  let smtp: SmtpSink;
  let mailer: Mailer;
  before(async () => {
    smtp = await startSmtpSink();
    mailer = new Mailer({ url: smtp.url, fromAddress: 'notify@saldo.test', maxConnections: 2, timeoutMs: 5_000 });
  });
  after(async () => {
    await mailer.close();
    await smtp.close();
  });

  it('keeps non-ASCII names, long subjects, both parts, attachments and lines starting with a dot intact', async () => {
    const subject = `Grüße von Müller & Söhne: Ihr Guthaben ist niedrig — ${'Überweisung '.repeat(8)}€`;
    const text = 'Zeile eins\n.eine Zeile mit Punkt\n..zwei Punkte\n.\nEnde: 49,90 €\n';
    const html = `<p>${'ä'.repeat(300)}</p><p>Ende</p>`;
    const pdf = Buffer.from(Array.from({ length: 5_000 }, (_value, index) => index % 256));
    const result = await mailer.send({
      to: ['kasse@einmal.test', 'chef@einmal.test'],
      fromName: 'Müller "Voice" & Söhne',
      replyTo: 'hilfe@einmal.test',
      subject,
      text,
      html,
      attachments: [
        { filename: 'RE-2026-000501.pdf', content: pdf, contentType: 'application/pdf' },
        { filename: 'Übersicht März.pdf', content: Buffer.from('%PDF-1.4'), contentType: 'application/pdf' },
      ],
      messageId: '0190a3c4-0000-7000-8000-000000000001.email',
    });
    assert.equal(result.ok, true, result.error ?? undefined);
    assert.equal(result.responseCode, 250);
    const [mail] = await smtp.waitFor(1);
    const parsed = mail!.parsed;
    assert.deepEqual(mail!.to, ['kasse@einmal.test', 'chef@einmal.test']);
    assert.deepEqual(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value.map((entry) => entry.address) : [], ['kasse@einmal.test', 'chef@einmal.test']);
    assert.equal(parsed.from?.value[0]?.name, 'Müller "Voice" & Söhne');
    assert.equal(parsed.from?.value[0]?.address, 'notify@saldo.test');
    assert.equal(parsed.replyTo?.value[0]?.address, 'hilfe@einmal.test');
    assert.equal(parsed.subject, subject);
    assert.equal(parsed.messageId, '<0190a3c4-0000-7000-8000-000000000001.email@saldo.test>');
    assert.ok(parsed.date instanceof Date && Math.abs(parsed.date.getTime() - Date.now()) < 60_000);
    assert.equal(parsed.text, text);
    assert.equal(parsed.html, html);
    assert.equal(parsed.attachments.length, 2);
    assert.equal(parsed.attachments[0]!.filename, 'RE-2026-000501.pdf');
    assert.equal(parsed.attachments[0]!.contentType, 'application/pdf');
    assert.ok(parsed.attachments[0]!.content.equals(pdf));
    assert.equal(parsed.attachments[1]!.filename, 'Übersicht März.pdf');
  });

  it('drops line breaks from header values (no header injection)', async () => {
    const before = smtp.mails.length;
    const result = await mailer.send({
      to: ['kasse@einmal.test'],
      fromName: 'Acme\r\nBcc: victim@evil.test',
      replyTo: null,
      subject: 'Hello\r\nBcc: victim@evil.test',
      text: 'x',
      html: '<p>x</p>',
      attachments: [],
      messageId: '0190a3c4-0000-7000-8000-000000000002.email',
    });
    assert.equal(result.ok, true, result.error ?? undefined);
    const mail = (await smtp.waitFor(before + 1))[before]!;
    assert.equal(mail.parsed.bcc, undefined);
    assert.equal(mail.parsed.subject, 'Hello Bcc: victim@evil.test');
    assert.equal(mail.parsed.from?.value[0]?.name, 'Acme Bcc: victim@evil.test');
    assert.equal(mail.parsed.replyTo, undefined);
  });
});
