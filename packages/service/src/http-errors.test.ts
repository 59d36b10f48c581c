import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { createHttpService, type HttpService } from './http-service.js';
import { createLogger } from './logger.js';

/** What a client sees: status, content type and the parsed body (or the raw text when it is not JSON). */
async function call(url: string, init: RequestInit = {}): Promise<{ status: number; type: string; body: any; text: string }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, type: response.headers.get('content-type') ?? '', body, text };
}

/** Nothing of the server's internals: no HTML, no stack frames, no file paths. */
function assertClean(text: string): void {
  assert.doesNotMatch(text, /<html|<pre|<!DOCTYPE/i);
  assert.doesNotMatch(text, /\bat [\w.<>]+ \(|node_modules|\/work\/|file:\/\/|\.js:\d+/);
}

describe('HTTP errors of a service', () => {
  let service: HttpService;
  let url: string;

  before(async () => {
    service = createHttpService({ name: 'test', logger: createLogger({ service: 'test', level: 'error' }) });
    // Express shows stacks in its HTML error page in development: what the fallbacks must never let through.
    service.app.set('env', 'development');
    service.app.post('/json', express.json({ limit: '1kb' }), (req, res) => {
      res.json({ echoed: req.body });
    });
    service.app.post('/raw', express.raw({ type: () => true, limit: '1kb' }), (req, res) => {
      res.json({ bytes: (req.body as Buffer).length });
    });
    service.app.get('/boom', () => {
      throw new Error(`failed at ${import.meta.url}`);
    });
    service.app.get('/items/:id', (req, res) => {
      res.json({ id: req.params['id'] });
    });
    url = await service.listen(0);
  });

  after(async () => {
    await service.close();
  });

  const cases: Array<{ title: string; path: string; init?: RequestInit; status: number; code: string }> = [
    {
      title: 'malformed JSON',
      path: '/json',
      init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' },
      status: 400,
      code: 'BAD_REQUEST',
    },
    {
      title: 'a JSON scalar (strict parsing)',
      path: '/json',
      init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '"x"' },
      status: 400,
      code: 'BAD_REQUEST',
    },
    {
      title: 'a JSON body over the limit',
      path: '/json',
      init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(2048) }) },
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    { title: 'a raw body over the limit', path: '/raw', init: { method: 'POST', body: 'x'.repeat(4096) }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
    {
      title: 'an unsupported charset',
      path: '/json',
      init: { method: 'POST', headers: { 'content-type': 'application/json; charset=latin-9' }, body: '{}' },
      status: 415,
      code: 'BAD_REQUEST',
    },
    { title: 'an unknown GET path', path: '/nowhere', status: 404, code: 'NOT_FOUND' },
    {
      title: 'an unknown POST path',
      path: '/nowhere/else',
      init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      status: 404,
      code: 'NOT_FOUND',
    },
    { title: 'a path parameter that does not decode', path: '/items/%E0%A4%A', status: 400, code: 'BAD_REQUEST' },
    { title: 'a route that throws', path: '/boom', status: 500, code: 'INTERNAL_SERVER_ERROR' },
  ];
  for (const { title, path, init, status, code } of cases) {
    it(`answers ${title} with ${status} ${code} as GraphQL-shaped JSON`, async () => {
      const response = await call(`${url}${path}`, init);
      assert.equal(response.status, status, response.text);
      assert.match(response.type, /^application\/json/);
      assert.equal(response.body?.errors?.length, 1, response.text);
      assert.equal(response.body.errors[0].extensions.code, code);
      assert.equal(typeof response.body.errors[0].message, 'string');
      assert.equal(response.body.data, undefined);
      assertClean(response.text);
    });
  }

  it('reports the limit of a body that is too large', async () => {
    const response = await call(`${url}/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'x'.repeat(2048) }),
    });
    assert.equal(response.body.errors[0].extensions.limitBytes, 1024);
  });

  it('still serves good requests and its own endpoints', async () => {
    assert.deepEqual((await call(`${url}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })).body, {
      echoed: { a: 1 },
    });
    assert.deepEqual((await call(`${url}/health`)).body, { status: 'ok', service: 'test' });
    assert.deepEqual((await call(`${url}/items/42`)).body, { id: '42' });
  });
});
