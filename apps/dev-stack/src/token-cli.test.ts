// `pnpm -s token`: usage on --help, one readable line on bad input, and a first-run message that says what happened
// (the key it created is the one the embedded stack trusts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, PortalTokenVerifier } from '@saldo/identity';
import { childEnvironment, pnpmCommand } from '@saldo/testing';
import { embeddedKeys } from './keys.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('./token-cli.js', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'saldo-token-'));
after(() => rmSync(home, { recursive: true, force: true }));

function token(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { env: childEnvironment({ SALDO_HOME: home }), encoding: 'utf8' });
}

/** Through pnpm, as a person types it (the pnpm running the tests when there is one). */
function pnpm(args: string[]) {
  const run = pnpmCommand(args);
  return spawnSync(run.command, run.args, { cwd: ROOT, env: childEnvironment({ SALDO_HOME: home }), encoding: 'utf8' });
}

function assertOneReadableLine(stderr: string, pattern: RegExp) {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.match(lines[0]!, /pnpm -s token --help/);
  assert.doesNotMatch(stderr, /^\s+at |TypeError|ERR_PARSE_ARGS/m);
}

describe('pnpm -s token', () => {
  it('prints its usage for --help and -h, through pnpm too, and exits 0', () => {
    for (const result of [token(['--help']), token(['-h']), pnpm(['-s', 'token', '--help']), pnpm(['run', '--silent', 'token', '--help'])]) {
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^usage: pnpm -s token --role <admin\|partner\|tenant-admin\|tenant-member>/);
      assert.match(result.stdout, /--partner ID/);
      assert.match(result.stdout, /--tenant ID/);
      assert.match(result.stdout, /--ttl SECONDS/);
      assert.equal(result.stderr, '');
    }
  });

  it('answers bad input with one line naming the problem, exit 2, no stack trace', () => {
    const unknown = token(['--bogus']);
    assert.equal(unknown.status, 2);
    assertOneReadableLine(unknown.stderr, /Unknown option '--bogus'/);
    const missingRole = token([]);
    assert.equal(missingRole.status, 2);
    assertOneReadableLine(missingRole.stderr, /--role is required: admin, partner, tenant-admin or tenant-member/);
    const badRole = token(['--role', 'boss']);
    assert.equal(badRole.status, 2);
    assertOneReadableLine(badRole.stderr, /unknown --role "boss"/);
    const noTenant = token(['--role', 'tenant-admin']);
    assert.equal(noTenant.status, 2);
    assertOneReadableLine(noTenant.stderr, /--tenant ID is required for --role tenant-admin/);
    const badTtl = token(['--role', 'admin', '--ttl', 'soon']);
    assert.equal(badTtl.status, 2);
    assertOneReadableLine(badTtl.stderr, /--ttl must be a positive whole number of seconds/);
    for (const result of [unknown, missingRole, badRole, noTenant, badTtl]) assert.equal(result.stdout, '');
  });

  it('on the first run says it created the key, and the token it prints is one the embedded stack accepts', async () => {
    const first = token(['--role', 'admin']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(
      first.stderr,
      `pnpm token: created the development signing key in ${join(home, 'keys')} (first run); \`pnpm start\` trusts tokens signed with it.\n`,
    );
    const lines = first.stdout.split('\n');
    assert.equal(lines.length, 2, 'only the token and its newline on stdout');
    // What `pnpm start` loads (embeddedKeys) is the key that signed it.
    const { portal } = await embeddedKeys(home);
    const verifier = await PortalTokenVerifier.create({ issuer: DEV_TOKEN_ISSUER, audience: DEV_TOKEN_AUDIENCE, publicKeysPem: [portal.publicKeyPem] });
    assert.deepEqual(await verifier.verify(lines[0]!), { role: 'platform-admin', subject: 'dev-user' });

    const second = pnpm(['-s', 'token', '--role', 'tenant-admin', '--tenant', '0195f0c2-8a3e-7b4c-9d2e-1f2a3b4c5d6e']);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stderr, '', 'no first-run message once the key exists');
    assert.match(second.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.deepEqual(await verifier.verify(second.stdout.trim()), {
      role: 'tenant-admin',
      subject: 'dev-user',
      tenantId: '0195f0c2-8a3e-7b4c-9d2e-1f2a3b4c5d6e',
    });
  });
});
