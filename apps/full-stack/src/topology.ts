import { join } from 'node:path';
import type { ComposeFile, ComposeService } from './compose.js';

/**
 * What each compose service becomes on this machine. Services built from this repository run their `node` command
 * as a child process; infrastructure images are replaced by what the machine has: PostgreSQL and Redis (already
 * running), Kafka (librdkafka's mock cluster in a kcat process), MailDev (its npm package in a child process), nginx
 * (Debian's binary with the compose command's arguments).
 */
export type ServiceKind =
  | { kind: 'node'; args: string[] }
  | { kind: 'postgres' }
  | { kind: 'redis' }
  | { kind: 'kafka' }
  | { kind: 'maildev' }
  | { kind: 'nginx'; waitFor: string | undefined; args: string[] }
  /** Prometheus, Grafana, the OpenTelemetry collector and Jaeger: not run on this machine (the services still serve /metrics). */
  | { kind: 'monitoring' };

/** MailDev's image listens for SMTP on 1025 and serves its inbox on 1080. */
export const MAILDEV_SMTP_PORT = 1025;
export const MAILDEV_WEB_PORT = 1080;

/** How the compose file's world maps onto this machine. */
export interface Topology {
  /** The repository root (the image's WORKDIR, /app). */
  repoRoot: string;
  /** Named volumes: volume name -> local directory. */
  volumes: Record<string, string>;
  /** Server URL (no database) that stands in for the compose postgres service, e.g. postgres://postgres@127.0.0.1:5432 */
  postgresUrl: string;
  /** Prepended to every database name (tests and benchmarks use a unique one; empty by default). */
  databasePrefix: string;
  /** Stands in for the compose redis service. */
  redisUrl: string;
  /** The mock cluster's brokers, standing in for the compose kafka service. */
  kafkaBrokers: string[];
  /** Compose port -> local port (identity unless asked for free ports). */
  ports: Map<number, number>;
  /** The container user (1000:1000 in the image) -> this user, when not root. */
  owner: { uid: number; gid: number } | undefined;
}

export function classify(service: ComposeService): ServiceKind {
  const image = service.image ?? '';
  if (service.built) {
    if (service.command[0] !== 'node') throw new Error(`docker-compose.yml: ${service.name} is built from the repository but its command is not \`node ...\``);
    return { kind: 'node', args: service.command.slice(1) };
  }
  if (/^(docker\.io\/)?(library\/)?postgres(:|$)/.test(image)) return { kind: 'postgres' };
  if (/^(docker\.io\/)?(library\/)?redis(:|$)/.test(image)) return { kind: 'redis' };
  if (/kafka(:|$)/.test(image)) return { kind: 'kafka' };
  if (/maildev(:|$)/.test(image)) return { kind: 'maildev' };
  if (/^(docker\.io\/)?(library\/)?nginx(:|$)/.test(image)) return { kind: 'nginx', ...nginxCommand(service) };
  if (/^(docker\.io\/)?(prom\/prometheus|grafana\/grafana|otel\/opentelemetry-collector[\w-]*|jaegertracing\/[\w-]+)(:|$)/.test(image))
    return { kind: 'monitoring' };
  throw new Error(`docker-compose.yml: the launcher does not know how to run ${service.name} (${image || 'no image'}): teach apps/full-stack/src/topology.ts`);
}

/** Splits a POSIX shell word list (plain words, 'single' and "double" quotes). */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|"((?:\\.|[^"\\])*)"|(\S+)/g;
  for (const match of text.matchAll(pattern)) words.push(match[1] ?? match[2]?.replace(/\\(.)/g, '$1') ?? match[3]!);
  return words;
}

/**
 * The nginx service's command is `sh -c "until [ -e CONF ]; do sleep 1; done; exec nginx ARGS"`: wait until the worker
 * made a configuration live, then nginx in the foreground. The launcher does the waiting itself and runs nginx
 * directly, so nginx is the process that gets SIGTERM (a waiting shell would die of it instead of exiting 0).
 */
