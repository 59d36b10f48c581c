// Where Stripe Checkout sends a payer back: the platform's configured URLs, or the partner's custom domain the request
// came through (the hostname the gateway signed into the identity), never a host the client names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SaldoError } from '@saldo/graphql';
import { resolveReturnUrls } from './domain/return-urls.js';

const CONFIGURED = {
  success: 'http://localhost:4000/portal/top-up/done?session_id={CHECKOUT_SESSION_ID}',
  cancel: 'http://localhost:4000/portal/top-up/cancelled',
};

function refused(run: () => unknown, why: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof SaldoError, why);
    assert.equal(error.code, 'RETURN_ORIGIN_NOT_ALLOWED', why);
    assert.equal(error.extensions['field'], 'returnOrigin', why);
    return true;
  });
}

describe('Checkout return URLs', () => {
  it("are the configured ones without a return origin, or with the platform's own", () => {
    assert.deepEqual(resolveReturnUrls(CONFIGURED, undefined, undefined), CONFIGURED);
    assert.deepEqual(resolveReturnUrls(CONFIGURED, null, 'portal.voxly.example'), CONFIGURED);
    assert.deepEqual(resolveReturnUrls(CONFIGURED, 'http://localhost:4000', undefined), CONFIGURED);
  });

  it("follow the partner's custom domain the request came through, on any port of it, keeping path and Stripe's placeholder", () => {
    assert.deepEqual(resolveReturnUrls(CONFIGURED, 'https://portal.voxly.example', 'portal.voxly.example'), {
      success: 'https://portal.voxly.example/portal/top-up/done?session_id={CHECKOUT_SESSION_ID}',
      cancel: 'https://portal.voxly.example/portal/top-up/cancelled',
    });
    assert.equal(
      resolveReturnUrls(CONFIGURED, 'https://portal.voxly.example:8443', 'portal.voxly.example').success,
      'https://portal.voxly.example:8443/portal/top-up/done?session_id={CHECKOUT_SESSION_ID}',
    );
  });

  it('refuse any other origin: another host, plain http on the domain, a domain the request did not come through, or more than an origin', () => {
    refused(() => resolveReturnUrls(CONFIGURED, 'https://evil.example', undefined), 'a host the client names');
    refused(() => resolveReturnUrls(CONFIGURED, 'https://evil.example', 'portal.voxly.example'), 'another host than the request came through');
    refused(() => resolveReturnUrls(CONFIGURED, 'https://portal.voxly.example', undefined), 'the domain, but the request came through the platform');
    refused(() => resolveReturnUrls(CONFIGURED, 'http://portal.voxly.example', 'portal.voxly.example'), 'plain http');
    refused(() => resolveReturnUrls(CONFIGURED, 'https://portal.voxly.example.evil.example', 'portal.voxly.example'), 'a longer hostname');
    refused(() => resolveReturnUrls(CONFIGURED, 'https://portal.voxly.example/phish', 'portal.voxly.example'), 'a path');
    refused(() => resolveReturnUrls(CONFIGURED, 'https://user@portal.voxly.example', 'portal.voxly.example'), 'credentials');
    refused(() => resolveReturnUrls(CONFIGURED, 'javascript:alert(1)', 'portal.voxly.example'), 'another scheme');
    refused(() => resolveReturnUrls(CONFIGURED, 'not a url', 'portal.voxly.example'), 'not a URL');
  });
});
