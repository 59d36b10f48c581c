import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { exportJWK, importSPKI } from 'jose';
import { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, ensureKeyPair, signDevToken, type KeyPairPem } from '@saldo/identity';
import type { Identity } from '@saldo/graphql';
import type { Logger } from '@saldo/service';
import { startKafkaMockCluster, type KafkaMockCluster } from '@saldo/testing';
import { readCompose, type ComposeFile, type ComposeService } from './compose.js';
import { checkServiceEnvironment } from './compose-check.js';
import {
  MAILDEV_SMTP_PORT,
  MAILDEV_WEB_PORT,
  classify,
  composePorts,
  localEnvironment,
  localizeValue,
  volumeDirectories,
  type ServiceKind,
  type Topology,
} from './topology.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const MAILDEV_CLI = fileURLToPath(new URL('./maildev-cli.js', import.meta.url));

export interface FullStackOptions {
  composePath?: string;
  /** Volumes (keys, nginx prefix), mail and the development issuer's key live under it. */
  home: string;
  /** Stands in for the compose postgres service (no database in the path). */
  postgresUrl: string;
  databasePrefix?: string;
  redisUrl: string;
  /** Free ports instead of the compose file's (tests, benchmarks: several stacks on one machine). */
  freePorts?: boolean;
  /** The environment compose would interpolate `${VAR:-default}` from (the launcher's own). */
  interpolation: Record<string, string | undefined>;
  /**
   * When JWT_ISSUER is not given: serve a development JWKS (key under home/dev-issuer) and interpolate JWT_ISSUER and
   * JWT_JWKS_URL with it, so `issueToken` makes tokens the gateway accepts. Off: portal tokens need your provider.
   */
  devIssuer?: boolean;
  /**
   * Settings laid over the compose environment of node services, by service name (`*`: every one), e.g. smaller
   * database pools for tests on a PostgreSQL shared with other work. Checked against the schemas like the rest.
   */
  overrides?: Record<string, Record<string, string>>;
  /** Start only these services (and what they depend on); all by default. */
  only?: string[];
  logger: Logger;
  /** Every line a service prints (default: the logger, prefixed with the service). */
  output?: (service: string, line: string) => void;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** PATH of the services' processes (nginx, kcat); a container gets its image's, here the launcher's. */
  path?: string;
}

