// `pnpm start` as a newcomer meets it: the banner's token command works, a second start on the same data directory, a
// taken PostgreSQL port and a stale lock each stop with one line saying which and what to do, and Ctrl-C ends it
// cleanly with exit code 0 and no ELIFECYCLE from pnpm. A real embedded PostgreSQL in a temporary SALDO_HOME.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { childEnvironment, pnpmCommand, waitUntil } from '@saldo/testing';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'saldo-start-'));
// As root, embedded-postgres runs PostgreSQL as the postgres user, which must reach SALDO_HOME/pg.
chmodSync(home, 0o755);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A start's environment: this SALDO_HOME, its own ports (subgraphs on free ones), no demo data. */
async function startEnvironment(postgresPort: number): Promise<Record<string, string>> {
  return {
    SALDO_HOME: home,
    EMBEDDED_POSTGRES_PORT: String(postgresPort),
    GATEWAY_PORT: String(await freePort()),
    TENANTS_PORT: '0',
    BILLING_PORT: '0',
    USAGE_FORECAST_PORT: '0',
    WHITE_LABEL_PORT: '0',
    STRIPE_STAND_IN_PORT: '0',
    DEV_SIGN_IN_PORT: '0',
    MAILDEV_SMTP_PORT: String(await freePort()),
    MAILDEV_WEB_PORT: String(await freePort()),
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
  };
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a command in its own process group, as a terminal would (Ctrl-C reaches the whole group). */
function run(command: string, args: string[], env: Record<string, string>): Run {
  const child = spawn(command, args, { cwd: ROOT, env: childEnvironment(env), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

/** `node apps/dev-stack/dist/main.js` (what `pnpm start` execs after building): for the starts that must fail. */
async function startFailure(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const started = run(process.execPath, [MAIN], env);
  const { code } = await started.exit;
  return { code, stderr: started.stderr(), stdout: started.stdout() };
}

function assertOneLine(stderr: string, pattern: RegExp): string {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, /^ {2}Saldo did not start: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /^undefined$|^\s+at |Error:/m);
  return lines[0]!;
}

describe('pnpm start', () => {
  let postgresPort: number;
  let first: Run | undefined;
  let firstEnv: Record<string, string>;
  let blocker: Server | undefined;
  let squatter: ChildProcess | undefined;

  before(async () => {
    postgresPort = await freePort();
    firstEnv = await startEnvironment(postgresPort);
  });

  after(async () => {
    if (first && first.child.exitCode === null) {
      process.kill(-first.child.pid!, 'SIGKILL');
      await first.exit;
    }
    squatter?.kill('SIGKILL');
    blocker?.close();
    // A PostgreSQL left by a failed assertion would keep the directory busy.
    try {
      const pid = Number(readFileSync(join(home, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // Stopped cleanly: no lock file.
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('starts, and the banner shows the portal URL and the `pnpm -s token` command that prints only a token the gateway accepts', async () => {
    const { command, args } = pnpmCommand(['start']);
    first = run(command, args, firstEnv);
    const running = first;
    await waitUntil(() => running.stdout().includes('Press Ctrl-C to stop.') || running.child.exitCode !== null, 'the start banner', {
      timeoutMs: 240_000,
      intervalMs: 200,
    });
    assert.equal(running.child.exitCode, null, `pnpm start ended early:\n${running.stdout()}\n${running.stderr()}`);
    const banner = running.stdout();
    const tokenCommand = /Get a token: {2}(pnpm -s token --role admin)/.exec(banner)?.[1];
    assert.ok(tokenCommand, `banner names pnpm -s token:\n${banner}`);
    const gateway = /Gateway \(GraphQL \+ Apollo Sandbox\): (http:\/\/localhost:\d+\/graphql)/.exec(banner)?.[1];
    assert.equal(gateway, `http://localhost:${firstEnv.GATEWAY_PORT}/graphql`);
    // The portal's URL beside the gateway's.
    assert.match(banner, new RegExp(`Portal: +http://localhost:${firstEnv.GATEWAY_PORT}/portal/ `));

    const { command: pnpm, args: tokenArgs } = pnpmCommand(tokenCommand.split(' ').slice(1));
    const token = spawnSync(pnpm, tokenArgs, { cwd: ROOT, env: childEnvironment({ SALDO_HOME: home }), encoding: 'utf8' });
    assert.equal(token.status, 0, token.stderr);
    assert.equal(token.stderr, '', 'the key exists once Saldo ran: no first-run message');
    assert.match(token.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'only the token on stdout');
    const response = await fetch(gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token.stdout.trim()}` },
      body: JSON.stringify({ query: '{ partners { edges { node { id } } } }' }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { data: { partners: { edges: [] } } });
  });

  it('answers GET / on the gateway origin with a page leading to the portal, Sandbox, health and readiness', async () => {
    const origin = `http://localhost:${firstEnv.GATEWAY_PORT}`;
    const page = await fetch(`${origin}/`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /<a href="\/graphql">Apollo Sandbox<\/a>/);
    assert.match(html, /pnpm -s token --role admin/);
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((match) => match[1]!);
    assert.deepEqual(hrefs, ['/portal/', '/graphql', '/health', '/ready']);
    // Every link leads somewhere that answers (Sandbox's landing page for a browser at /graphql).
    for (const href of hrefs) {
      const target = await fetch(`${origin}${href}`, { headers: { accept: 'text/html' } });
      assert.equal(target.status, 200, href);
    }
    const json = await fetch(`${origin}/`, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 200);
    const body = (await json.json()) as { graphql: string; links: Array<{ href: string }> };
    assert.equal(body.graphql, '/graphql');
    assert.deepEqual(
      body.links.map((link) => link.href),
      hrefs,
    );
  });

  it('refuses a second start on the same data directory, naming the Saldo that holds it', async () => {
    const second = await startFailure(await startEnvironment(postgresPort));
    assert.equal(second.code, 1);
    const line = assertOneLine(
      second.stderr,
      /Another Saldo \(pid (\d+)\) is already running on this data directory \(.*\): stop it first \(Ctrl-C in its terminal, or kill \1\)/,
    );
    // The pid named is the first start's process (pnpm start execs node, so it is pnpm's child).
    const pid = Number(/pid (\d+)/.exec(line)![1]);
    const command = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).stdout;
    assert.match(command, /apps\/dev-stack\/dist\/main\.js/);
    assert.equal(first!.child.exitCode, null, 'the first one keeps running');
  });

  it('stops on Ctrl-C with exit code 0 and no ELIFECYCLE from pnpm', async () => {
    const running = first!;
    // Ctrl-C in a terminal: SIGINT to the whole foreground process group (pnpm, node, PostgreSQL).
    process.kill(-running.child.pid!, 'SIGINT');
    const { code, signal } = await running.exit;
    assert.equal(signal, null);
    assert.equal(code, 0, `${running.stdout()}\n${running.stderr()}`);
    assert.doesNotMatch(running.stdout() + running.stderr(), /ELIFECYCLE|Command failed/);
  });

  it('says which port is taken when the PostgreSQL port is in use', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(postgresPort, '127.0.0.1', resolve));
    const result = await startFailure(await startEnvironment(postgresPort));
    blocker.close();
    blocker = undefined;
    assert.equal(result.code, 1);
    assertOneLine(
      result.stderr,
      new RegExp(
        `The embedded PostgreSQL cannot listen on 127\\.0\\.0\\.1:${postgresPort}: the port is taken by another program .*EMBEDDED_POSTGRES_PORT=${postgresPort + 1} pnpm start`,
      ),
    );
  });

  it('says a service port is taken, naming its variable', async () => {
    const env = await startEnvironment(postgresPort);
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(Number(env.GATEWAY_PORT), '127.0.0.1', resolve));
    const result = await startFailure(env);
    blocker.close();
    blocker = undefined;
    assert.equal(result.code, 1);
    assertOneLine(
      result.stderr,
      new RegExp(`port ${env.GATEWAY_PORT} \\(GATEWAY_PORT\\) on 127\\.0\\.0\\.1 is taken by another program .*GATEWAY_PORT=<another port> pnpm start`),
    );
  });

  it('lists every invalid setting in one line', async () => {
    const result = await startFailure({ ...(await startEnvironment(postgresPort)), EMBEDDED_POSTGRES_PORT: 'five', SHARDS_PER_SUBGRAPH: '99' });
    assert.equal(result.code, 1);
    assertOneLine(result.stderr, /invalid configuration: EMBEDDED_POSTGRES_PORT: .*; SHARDS_PER_SUBGRAPH: /);
  });

  it('names a stale lock left by a crash and what to delete', async () => {
    // A crashed PostgreSQL leaves postmaster.pid behind; after a reboot its pid may belong to another process of the
    // same user, which PostgreSQL then refuses to ignore. (As root, PostgreSQL runs as the postgres user.)
    const asPostgres = userInfo().uid === 0 ? Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()) : undefined;
    squatter = spawn('sleep', ['600'], { stdio: 'ignore', ...(asPostgres !== undefined ? { uid: asPostgres } : {}) });
    const lockFile = join(home, 'pg', 'postmaster.pid');
    writeFileSync(lockFile, `${squatter.pid}\n${join(home, 'pg')}\n1700000000\n${postgresPort}\n/tmp\n127.0.0.1\n  1234567         0\nready   \n`);
    if (asPostgres !== undefined) spawnSync('chown', ['postgres', lockFile]);
    const result = await startFailure(await startEnvironment(postgresPort));
    assert.equal(result.code, 1);
    assertOneLine(
      result.stderr,
      new RegExp(
        `Stale lock in the data directory: ${lockFile.replaceAll('.', '\\.')} names pid ${squatter.pid}, which is now \`sleep\`, not PostgreSQL .*: delete that file and start again`,
      ),
    );
    squatter.kill('SIGKILL');
    rmSync(lockFile);
  });
});
