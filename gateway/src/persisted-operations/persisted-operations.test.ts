import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, generateSigningKeyPair, signDevToken } from '@saldo/identity';
import { createLogger } from '@saldo/service';
import { loadGatewayConfig } from '../config.js';
import { createGatewayService, type GatewayService } from '../gateway.js';
import { sha256Hex, type PersistedQueryManifest } from './manifest.js';

// Persisted operations through the real gateway service (createGatewayService over the checked-in supergraph), every
// subgraph routed to one stub that records what reaches it: APQ (Apollo's protocol) and the trusted-documents mode
// with a manifest made by `pnpm extract-operations` from a client's files.

const SUPERGRAPH = fileURLToPath(new URL('../../../schema/supergraph.graphql', import.meta.url));
const EXTRACT_CLI = fileURLToPath(new URL('./extract-cli.js', import.meta.url));
const PARTNERS = 'query Partners { partners { edges { node { id name } } } }';
const partnersData = { partners: { edges: [{ node: { id: 'p-1', name: 'Reseller' } }] } };

const subgraphRequests: string[] = [];
const stub = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => {
    subgraphRequests.push(body);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ data: partnersData }));
  });
});

const portal = generateSigningKeyPair();
let token: string;
let dir: string;
let apq: GatewayService;
let trusted: GatewayService;
let manifest: PersistedQueryManifest;

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

async function startGateway(env: Record<string, string>, stubUrl: string): Promise<GatewayService> {
  const gateway = createGatewayService(
    loadGatewayConfig({
      PORT: '0',
      SUPERGRAPH_PATH: SUPERGRAPH,
      LOG_LEVEL: 'warn',
      IDENTITY_PRIVATE_KEY: generateSigningKeyPair().privateKeyPem,
      JWT_ISSUER: DEV_TOKEN_ISSUER,
      JWT_AUDIENCE: DEV_TOKEN_AUDIENCE,
      JWT_PUBLIC_KEYS: portal.publicKeyPem,
      SUBGRAPH_URL_TENANTS: `${stubUrl}/graphql`,
      SUBGRAPH_URL_BILLING: `${stubUrl}/graphql`,
      SUBGRAPH_URL_USAGE_FORECAST: `${stubUrl}/graphql`,
      SUBGRAPH_URL_WHITE_LABEL: `${stubUrl}/graphql`,
      ...env,
    }),
    { logger: createLogger({ service: 'test', level: 'warn' }) },
  );
  await gateway.start();
  return gateway;
}