export interface ServiceExit {
  service: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface FullStack {
  compose: ComposeFile;
  topology: Topology;
  /** Each started service's environment as its process got it (node services). */
  environments: Record<string, Record<string, string>>;
  /** Process ids of the started processes by service. */
  pids: Record<string, number>;
  /** `http://127.0.0.1:<port>` of a node service. */
  url(service: string): string;
  readonly graphqlUrl: string;
  /** Every database the services use (the compose names with the prefix). */
  databaseUrls: string[];
  /** A bearer token of the development issuer (devIssuer only). */
  issueToken(identity: Identity, ttlSeconds?: number): Promise<string>;
  /** The identity key pair the keygen service made (the gateway signs with it). */
  identityKeys(): Promise<KeyPairPem>;
  /** Stops every service, dependents first; resolves with each process's exit. */
  stop(): Promise<ServiceExit[]>;
}

/** A failed start names the databases its services had been configured with (`databaseUrls`), for cleanup. */
export function databasesOfFailedStart(error: unknown): string[] {
  return (error as { databaseUrls?: string[] } | undefined)?.databaseUrls ?? [];
}

interface Running {
  service: ComposeService;
  kind: ServiceKind;
  stop(): Promise<ServiceExit | undefined>;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls until `check` is true; the launcher's stand-in for compose's healthchecks. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, abort?: { exited: boolean }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (abort?.exited) throw new Error(`${what}: the process exited`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Services a service needs: its depends_on plus the infrastructure its environment names (SMTP_URL -> maildev), so
 * that is also stopped after it. References between application services (white-label's GATEWAY_UPSTREAM_URL) are
 * not dependencies: they would make cycles, and compose does not order them either.
 */
function dependencies(service: ComposeService, compose: ComposeFile): string[] {
  const names = new Set(Object.keys(service.dependsOn));
  const text = Object.values(service.environment).join('\n');
  for (const other of compose.services) {
    if (other.built || classify(other).kind === 'nginx') continue;
    if (other.name !== service.name && new RegExp(`(?<![\\w.-])${other.name.replace(/[.-]/g, '\\$&')}:\\d+`).test(text)) names.add(other.name);
  }
  return [...names];
}

async function devIssuerServer(home: string): Promise<{ keys: KeyPairPem; url: string; server: Server }> {
  const keys = await ensureKeyPair(`${home}/dev-issuer`, 'portal-dev');
  const jwk = { ...(await exportJWK(await importSPKI(keys.publicKeyPem, 'EdDSA'))), alg: 'EdDSA', use: 'sig', kid: 'saldo-full-dev' };
  const body = JSON.stringify({ keys: [jwk] });
  const server = createHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('dev issuer did not listen');
  return { keys, url: `http://127.0.0.1:${address.port}/jwks.json`, server };
}

/**
 * Runs docker-compose.yml's services as processes of this machine: each repository service as `node <its command>`
 * with its compose environment (localized, see topology.ts), the machine's PostgreSQL and Redis, librdkafka's mock
 * cluster for Kafka, MailDev and nginx as child processes. Services start when what they depend on is ready (healthy:
 * `/ready` answers; completed: exited 0) and stop dependents first, each with SIGTERM.
 */
export async function startFullStack(options: FullStackOptions): Promise<FullStack> {
  const { logger } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 40_000;
  const output = options.output ?? ((service: string, line: string) => logger.info(line, { service }));
  const interpolation = { ...options.interpolation };

  let issuer: Awaited<ReturnType<typeof devIssuerServer>> | undefined;
  if (options.devIssuer && !interpolation.JWT_ISSUER) {
    issuer = await devIssuerServer(options.home);
    interpolation.JWT_ISSUER = DEV_TOKEN_ISSUER;
    interpolation.JWT_AUDIENCE = DEV_TOKEN_AUDIENCE;
    interpolation.JWT_JWKS_URL = issuer.url;
  }

  const compose = await readCompose(options.composePath ?? `${REPO_ROOT}/docker-compose.yml`, interpolation);
  const byName = new Map(compose.services.map((service) => [service.name, service]));
  const kinds = new Map(compose.services.map((service) => [service.name, classify(service)]));
  const deps = new Map(compose.services.map((service) => [service.name, dependencies(service, compose)]));

  const wanted = new Set<string>();
  const want = (name: string): void => {
    if (wanted.has(name)) return;
    if (!byName.has(name)) throw new Error(`unknown compose service ${name}`);
    wanted.add(name);
    for (const dependency of deps.get(name) ?? []) want(dependency);
  };
  for (const name of options.only ?? compose.services.map((service) => service.name)) want(name);

  const ports = new Map<number, number>();
  for (const port of composePorts(compose)) ports.set(port, options.freePorts ? await freePort() : port);
  const uid = process.getuid?.() ?? 0;
  const topology: Topology = {
    repoRoot: REPO_ROOT,
    volumes: volumeDirectories(compose, options.home),
    postgresUrl: options.postgresUrl.replace(/\/+$/, ''),
    databasePrefix: options.databasePrefix ?? '',
    redisUrl: options.redisUrl,
    kafkaBrokers: [],
    ports,
    owner: uid === 0 ? undefined : { uid, gid: process.getgid?.() ?? uid },
  };

  const running = new Map<string, Running>();
  const started = new Map<string, Promise<void>>();
  const environments: Record<string, Record<string, string>> = {};
  const pids: Record<string, number> = {};
  let kafka: KafkaMockCluster | undefined;
  let stopping = false;

  const spawnService = (
    service: ComposeService,
    command: string,
    args: string[],
    env: Record<string, string>,
  ): { child: ChildProcess; state: { exited: boolean }; exit: Promise<ServiceExit> } => {
    // Own process group: a terminal's Ctrl-C reaches only the launcher, which stops services in dependency order.
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { PATH: options.path ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const state = { exited: false };
    const exit = once(child, 'exit').then(([code, signal]) => {
      state.exited = true;
      // One-shot services (key generation) are expected to exit; anything else exiting on its own is an incident.
      if (!stopping && service.environment.PORT !== undefined) logger.error('service exited', { service: service.name, code, signal });
      return { service: service.name, code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim()) output(service.name, line);
        }
      });
    }
    if (child.pid) pids[service.name] = child.pid;
    return { child, state, exit };
  };

  const terminate = async (child: ChildProcess, exit: Promise<ServiceExit>): Promise<ServiceExit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    const result = await exit;
    clearTimeout(forced);
    return result;
  };

  const startOne = async (service: ComposeService): Promise<void> => {
    const kind = kinds.get(service.name)!;
    switch (kind.kind) {
      case 'postgres': {
        const url = new URL(topology.postgresUrl);
        if (!(await reachable(url.hostname, Number(url.port || 5432))))
          throw new Error(`${service.name}: no PostgreSQL at ${url.host} (start the machine's server)`);
        return;
      }
      case 'redis': {
        const url = new URL(topology.redisUrl);
        if (!(await reachable(url.hostname, Number(url.port || 6379))))
          throw new Error(`${service.name}: no Redis at ${url.host} (start the machine's server)`);
        return;
      }
      case 'kafka': {
        kafka = await startKafkaMockCluster({ brokers: 3, detached: true });
        topology.kafkaBrokers.push(...kafka.brokers);
        if (kafka.pid) pids[service.name] = kafka.pid;
        const cluster = kafka;
        running.set(service.name, {
          service,
          kind,
          async stop() {
            await cluster.stop();
            const exit = await cluster.exited;
            return { service: service.name, ...exit };
          },
        });
        return;
      }
      case 'maildev': {
        const smtp = ports.get(MAILDEV_SMTP_PORT)!;
        const web = ports.get(MAILDEV_WEB_PORT)!;
        const mailDir = `${options.home}/mail`;
        await mkdir(mailDir, { recursive: true });
        const { child, state, exit } = spawnService(
          service,
          process.execPath,
          [MAILDEV_CLI, '--ip', '127.0.0.1', '--smtp', String(smtp), '--web', String(web), '--dir', mailDir],
          {},
        );
        running.set(service.name, { service, kind, stop: () => terminate(child, exit) });
        await until(service.name, () => reachable('127.0.0.1', smtp), readyTimeoutMs, state);
        return;
      }
      case 'nginx': {
        const localize = (value: string): string => localizeValue(value, compose, topology, service.volumes);
        const waitFor = kind.waitFor ? localize(kind.waitFor) : undefined;
        const args = kind.args.map(localize);
        let child: ChildProcess | undefined;
        let exit: Promise<ServiceExit> | undefined;
        const waiting = { cancelled: false };
        // Like the compose command: nginx starts once the worker made a configuration live (its first sync).
        const launch = (async () => {
          if (waitFor) {
            while (
              !waiting.cancelled &&
              !(await access(waitFor).then(
                () => true,
                () => false,
              ))
            )
              await new Promise((resolve) => setTimeout(resolve, 500));
          }
          if (waiting.cancelled) return;
          ({ child, exit } = spawnService(service, 'nginx', args, {}));
        })();
        running.set(service.name, {
          service,
          kind,
          async stop() {
            waiting.cancelled = true;
            await launch;
            return child && exit ? terminate(child, exit) : undefined;
          },
        });
        return;
      }
      case 'monitoring':
        return;
      case 'node': {
        for (const { volume } of service.volumes) await mkdir(topology.volumes[volume]!, { recursive: true });
        const env = { ...localEnvironment(service, compose, topology), ...options.overrides?.['*'], ...options.overrides?.[service.name] };
        // The monitoring services do not run here: export no traces to a collector that is not there.
        for (const name of Object.keys(env)) {
          if (!name.startsWith('OTEL_EXPORTER_OTLP_')) continue;
          const host = /^https?:\/\/([^:/]+)/.exec(service.environment[name] ?? '')?.[1];
          const target = compose.services.find((other) => other.name === host);
          if (target && !target.built && classify(target).kind === 'monitoring') delete env[name];
        }
        const args = kind.args.map((arg) => localizeValue(arg, compose, topology, service.volumes));
        environments[service.name] = env;
        for (const problem of checkServiceEnvironment(service, env)) throw new Error(`docker-compose.yml does not match the code: ${problem}`);
        const { child, state, exit } = spawnService(service, process.execPath, args, env);
        running.set(service.name, { service, kind, stop: () => terminate(child, exit) });
        if (env.PORT) {
          const port = Number(env.PORT);
          await until(
            service.name,
            async () =>
              fetch(`http://127.0.0.1:${port}/ready`).then(
                (response) => response.ok,
                () => false,
              ),
            readyTimeoutMs,
            state,
          );
        } else {
          const result = await exit;
          running.delete(service.name);
          if (result.code !== 0) throw new Error(`${service.name} exited with ${result.signal ?? result.code}`);
        }
        return;
      }
    }
  };

  // A service starts when everything it depends on is ready; independent services start together.
  const start = (name: string): Promise<void> => {
    let promise = started.get(name);
    if (!promise) {
      promise = (async () => {
        await Promise.all((deps.get(name) ?? []).filter((dependency) => wanted.has(dependency)).map(start));
        if (stopping) return;
        logger.info('starting', { service: name });
        await startOne(byName.get(name)!);
      })();
      started.set(name, promise);
    }
    return promise;
  };

  // Dependents stop before what they depend on (nginx, gateway, subgraphs, then Kafka and MailDev).
  const stopAll = async (): Promise<ServiceExit[]> => {
    stopping = true;
    await Promise.allSettled([...started.values()]);
    const exits: ServiceExit[] = [];
    const stopped = new Map<string, Promise<void>>();
    const stopOne = (name: string): Promise<void> => {
      let promise = stopped.get(name);
      if (!promise) {
        promise = (async () => {
          const dependents = [...running.keys()].filter((other) => (deps.get(other) ?? []).includes(name));
          await Promise.all(dependents.map(stopOne));
          const service = running.get(name);
          if (!service) return;
          const exit = await service.stop();
          if (exit) {
            exits.push(exit);
            logger.info('stopped', { ...exit });
          }
        })();
        stopped.set(name, promise);
      }
      return promise;
    };
    await Promise.all([...running.keys()].map(stopOne));
    await new Promise<void>((resolve) => (issuer ? issuer.server.close(() => resolve()) : resolve()));
    return exits;
  };

  // A launcher that dies leaves no service behind.
  const killAll = (): void => {
    for (const pid of Object.values(pids)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killAll);

  const databaseUrlsOf = (): string[] => [
    ...new Set(
      Object.values(environments).flatMap((env) =>
        [env.CONTROL_DATABASE_URL, ...(env.SHARD_DATABASE_URLS ?? '').split(',')].filter((url): url is string => Boolean(url)),
      ),
    ),
  ];

  try {
    await Promise.all([...wanted].map(start));
  } catch (error) {
    await stopAll();
    process.off('exit', killAll);
    // The databases services created before the failure, so callers that use throwaway databases can drop them.
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { databaseUrls: databaseUrlsOf() });
  }

  const portOf = (name: string): number => {
    const port = environments[name]?.PORT;
    if (!port) throw new Error(`${name} is not a started HTTP service`);
    return Number(port);
  };
  const databaseUrls = databaseUrlsOf();
  const keysVolume = byName.get('gateway')?.volumes.find((mount) => mount.target === '/keys')?.volume ?? 'keys';

  let stoppedPromise: Promise<ServiceExit[]> | undefined;
  return {
    compose,
    topology,
    environments,
    pids,
    url: (name) => `http://127.0.0.1:${portOf(name)}`,
    get graphqlUrl() {
      return `http://127.0.0.1:${portOf('gateway')}/graphql`;
    },
    databaseUrls,
    async issueToken(identity, ttlSeconds) {
      if (!issuer) throw new Error('the full stack runs without the development issuer (JWT_ISSUER is set)');
      return signDevToken(issuer.keys.privateKeyPem, identity, ttlSeconds ? { ttlSeconds } : {});
    },
    identityKeys: () => ensureKeyPair(topology.volumes[keysVolume]!, 'identity'),
    stop() {
      stoppedPromise ??= stopAll().finally(() => process.off('exit', killAll));
      return stoppedPromise;
    },
  };
}
