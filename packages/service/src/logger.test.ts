import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from './logger.js';
import { runWithLogContext } from './log-context.js';

function capture(format: 'json' | 'pretty' = 'json') {
  const lines: string[] = [];
  return { lines, logger: createLogger({ service: 'test', level: 'debug', format, write: (line) => lines.push(line) }) };
}

describe('logger', () => {
  it('writes one JSON object per line with time, level, service and message; debug lines only at debug level', () => {
    const { lines, logger } = capture();
    logger.child('billing').info('posted', { entries: 2, amount: 10n });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line['level'], 'info');
    assert.equal(line['service'], 'billing');
    assert.equal(line['msg'], 'posted');
    assert.equal(line['entries'], 2);
    assert.equal(line['amount'], '10');
    assert.match(String(line['time']), /^\d{4}-\d\d-\d\dT/);
    const quiet: string[] = [];
    createLogger({ service: 'test', level: 'info', format: 'json', write: (text) => quiet.push(text) }).debug('hidden');
    assert.deepEqual(quiet, []);
  });

  it('names the request’s trace and tenant on every line written while serving it', async () => {
    const { lines, logger } = capture();
    await runWithLogContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', tenantId: 'tenant-1' }, async () => {
      await Promise.resolve();
      logger.warn('inside');
    });
    logger.info('outside');
    const [inside, outside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(inside?.['traceId'], '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(inside?.['tenantId'], 'tenant-1');
    assert.equal(outside?.['traceId'], undefined);
  });

  it('never writes secrets, tokens or card numbers, whatever field or message holds them', () => {
    const { lines, logger } = capture();
    const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLWJ5dGVz';
    const apiKey = `saldo_pk_abcdefghijklmnop_${'s'.repeat(43)}`;
    const stripeKey = 'sk_test_51Habcdefghijklmnopqrstuvwx';
    logger.error(`request with Bearer ${jwt} failed`, {
      authorization: `Bearer ${jwt}`,
      headers: { 'x-api-key': apiKey, cookie: 'session=1' },
      stripe: { key: stripeKey, webhookSecret: 'whsec_abc123' },
      card: '4242 4242 4242 4242',
      note: `paid with 4000056655665556, key ${apiKey}`,
      error: new Error(`stripe said no to ${stripeKey}`),
      invoice: '2026-11-29',
    });
    const line = lines[0]!;
    for (const secret of [jwt, apiKey, stripeKey, 'whsec_abc123', '4242 4242 4242 4242', '4000056655665556', 'session=1']) {
      assert.ok(!line.includes(secret), `${secret} in ${line}`);
    }
    assert.match(line, /saldo_pk_abcdefghijklmnop_\[redacted\]/, 'the key id stays (it is not secret and helps support)');
    assert.match(line, /2026-11-29/, 'dates are not card numbers');
  });

  it('lays the same record out for a terminal in pretty format', () => {
    const { lines, logger } = capture('pretty');
    logger.info('listening', { url: 'http://localhost:4000/graphql' });
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[test\] listening url=http:\/\/localhost:4000\/graphql$/);
  });
});
