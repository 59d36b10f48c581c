import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dropDatabases } from '@saldo/sharding';
import { TEST_POSTGRES_URL, TEST_REDIS_URL, testLogger, uniquePrefix, waitUntil } from '@saldo/testing';
import { databasesOfFailedStart, startFullStack, type FullStack, type ServiceExit } from './launcher.js';

// `pnpm start:full` once, start to stop: every docker-compose.yml service as its own process (free ports, fresh
// databases), a tenant created through the gateway reaching billing over Kafka (the mock cluster), then SIGTERM to
// every process, dependents first, and every one exits 0.

let home: string;
let stack: FullStack | undefined;
let exits: ServiceExit[] | undefined;
const lines: string[] = [];

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'saldo-full-stack-'));
  stack = await startFullStack({
    home,
    postgresUrl: TEST_POSTGRES_URL,
    databasePrefix: `${uniquePrefix('full')}_`,
    redisUrl: TEST_REDIS_URL,
    freePorts: true,
    interpolation: {},
    devIssuer: true,
    // The machine's PostgreSQL (max_connections 100) is shared with other test files running meanwhile.
    overrides: { '*': { DATABASE_POOL_MAX: '2', JOBS_POOL_MAX: '1', LOG_LEVEL: 'warn' } },
    logger: testLogger(),
    output: (service, line) => lines.push(`${service} | ${line}`),
  }).catch(async (error: unknown) => {
    await dropDatabases(databasesOfFailedStart(error));
    // What the services printed says why one did not come up.
    throw new Error(`${(error as Error).message}\n${lines.slice(-60).join('\n')}`);
  });
});

after(async () => {
  if (stack) {
    exits ??= await stack.stop();
    await dropDatabases(stack.databaseUrls);
  }
  await rm(home, { recursive: true, force: true });
});

async function graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<{ data?: T; errors?: Array<{ message: string }> }> {
  const token = await stack!.issueToken({ role: 'platform-admin', subject: 'full-stack-test' });
  const response = await fetch(stack!.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
}

describe('the full stack as processes (pnpm start:full)', () => {
  it('runs every service of docker-compose.yml as its own process', async () => {
    // nginx starts, like its compose command, once the worker made a configuration live (its sync at start).
    await waitUntil(() => stack!.pids.nginx, 'nginx to start on the configuration white-label-worker wrote', { timeoutMs: 60_000, intervalMs: 250 });
    const started = Object.keys(stack!.pids).sort();
    // postgres and redis are the machine's own servers.
    for (const service of [
      'gateway',
      'tenants',
      'billing',
      'usage-forecast',
      'white-label',
      'white-label-worker',
      'nginx',
      'kafka',
      'maildev',
      'keygen',
      'domains-keygen',
    ]) {
      assert.ok(started.includes(service), `${service} was not started (started: ${started.join(', ')})`);
    }
    assert.equal(new Set(Object.values(stack!.pids)).size, Object.keys(stack!.pids).length, 'one process per service');
    assert.ok(!Object.values(stack!.pids).includes(process.pid));
  });

  it('serves the graph through the gateway, with events between the subgraph processes over Kafka', async () => {
    const created = await graphql<{ createTenant: { id: string } }>('mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }', {
      input: { name: 'Full Stack GmbH', currency: 'EUR', country: 'DE' },
    });
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
    const id = created.data!.createTenant.id;
    // billing opens the account when tenant.created arrives from the tenants process through the mock cluster.
    const tenant = await waitUntil(
      async () => {
        const result = await graphql<{
          tenant: { name: string; balance: { available: { amountMinor: number; currency: string } } | null; branding: { displayName: string } };
        }>('query($id: ID!) { tenant(id: $id) { name balance { available { amountMinor currency } } branding { displayName } } }', { id });
        return result.data?.tenant?.balance ? result.data.tenant : undefined;
      },
      'the tenant balance (billing consumed tenant.created from Kafka)',
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    assert.equal(tenant.name, 'Full Stack GmbH');
    assert.deepEqual(tenant.balance!.available, { amountMinor: 0, currency: 'EUR' });
  });

  it("starts the gateway without managed federation and without Apollo warning about compose's empty APOLLO_KEY", () => {
    // compose passes APOLLO_KEY='' when the shell has none; Apollo Server, which reads the environment itself, used to
    // take it for a key with whitespace and warn at every start.
    const apolloKeyWarnings = lines.filter((line) => line.startsWith('gateway |') && /API key/i.test(line));
    assert.deepEqual(apolloKeyWarnings, []);
  });

  it('stops every process on SIGTERM with exit code 0', async () => {
    const pids = { ...stack!.pids };
    exits = await stack!.stop();
    const longRunning = Object.keys(pids).filter((service) => !['keygen', 'domains-keygen'].includes(service));
    assert.deepEqual(exits.map((exit) => exit.service).sort(), longRunning.sort());
    for (const exit of exits)
      assert.deepEqual(
        exit,
        { service: exit.service, code: 0, signal: null },
        lines
          .filter((line) => line.startsWith(exit.service))
          .slice(-20)
          .join('\n'),
      );
    for (const [service, pid] of Object.entries(pids)) {
      assert.throws(() => process.kill(pid, 0), `${service} (pid ${pid}) is still running`);
    }
  });
});