function nginxCommand(service: ComposeService): { waitFor: string | undefined; args: string[] } {
  const script = service.command[0] === 'sh' && service.command[1] === '-c' ? (service.command[2] ?? '') : service.command.join(' ');
  const wait = /until \[ -e (\S+) \]; do sleep \d+; done;/.exec(script);
  const exec = /(?:^|;)\s*(?:exec\s+)?(nginx\s.*)$/.exec(script);
  if (!exec) throw new Error(`docker-compose.yml: cannot find the nginx command of ${service.name}`);
  return { waitFor: wait?.[1], args: shellWords(exec[1]!).slice(1) };
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every port a compose service listens on, as written in docker-compose.yml (what a free-port topology remaps). */
export function composePorts(compose: ComposeFile): number[] {
  const ports = new Set<number>();
  for (const service of compose.services) {
    const kind = classify(service).kind;
    if (kind === 'postgres' || kind === 'redis' || kind === 'kafka') continue;
    if (kind === 'maildev') [MAILDEV_SMTP_PORT, MAILDEV_WEB_PORT].forEach((port) => ports.add(port));
    for (const port of service.ports) ports.add(port);
    for (const [key, value] of Object.entries(service.environment)) {
      if (/(^|_)PORT$/.test(key) && /^\d+$/.test(value)) ports.add(Number(value));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

function kindsByName(compose: ComposeFile): Map<string, ServiceKind['kind']> {
  return new Map(compose.services.map((service) => [service.name, classify(service).kind]));
}

/**
 * A value of docker-compose.yml as it must read on this machine: the postgres, redis and kafka services become the
 * machine's servers and the mock cluster; every other `service:port` becomes `127.0.0.1:<local port>`; volume paths
 * and /app/ become local directories.
 */
export function localizeValue(value: string, compose: ComposeFile, topology: Topology, volumesOfService: ComposeService['volumes']): string {
  const kinds = kindsByName(compose);
  let result = value;
  for (const [name, kind] of kinds) {
    const host = escape(name);
    if (kind === 'postgres') {
      result = result.replace(
        new RegExp(`postgres(?:ql)?://(?:[^@/\\s,]*@)?${host}(?::\\d+)?/([A-Za-z0-9_]+)`, 'g'),
        (_match, database: string) => `${topology.postgresUrl.replace(/\/+$/, '')}/${topology.databasePrefix}${database}`,
      );
    } else if (kind === 'redis') {
      result = result.replace(new RegExp(`rediss?://${host}(?::\\d+)?/?`, 'g'), topology.redisUrl.replace(/\/+$/, ''));
    } else if (kind === 'kafka') {
      result = result.replace(new RegExp(`(?<![\\w.-])${host}:\\d+(,${host}:\\d+)*`, 'g'), topology.kafkaBrokers.join(','));
    }
  }
  for (const [name, kind] of kinds) {
    if (kind === 'postgres' || kind === 'redis' || kind === 'kafka') continue;
    result = result.replace(
      new RegExp(`(?<![\\w.-])${escape(name)}:(\\d+)`, 'g'),
      (_match, port: string) => `127.0.0.1:${topology.ports.get(Number(port)) ?? port}`,
    );
  }
  for (const { volume, target } of volumesOfService) {
    const local = topology.volumes[volume];
    if (local) result = result.replace(new RegExp(`(^|[\\s'"=,])${escape(target)}(?=/|$|[\\s'",])`, 'g'), `$1${local}`);
  }
  result = result.replace(/(^|[\s'"=,])\/app\//g, `$1${topology.repoRoot.replace(/\/+$/, '')}/`);
  if (topology.owner) result = result.replace(/\b1000([:,])1000\b/g, `${topology.owner.uid}$1${topology.owner.gid}`);
  return result;
}

/** Settings the launcher adds to a service's compose environment, with the reason (printed and documented). */
export const LOCAL_ADDITIONS: Record<string, { when: (env: Record<string, string>) => boolean; value: string; why: string }> = {
  KAFKA_IDEMPOTENT: {
    when: (env) => env.EVENT_BUS === 'kafka',
    value: 'false',
    why: "librdkafka's mock cluster names a controller that is none of its brokers: kafkajs cannot get an idempotent producer id",
  },
};

/** A compose service's environment on this machine (see localizeValue; HOST 0.0.0.0 becomes loopback). */
export function localEnvironment(service: ComposeService, compose: ComposeFile, topology: Topology): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(service.environment)) {
    let local = localizeValue(value, compose, topology, service.volumes);
    if (/(^|_)PORT$/.test(key) && /^\d+$/.test(local)) local = String(topology.ports.get(Number(local)) ?? local);
    // Inside a container 0.0.0.0 is the container's own interfaces; here it would be every interface of the machine.
    if (key === 'HOST' && local === '0.0.0.0') local = '127.0.0.1';
    env[key] = local;
  }
  for (const [key, addition] of Object.entries(LOCAL_ADDITIONS)) {
    if (env[key] === undefined && addition.when(env)) env[key] = addition.value;
  }
  return env;
}

/** The local directory of each named volume under `home`. */
export function volumeDirectories(compose: ComposeFile, home: string): Record<string, string> {
  const names = new Set(compose.services.flatMap((service) => service.volumes.map((mount) => mount.volume)));
  return Object.fromEntries([...names].map((name) => [name, join(home, 'volumes', name)]));
}
