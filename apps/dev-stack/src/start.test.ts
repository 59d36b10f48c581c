// `pnpm start` as a newcomer meets it: the banner's token command works, a second start on the same data directory, a
// taken PostgreSQL port and a stale lock each stop with one line saying which and what to do, Ctrl-C (and SIGTERM, and
// the SIGHUP of a closed terminal) end it cleanly with exit code 0, no error line, no ELIFECYCLE from pnpm and
// PostgreSQL stopped, closing its terminal stops it and PostgreSQL although nothing can be written any more, and a start
// after the stack was killed stops the PostgreSQL it left running and finds the data. With WEB_SERVER=nginx, Ctrl-C
// reaches Saldo only, which stops nginx, pebble and pebble-challtestsrv itself, and a start after a killed one stops
// those it left running. A real embedded PostgreSQL (and real nginx and pebble) in a temporary SALDO_HOME.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processCommand, processParent } from '@saldo/service';
import { childEnvironment, pnpmCommand, waitUntil } from '@saldo/testing';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'saldo-start-'));
// As root, embedded-postgres runs PostgreSQL as the postgres user, which must reach SALDO_HOME/pg.
chmodSync(home, 0o755);
const LOCK_FILE = join(home, 'pg', 'postmaster.pid');
const NGINX_PID_FILE = join(home, 'nginx', 'nginx.pid');

/** Ports freePort gave out in this file: never given twice. */
const handedOut = new Set<number>();

/**
 * A port free now, from below the kernel's ephemeral range (32768-60999 here): a start binds it only after `pnpm build`,
 * seconds later, and meanwhile an outbound connection of a test running beside this one (to PostgreSQL, Redis) may be
 * given any ephemeral port as its local one, which then cannot be bound ("port taken" for the start under test).
 */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    // Free now is not enough: a port handed to an earlier start of this file is free between its starts, and given
    // again (to nginx or pebble, say) it was taken when that start's gateway came to bind it (a CI run failed so).
    if (handedOut.has(port)) continue;
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => server.close(resolve));
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port between 20000 and 32000');
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
    LOG_FORMAT: 'json',
  };
}

/** The running embedded PostgreSQL's pid, from its lock file. */
function postgresPid(): number {
  const pid = Number(readFileSync(LOCK_FILE, 'utf8').split('\n')[0]);
  assert.ok(pid > 0, `${LOCK_FILE} names a pid`);
  return pid;
}

/** The running embedded PostgreSQL's parent: the Saldo (node) that runs it. */
function saldoPid(): number {
  const parent = processParent(postgresPid()) ?? 0;
  assert.ok(parent > 1, 'PostgreSQL has a parent');
  return parent;
}

/** A process's command line ('' once it is gone). */
function commandOf(pid: number): string {
  return processCommand(pid) ?? '';
}

/** Whether the process runs (a zombie nobody reaped yet has exited). */
function isRunning(pid: number): boolean {
  const state = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return state !== '' && !state.startsWith('Z');
}

/** Error-level log lines, and PostgreSQL's complaints of a shutdown under open connections (57P01, 57P03) however logged. */
function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => {
    if (/57P0[13]|terminating connection due to administrator command|the database system is shutting down/.test(line)) return true;
    try {
      const level = (JSON.parse(line) as { level?: unknown }).level;
      return level === 'error' || level === 'fatal';
    } catch {
      return false;
    }
  });
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

async function waitForBanner(started: Run): Promise<void> {
  await waitUntil(() => started.stdout().includes('Press Ctrl-C to stop.') || started.child.exitCode !== null, 'the start banner', {
    timeoutMs: 240_000,
    intervalMs: 200,
  });
  assert.equal(started.child.exitCode, null, `the start ended early:\n${started.stdout()}\n${started.stderr()}`);
}

/**
 * Sends `signal` to the whole process group of a start (a terminal's Ctrl-C, `kill -TERM -<pgid>`) and asserts it ends
 * as a clean stop: exit code 0, no error line, and the embedded PostgreSQL it ran stopped (lock file gone, process gone).
 */
async function assertStopsCleanlyOn(started: Run, signal: NodeJS.Signals): Promise<void> {
  const postgres = postgresPid();
  process.kill(-started.child.pid!, signal);
  const { code, signal: killedBy } = await started.exit;
  const output = `${started.stdout()}\n${started.stderr()}`;
  assert.equal(killedBy, null);
  assert.equal(code, 0, output);
  assert.deepEqual(errorLines(output), [], 'no error line while stopping');
  assert.equal(existsSync(LOCK_FILE), false, 'PostgreSQL removed its lock file: it shut down');
  assert.equal(isRunning(postgres), false, `PostgreSQL (pid ${postgres}) no longer runs`);
}

