import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
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

  for (const format of ['json', 'pretty'] as const) {
    it(`goes on without throwing once stdout's reader is gone (${format}): lines are dropped, the process carries on`, async () => {
      // A process whose stdout pipe's reader went away (EPIPE; a closed terminal gives EIO): it logs, then says on
      // stderr that it got past the logging, and exits 0.
      const logger = fileURLToPath(new URL('./logger.js', import.meta.url));
      const script = `
        const { createLogger } = await import(${JSON.stringify(logger)});
        const log = createLogger({ service: 'test', format: ${JSON.stringify(format)} });
        process.stderr.write('ready\\n');
        process.stdin.once('data', () => {
          for (let i = 0; i < 200; i += 1) log.info('line ' + i);
          // After the write errors' 'error' events (emitted on the next tick).
          setImmediate(() => { log.info('later'); process.stderr.write('carried on\\n'); });
        });`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = once(child, 'exit');
      await once(child.stderr, 'data');
      child.stdout.destroy();
      child.stdin.end('go\n');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr);
      assert.equal(stderr, 'ready\ncarried on\n');
    });
  }
});