interface Answer {
  status: number;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

async function post(gateway: GatewayService, body: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

const code = (answer: Answer): string | undefined => answer.body.errors?.[0]?.extensions?.code;
const persisted = (query: string) => ({ persistedQuery: { version: 1, sha256Hash: sha256Hex(query) } });

before(async () => {
  token = await signDevToken(portal.privateKeyPem, { role: 'platform-admin', subject: 'persisted-test' });
  dir = await mkdtemp(join(tmpdir(), 'saldo-persisted-'));
  // A client's code: a .graphql file, and a .ts file whose query embeds a fragment from another file the Apollo way.
  await mkdir(join(dir, 'client', 'src', 'node_modules'), { recursive: true });
  await writeFile(join(dir, 'client', 'src', 'partners.graphql'), `# the partner list\n${PARTNERS}\n`);
  await writeFile(join(dir, 'client', 'src', 'fragments.ts'), 'export const TENANT_FIELDS = gql`\n  fragment TenantFields on Tenant { id name }\n`;\n');
  await writeFile(
    join(dir, 'client', 'src', 'tenant.tsx'),
    'import { TENANT_FIELDS } from "./fragments";\nexport const TENANT = gql`\n  query Tenant($id: ID!) {\n    tenant(id: $id) { ...TenantFields }\n  }\n  ${TENANT_FIELDS}\n`;\n' +
      'const UPDATE = /* GraphQL */ `mutation Rename($id: ID!, $input: UpdateTenantInput!) { updateTenant(id: $id, input: $input) { id } }`;\n',
  );
  // Not the client's: dependencies are skipped.
  await writeFile(join(dir, 'client', 'src', 'node_modules', 'other.graphql'), 'query Foreign { __typename }');
  const extracted = spawnSync(process.execPath, [EXTRACT_CLI, '--schema', SUPERGRAPH, '--out', join(dir, 'manifest.json'), join(dir, 'client')], {
    encoding: 'utf8',
  });
  assert.equal(extracted.status, 0, extracted.stderr);
  manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as PersistedQueryManifest;

  const stubUrl = await listen(stub);
  apq = await startGateway({}, stubUrl);
  trusted = await startGateway({ PERSISTED_QUERIES: 'trusted', TRUSTED_DOCUMENTS_PATH: join(dir, 'manifest.json') }, stubUrl);
});

after(async () => {
  await apq?.stop();
  await trusted?.stop();
  stub.closeAllConnections();
  await new Promise((resolve) => stub.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('pnpm extract-operations', () => {
  it("writes Apollo's persisted query manifest of every named operation in the client's .graphql and code files", () => {
    assert.equal(manifest.format, 'apollo-persisted-query-manifest');
    assert.equal(manifest.version, 1);
    assert.deepEqual(
      manifest.operations.map((operation) => [operation.name, operation.type]),
      [
        ['Partners', 'query'],
        ['Rename', 'mutation'],
        ['Tenant', 'query'],
      ],
    );
    for (const operation of manifest.operations) assert.equal(operation.id, sha256Hex(operation.body));
    const tenant = manifest.operations.find((operation) => operation.name === 'Tenant')!;
    assert.match(tenant.body, /^query Tenant\(\$id: ID!\) \{[\s\S]*\.\.\.TenantFields[\s\S]*fragment TenantFields on Tenant \{\n {2}id\n {2}name\n\}$/);
  });

  it('refuses anonymous operations, missing fragments and (with --schema) operations the graph does not have', async () => {
    const bad = join(dir, 'bad');
    await mkdir(bad, { recursive: true });
    const run = (): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [EXTRACT_CLI, '--schema', SUPERGRAPH, bad], { encoding: 'utf8' });
    await writeFile(join(bad, 'a.graphql'), '{ partners { edges { cursor } } }');
    assert.match(String(run().stderr), /an operation without a name/);
    await writeFile(join(bad, 'a.graphql'), 'query A { tenant(id: "x") { ...Missing } }');
    assert.match(String(run().stderr), /fragment Missing is used but defined nowhere/);
    await writeFile(join(bad, 'a.graphql'), 'query A { tenant(id: "x") { nickname } }');
    const result = run();
    assert.equal(result.status, 1);
    assert.match(String(result.stderr), /A: Cannot query field "nickname" on type "Tenant"/);
  });
});

describe('automatic persisted queries (PERSISTED_QUERIES=apq, the default)', () => {
  it('answers an unknown hash with PERSISTED_QUERY_NOT_FOUND, then runs the hash alone once the query was sent with it', async () => {
    const query = `${PARTNERS} # apq ${Date.now()}`;
    const before = subgraphRequests.length;
    const miss = await post(apq, { extensions: persisted(query) });
    assert.equal(miss.status, 200);
    assert.equal(code(miss), 'PERSISTED_QUERY_NOT_FOUND');
    assert.equal(miss.body.errors![0]!.message, 'PersistedQueryNotFound');
    assert.equal(subgraphRequests.length, before, 'nothing reached a subgraph');

    const registered = await post(apq, { query, extensions: persisted(query) });
    assert.deepEqual(registered.body, { data: partnersData });
    const hit = await post(apq, { extensions: persisted(query) });
    assert.deepEqual(hit, { status: 200, body: { data: partnersData } });

    // GET, as Apollo Client sends hashed queries for CDN caching.
    const params = new URLSearchParams({ extensions: JSON.stringify(persisted(query)) });
    const get = await fetch(`${apq.url}/graphql?${params}`, { headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' } });
    assert.deepEqual(await get.json(), { data: partnersData });
  });

  it('refuses a query whose hash is not the one named (PERSISTED_QUERY_HASH_MISMATCH) and remembers nothing', async () => {
    const query = `${PARTNERS} # mismatch ${Date.now()}`;
    const wrong = await post(apq, { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex('something else') } } });
    assert.equal(wrong.status, 400);
    assert.equal(code(wrong), 'PERSISTED_QUERY_HASH_MISMATCH');
    const version = await post(apq, { query, extensions: { persistedQuery: { version: 2, sha256Hash: sha256Hex(query) } } });
    assert.equal(version.status, 400);
    assert.equal(code(version), 'PERSISTED_QUERY_NOT_SUPPORTED');
    assert.equal(code(await post(apq, { extensions: persisted(query) })), 'PERSISTED_QUERY_NOT_FOUND');
  });

  it('still runs plain query text', async () => {
    assert.deepEqual(await post(apq, { query: PARTNERS }), { status: 200, body: { data: partnersData } });
  });
});

describe('trusted documents (PERSISTED_QUERIES=trusted)', () => {
  it("runs the manifest's operations by hash, by their text, and by the client's own spelling of that text", async () => {
    const partners = manifest.operations.find((operation) => operation.name === 'Partners')!;
    assert.deepEqual(await post(trusted, { extensions: { persistedQuery: { version: 1, sha256Hash: partners.id } } }), {
      status: 200,
      body: { data: partnersData },
    });
    assert.deepEqual(await post(trusted, { documentId: `sha256:${partners.id}` }), { status: 200, body: { data: partnersData } });
    assert.deepEqual(await post(trusted, { query: partners.body }), { status: 200, body: { data: partnersData } });
    assert.deepEqual(await post(trusted, { query: `# the partner list\n${PARTNERS}\n`, operationName: 'Partners' }), {
      status: 200,
      body: { data: partnersData },
    });
  });

  it('refuses every other operation with PERSISTED_QUERY_NOT_ALLOWED before any subgraph is asked', async () => {
    const before = subgraphRequests.length;
    for (const body of [
      { query: 'query Other { partners { edges { node { id } } } }' },
      { query: '{ __schema { types { name } } }' },
      // APQ cannot register new operations here.
      { query: 'query Sneaky { partners { edges { node { name } } } }', extensions: persisted('query Sneaky { partners { edges { node { name } } } }') },
    ]) {
      const answer = await post(trusted, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.deepEqual(answer.body, {
        errors: [{ message: 'This operation is not in the trusted documents of this gateway.', extensions: { code: 'PERSISTED_QUERY_NOT_ALLOWED' } }],
      });
    }
    const unknown = await post(trusted, { extensions: persisted('query Unknown { __typename }') });
    assert.equal(code(unknown), 'PERSISTED_QUERY_NOT_FOUND');
    assert.equal(subgraphRequests.length, before);
  });

  it('refuses to start with a manifest whose ids are not the hashes of their bodies', async () => {
    const forged = join(dir, 'forged.json');
    await writeFile(forged, JSON.stringify({ ...manifest, operations: [{ ...manifest.operations[0]!, body: 'query Partners { __typename }' }] }));
    const gateway = createGatewayService(
      loadGatewayConfig({
        PORT: '0',
        SUPERGRAPH_PATH: SUPERGRAPH,
        IDENTITY_PRIVATE_KEY: generateSigningKeyPair().privateKeyPem,
        PERSISTED_QUERIES: 'trusted',
        TRUSTED_DOCUMENTS_PATH: forged,
      }),
      { logger: createLogger({ service: 'test', level: 'error' }) },
    );
    await assert.rejects(gateway.start(), /id is not the SHA-256 of its body/);
  });
});