/**
 * The custom-domain helpers a start with WEB_SERVER=nginx runs: the nginx master (from its pid file under SALDO_HOME),
 * pebble and pebble-challtestsrv (the Saldo's children).
 */
async function customDomainHelpers(saldo: number): Promise<{ nginx: number; pebble: number; challtestsrv: number }> {
  const nginx = await waitUntil(
    () => {
      const pid = existsSync(NGINX_PID_FILE) ? Number(readFileSync(NGINX_PID_FILE, 'utf8').trim()) : 0;
      return pid > 0 && isRunning(pid) ? pid : undefined;
    },
    'the nginx master',
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const children = spawnSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\S+)/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null && Number(match[2]) === saldo);
  const childNamed = (name: string) => Number(children.find((match) => match[3]!.endsWith(`/${name}`) || match[3] === name)?.[1] ?? 0);
  const helpers = { nginx, pebble: childNamed('pebble'), challtestsrv: childNamed('pebble-challtestsrv') };
  assert.ok(helpers.pebble > 0 && helpers.challtestsrv > 0, `pebble and pebble-challtestsrv run as Saldo's children: ${JSON.stringify(children)}`);
  return helpers;
}

/** `node apps/dev-stack/dist/main.js` (what `pnpm start` execs after building), in its own process group. */
function startMain(env: Record<string, string>): Run {
  return run(process.execPath, [MAIN], env);
}

/** Every demo tenant's name and balance, through the gateway with an admin token from the token command. */
async function tenantBalances(env: Record<string, string>): Promise<unknown> {
  const token = spawnSync(process.execPath, [fileURLToPath(new URL('./token-cli.js', import.meta.url)), '--role', 'admin'], {
    env: childEnvironment({ SALDO_HOME: home }),
    encoding: 'utf8',
  });
  assert.equal(token.status, 0, token.stderr);
  const response = await fetch(`http://127.0.0.1:${env.GATEWAY_PORT}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token.stdout.trim()}` },
    body: JSON.stringify({ query: '{ tenants(first: 100) { edges { node { name balance { available { amountMinor currency } version } } } } }' }),
  });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { data?: { tenants: { edges: unknown[] } }; errors?: unknown };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data!.tenants.edges;
}

/** `node apps/dev-stack/dist/main.js` (what `pnpm start` execs after building): for the starts that must fail. */
async function startFailure(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const started = startMain(env);
  // A start that was expected to fail but starts runs until stopped: it fails the test instead of hanging it.
  let timer: NodeJS.Timeout | undefined;
  const ranOn = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      process.kill(-started.child.pid!, 'SIGKILL');
      reject(new Error(`the start did not fail within ${START_FAILURE_TIMEOUT_MS / 1000} s:\n${started.stdout()}\n${started.stderr()}`));
    }, START_FAILURE_TIMEOUT_MS);
  });
  try {
    const { code } = await Promise.race([started.exit, ranOn]);
    return { code, stderr: started.stderr(), stdout: started.stdout() };
  } finally {
    clearTimeout(timer);
  }
}

