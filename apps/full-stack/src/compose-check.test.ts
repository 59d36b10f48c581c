import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { parseCompose, type ComposeFile } from './compose.js';
import { checkServiceEnvironment, schemaFor } from './compose-check.js';
import { REPO_ROOT } from './launcher.js';
import { classify, composePorts, localEnvironment, localizeValue, volumeDirectories, type Topology } from './topology.js';

// docker-compose.yml against the code: every service that runs one of the image's entry points gets exactly the
// settings its own zod config schema reads, with values that schema accepts (as the process would see them here).

let home: string;
let composeText: string;

function topologyFor(compose: ComposeFile): Topology {
  return {
    repoRoot: REPO_ROOT,
    volumes: volumeDirectories(compose, home),
    postgresUrl: 'postgres://postgres@127.0.0.1:5432',
    databasePrefix: '',
    redisUrl: 'redis://127.0.0.1:6379',
    kafkaBrokers: ['127.0.0.1:9092'],
    ports: new Map(composePorts(compose).map((port) => [port, port])),
    owner: undefined,
  };
}

/** Problems of every service in `text`, with the key files the keygen services would have made. */
function problemsOf(text: string, shell: Record<string, string> = {}): string[] {
  const compose = parseCompose(text, shell);
  const topology = topologyFor(compose);
  return compose.services.flatMap((service) => checkServiceEnvironment(service, localEnvironment(service, compose, topology)));
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'saldo-compose-check-'));
  composeText = await readFile(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
  // Run the compose file's one-shot key services (keygen, domains-keygen) here: the key files they make are what the
  // services' *_FILE settings read.
  const compose = parseCompose(composeText, {});
  const topology = topologyFor(compose);
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) topology.owner = { uid, gid: process.getgid?.() ?? uid };
  for (const service of compose.services) {
    const kind = classify(service);
    if (kind.kind !== 'node' || schemaFor(service)) continue;
    for (const { volume } of service.volumes) await mkdir(topology.volumes[volume]!, { recursive: true });
    const run = spawnSync(
      process.execPath,
      kind.args.map((arg) => localizeValue(arg, compose, topology, service.volumes)),
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    assert.equal(run.status, 0, `${service.name}: ${run.stderr}`);
  }
});

after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('docker-compose.yml against each service config schema', () => {
  it('runs every Saldo service from an entry point whose schema is known, and every other service is runnable here', () => {
    const compose = parseCompose(composeText, {});
    const withSchema = compose.services.filter((service) => schemaFor(service)).map((service) => service.name);
    assert.deepEqual(withSchema.sort(), ['billing', 'gateway', 'tenants', 'usage-forecast', 'white-label', 'white-label-worker']);
    for (const service of compose.services) {
      const kind = classify(service);
      if (kind.kind === 'node' && !schemaFor(service)) {
        // One-shot helpers (key generation) are the only repository services without a config schema.
        assert.ok(Object.keys(service.environment).length === 0, `${service.name} has an environment but no config schema`);
      }
    }
  });

  it('sets no variable a service does not read, and every value parses with that service own schema', () => {
    assert.deepEqual(problemsOf(composeText), []);
  });

  it('still parses with the operator settings compose interpolates from the shell', () => {
    const shell = {
      STRIPE_SECRET_KEY: 'sk_test_123',
      STRIPE_WEBHOOK_SECRET: 'whsec_123',
      ACME_DIRECTORY_URL: 'https://acme.example/directory',
      ACME_CONTACT_EMAIL: 'ops@example.com',
      PLATFORM_HOSTNAMES: 'saldo.example,api.saldo.example',
      JWT_ISSUER: 'https://id.example',
      JWT_JWKS_URL: 'https://id.example/jwks.json',
      MODEL_UPDATE_INTERVAL: '600',
    };
    assert.deepEqual(problemsOf(composeText, shell), []);
  });

  it('reports a variable no schema reads (a typo, or a setting the code dropped)', () => {
    const drifted = composeText.replace('      PORT: "4002"\n', '      PORT: "4002"\n      STRIPE_WEBHOOK_SECRETS: whsec_x\n');
    assert.notEqual(drifted, composeText);
    assert.deepEqual(problemsOf(drifted), ['billing: STRIPE_WEBHOOK_SECRETS is not a setting of billing (its config schema does not read it)']);
  });

  it('reports a value the service would refuse at start', () => {
    const drifted = composeText.replace('SUBGRAPH_URL_BILLING: http://billing:4002/graphql', 'SUBGRAPH_URL_BILLING: billing:4002');
    assert.notEqual(drifted, composeText);
    const problems = problemsOf(drifted);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^gateway: subgraphUrls\.billing: /);
    const refused = composeText.replace('EVENT_BUS: kafka', 'EVENT_BUS: kafak');
    assert.ok(problemsOf(refused).some((problem) => /^tenants: EVENT_BUS: /.test(problem)));
  });
});
