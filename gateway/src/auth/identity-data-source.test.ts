import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { generateSigningKeyPair, IDENTITY_HEADER, IdentitySigner, IdentityVerifier } from '@saldo/identity';
import { IdentityForwardingDataSource } from './identity-data-source.js';
import { SubgraphHttpClient } from './subgraph-http.js';

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** A subgraph stand-in that records each request and gives the next queued answer. */
async function startSubgraph(): Promise<{
  url: string;
  received: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
  answers: Answer[];
  close(): Promise<void>;
}> {
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const answers: Answer[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = answers.shift() ?? { status: 500, contentType: 'text/plain', body: 'no answer queued' };
      res.writeHead(answer.status, { 'content-type': answer.contentType });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    received,
    answers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the gateway’s subgraph data source', () => {
  let subgraph: Awaited<ReturnType<typeof startSubgraph>>;
  let client: SubgraphHttpClient;
  let source: IdentityForwardingDataSource;
  let verifier: IdentityVerifier;
  const tenantId = randomUUID();
  const identity = { role: 'tenant-admin' as const, subject: 'user-1', tenantId };
  const send = () =>
    // A request outside an incoming operation (Apollo's health-check kind; its enum is not exported) needs no plan context.
    source.process({
      kind: 'health check',
      request: { query: 'query Q($id: ID!) { tenant(id: $id) { name } }', variables: { id: tenantId } },
      context: { identity },
    } as unknown as GraphQLDataSourceProcessOptions<{ identity: typeof identity }>);

  before(async () => {
    subgraph = await startSubgraph();
    const keys = generateSigningKeyPair();
    verifier = await IdentityVerifier.fromPem(keys.publicKeyPem);
    client = new SubgraphHttpClient(5_000);
    source = new IdentityForwardingDataSource(subgraph.url, await IdentitySigner.fromPem(keys.privateKeyPem, 30), client);
  });
  after(async () => {
    client.close();
    await subgraph.close();
  });

  it('posts the operation as JSON with the caller’s signed identity and returns the subgraph’s answer', async () => {
    subgraph.answers.push({ status: 200, contentType: 'application/json', body: JSON.stringify({ data: { tenant: { name: 'Acme' } } }) });
    const response = await send();
    assert.deepEqual(response.data, { tenant: { name: 'Acme' } });
    assert.equal(response.http?.status, 200);
    const request = subgraph.received.at(-1)!;
    assert.match(request.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(request.body), { variables: { id: tenantId }, query: 'query Q($id: ID!) { tenant(id: $id) { name } }' });
    const forwarded = await verifier.verify(request.headers[IDENTITY_HEADER] as string);
    assert.equal('tenantId' in forwarded && forwarded.tenantId, tenantId);
  });

  it('passes a coded error of a non-2xx answer on, and hides anything else behind INTERNAL_SERVER_ERROR', async () => {
    subgraph.answers.push({
      status: 400,
      contentType: 'application/json',
      body: JSON.stringify({ errors: [{ message: 'Variable "$id" got invalid value', extensions: { code: 'BAD_USER_INPUT' } }] }),
    });
    await assert.rejects(send(), (error: unknown) => error instanceof GraphQLError && error.extensions.code === 'BAD_USER_INPUT');
    subgraph.answers.push({ status: 500, contentType: 'text/html', body: '<html>stack trace at /srv/app.js</html>' });
    await assert.rejects(
      send(),
      (error: unknown) => error instanceof GraphQLError && error.extensions.code === 'INTERNAL_SERVER_ERROR' && !error.message.includes('/srv'),
    );
  });

  it('refuses a 2xx answer that is not a JSON object', async () => {
    subgraph.answers.push({ status: 200, contentType: 'application/json', body: '[1, 2]' });
    await assert.rejects(send(), /Expected JSON response body/);
    subgraph.answers.push({ status: 200, contentType: 'text/plain', body: 'hello' });
    await assert.rejects(send(), /Expected JSON response body, but received: hello/);
  });
});