/** How long a start that must fail may take to say so (it builds first). */
const START_FAILURE_TIMEOUT_MS = 120_000;

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
  /** The later starts of the stop tests, killed after a failed assertion. */
  const later: Run[] = [];
  let firstEnv: Record<string, string>;
  let blocker: Server | undefined;
  let squatter: ChildProcess | undefined;
  /**
   * Processes outside the starts' process groups (a Saldo whose terminal was closed, custom-domain helpers), with their
   * command lines, killed after a failed assertion (only if the pid still shows that command line: it may be reused).
   */
  const strays: Array<{ pid: number; command: string }> = [];
  const stray = (...pids: number[]) => strays.push(...pids.map((pid) => ({ pid, command: commandOf(pid) })));

  before(async () => {
    postgresPort = await freePort();
    firstEnv = await startEnvironment(postgresPort);
  });

  after(async () => {
    for (const started of [first, ...later]) {
      if (started && started.child.exitCode === null && started.child.signalCode === null) {
        process.kill(-started.child.pid!, 'SIGKILL');
        await started.exit;
      }
    }
    for (const { pid, command } of strays) {
      try {
        if (command && commandOf(pid) === command) process.kill(pid, 'SIGKILL');
      } catch {
        // It exited meanwhile.
      }
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
    await waitForBanner(running);
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
    assert.equal(first?.child.exitCode, null, 'the first start runs');
    const second = await startFailure(await startEnvironment(postgresPort));
    assert.equal(second.code, 1);
    const line = assertOneLine(
      second.stderr,
      /Another Saldo \(pid (\d+)\) is already running on this data directory \(.*\): stop it first \(Ctrl-C in its terminal, or kill \1\)/,
    );
    // The pid named is the first start's process (pnpm start execs node, so it is pnpm's child).
    const pid = Number(/pid (\d+)/.exec(line)![1]);
    assert.match(commandOf(pid), /apps\/dev-stack\/dist\/main\.js/);
    assert.equal(first!.child.exitCode, null, 'the first one keeps running');
  });

  it('stops on Ctrl-C with exit code 0, no error line, PostgreSQL stopped after the services and no ELIFECYCLE from pnpm', async () => {
    const running = first!;
    // Ctrl-C in a terminal: SIGINT to the whole foreground process group (pnpm and node; PostgreSQL runs in its own, so
    // it keeps serving the services until they stopped, and is shut down last).
    await assertStopsCleanlyOn(running, 'SIGINT');
    assert.doesNotMatch(running.stdout() + running.stderr(), /ELIFECYCLE|Command failed/);
  });

  it('stops the same way on SIGTERM (docker stop, systemd): exit code 0, no error line, PostgreSQL stopped', async () => {
    // With the demo data, so its job workers are busy while it stops (and the next test finds demo tenants).
    const started = startMain({ ...firstEnv, SEED_DEMO_DATA: 'true' });
    later.push(started);
    await waitForBanner(started);
    await assertStopsCleanlyOn(started, 'SIGTERM');
  });

  it('stops the same way on SIGHUP (its terminal went away): exit code 0, no error line, PostgreSQL stopped', async () => {
    const started = startMain(firstEnv);
    later.push(started);
    await waitForBanner(started);
    await assertStopsCleanlyOn(started, 'SIGHUP');
  });

  it('stops, and stops PostgreSQL, when the terminal running `pnpm start` is closed, although nothing can be written to it any more', async () => {
    // util-linux's script(1) provides the terminal (Debian's bsdutils; .ci/run installs it where it is missing).
    assert.equal(spawnSync('script', ['--version']).error, undefined, 'script(1) (util-linux, Debian package bsdutils) is needed for this test');
    // `pnpm start` in a pseudo-terminal of its own (script -c), pretty log lines (a terminal's default) at info level, so
    // the shutdown writes lines to the closed terminal (EIO). Killing script closes the terminal: the kernel hangs it up
    // and sends SIGHUP, to pnpm (which dies of it) and then to its foreground process group (Saldo).
    const { command, args } = pnpmCommand(['start']);
    const shellCommand = [command, ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
    const env = { ...firstEnv, LOG_FORMAT: 'pretty', LOG_LEVEL: 'info' };
    const terminal = spawn('script', ['-q', '-f', '-c', shellCommand, '/dev/null'], {
      cwd: ROOT,
      env: childEnvironment(env),
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    terminal.stdout!.on('data', (chunk) => (output += chunk));
    terminal.stderr!.on('data', (chunk) => (output += chunk));
    const closed = new Promise((resolve) => terminal.on('close', resolve));
    await waitUntil(() => output.includes('Press Ctrl-C to stop.') || terminal.exitCode !== null, 'the start banner in the terminal', {
      timeoutMs: 240_000,
      intervalMs: 200,
    });
    assert.equal(terminal.exitCode, null, `the start ended early:\n${output}`);
    const postgres = postgresPid();
    const saldo = saldoPid();
    stray(saldo);
    terminal.kill('SIGKILL');
    await closed;
    await waitUntil(() => !isRunning(saldo), 'Saldo to stop after its terminal closed', { timeoutMs: 60_000, intervalMs: 100 });
    assert.equal(existsSync(LOCK_FILE), false, 'PostgreSQL removed its lock file: Saldo shut it down cleanly');
    assert.equal(isRunning(postgres), false, `PostgreSQL (pid ${postgres}) no longer runs`);
    assert.deepEqual(errorLines(output), [], 'no error line while it ran');
  });

  it('starts after the stack was killed (SIGKILL): it stops the PostgreSQL left running and the demo balances are all there', async () => {
    const killed = startMain(firstEnv);
    later.push(killed);
    await waitForBanner(killed);
    const balances = await tenantBalances(firstEnv);
    assert.ok(Array.isArray(balances) && balances.length > 0, 'the demo tenants');
    const leftRunning = postgresPid();
    process.kill(-killed.child.pid!, 'SIGKILL');
    await killed.exit;
    assert.ok(isRunning(leftRunning), 'PostgreSQL, in its own process group, outlives the killed stack');

    const next = startMain(firstEnv);
    later.push(next);
    await waitForBanner(next);
    assert.equal(isRunning(leftRunning), false, 'the PostgreSQL left running was stopped');
    assert.notEqual(postgresPid(), leftRunning);
    assert.deepEqual(await tenantBalances(firstEnv), balances);
    await assertStopsCleanlyOn(next, 'SIGINT');
  });

  it('with WEB_SERVER=nginx, a start after a killed one stops the nginx and pebble it left running, and Ctrl-C stops them in order', async () => {
    const env = {
      ...firstEnv,
      WEB_SERVER: 'nginx',
      NGINX_HTTP_PORT: String(await freePort()),
      NGINX_HTTPS_PORT: String(await freePort()),
      LOCAL_DNS_PORT: String(await freePort()),
      LOCAL_DNS_MANAGEMENT_PORT: String(await freePort()),
    };
    const killed = startMain(env);
    later.push(killed);
    await waitForBanner(killed);
    const leftRunning = await customDomainHelpers(killed.child.pid!);
    stray(...Object.values(leftRunning));
    // Killed with its whole process group: nginx, pebble and pebble-challtestsrv run in their own, like PostgreSQL.
    process.kill(-killed.child.pid!, 'SIGKILL');
    await killed.exit;
    for (const [name, pid] of Object.entries(leftRunning)) assert.ok(isRunning(pid), `${name} outlives the killed stack`);

    const next = startMain(env);
    later.push(next);
    await waitForBanner(next);
    for (const [name, pid] of Object.entries(leftRunning)) assert.equal(isRunning(pid), false, `the ${name} left running was stopped`);
    const running = await customDomainHelpers(next.child.pid!);
    stray(...Object.values(running));
    // Ctrl-C reaches Saldo only: nginx dying under it would be logged as an error ("nginx exited").
    await assertStopsCleanlyOn(next, 'SIGINT');
    for (const [name, pid] of Object.entries(running)) assert.equal(isRunning(pid), false, `Saldo stopped ${name}`);
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

  /**
   * A crashed PostgreSQL leaves postmaster.pid behind; after a reboot its pid may belong to another process of the same
   * user, which PostgreSQL then refuses to ignore. (As root, PostgreSQL runs as the postgres user.) `argv0` is the name
   * that process shows in ps.
   */
  function staleLockTakenOverBy(argv0: string): { pid: number; lockFile: string } {
    const asPostgres = userInfo().uid === 0 ? Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()) : undefined;
    squatter = spawn('sleep', ['600'], { argv0, stdio: 'ignore', ...(asPostgres !== undefined ? { uid: asPostgres } : {}) });
    writeFileSync(LOCK_FILE, `${squatter.pid}\n${join(home, 'pg')}\n1700000000\n${postgresPort}\n/tmp\n127.0.0.1\n  1234567         0\nready   \n`);
    if (asPostgres !== undefined) spawnSync('chown', ['postgres', LOCK_FILE]);
    return { pid: squatter.pid!, lockFile: LOCK_FILE.replaceAll('.', '\\.') };
  }

  it('names a stale lock left by a crash and what to delete', async () => {
    const { pid, lockFile } = staleLockTakenOverBy('sleep');
    const result = await startFailure(await startEnvironment(postgresPort));
    assert.equal(result.code, 1);
    assertOneLine(
      result.stderr,
      new RegExp(`Stale lock in the data directory: ${lockFile} names pid ${pid}, which is now \`sleep\`, not PostgreSQL .*: delete that file and start again`),
    );
    squatter!.kill('SIGKILL');
    rmSync(LOCK_FILE);
  });

  it("leaves alone another PostgreSQL that took over a stale lock's pid, and names the file to delete", async () => {
    // Not this directory's server (the machine's own PostgreSQL, say): a start must not shut it down.
    const { pid, lockFile } = staleLockTakenOverBy('postgres');
    const result = await startFailure(await startEnvironment(postgresPort));
    assert.equal(result.code, 1);
    assertOneLine(
      result.stderr,
      new RegExp(
        `Stale lock in the data directory: ${lockFile} names pid ${pid}, which is now \`postgres\`, not this directory's PostgreSQL .*: delete that file`,
      ),
    );
    assert.ok(isRunning(pid), 'the other PostgreSQL still runs');
    squatter!.kill('SIGKILL');
    rmSync(LOCK_FILE);
  });
});
