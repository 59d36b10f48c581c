import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startWebhookReceiver } from '@saldo/testing';
import { UnsafeTargetError, checkTarget, isPublicAddress } from './ssrf.js';
import { WebhookClient } from './webhook-client.js';

const production = { allowPrivate: false };

describe('SSRF guard', () => {
  it('takes only public unicast addresses', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '224.0.0.1',
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) assert.equal(isPublicAddress(address), true, address);
  });

  it('refuses private, loopback and link-local targets, local names and plain http outside development', async () => {
    for (const url of [
      'https://127.0.0.1/h',
      'https://10.0.0.8/h',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/h',
      'https://[::ffff:127.0.0.1]/h',
      'https://localhost/h',
      'https://printer.local/h',
      'http://93.184.216.34/h',
      'https://user:pw@93.184.216.34/h',
    ]) {
      await assert.rejects(checkTarget(new URL(url), production), UnsafeTargetError, url);
    }
    // A name that resolves to loopback is refused after resolving it (every address is checked).
    await assert.rejects(checkTarget(new URL('https://localhost.localdomain/h'), production), UnsafeTargetError);
    await checkTarget(new URL('https://93.184.216.34/h'), production);
    await checkTarget(new URL('http://127.0.0.1:9/h'), { allowPrivate: true });
  });

  it('checks again at delivery time: a private target is never connected to', async () => {
    const receiver = await startWebhookReceiver();
    const client = new WebhookClient({ allowPrivate: false, timeoutMs: 2000, maxSocketsPerHost: 2, userAgent: 'test' });
    try {
      const byAddress = await client.post(receiver.url.replace('http:', 'https:'), '{}', {});
      assert.equal(byAddress.ok, false);
      assert.match(byAddress.error ?? '', /not a public address/);
      const byName = await client.post(receiver.url.replace('http://127.0.0.1', 'https://localhost'), '{}', {});
      assert.equal(byName.ok, false);
      assert.match(byName.error ?? '', /not a public address/);
      assert.equal(receiver.requests.length, 0);
    } finally {
      client.close();
      await receiver.close();
    }
  });
});
