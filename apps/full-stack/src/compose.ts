import { readFile } from 'node:fs/promises';
import YAML from 'yaml';

/** One service of docker-compose.yml, with anchors merged and `${VAR:-default}` interpolated. */
export interface ComposeService {
  name: string;
  image?: string;
  /** True when the service is built from this repository (`build: .` or a target of it). */
  built: boolean;
  command: string[];
  environment: Record<string, string>;
  /** depends_on: service -> condition (service_started, service_healthy, service_completed_successfully). */
  dependsOn: Record<string, string>;
  /** Mounted named volumes (`keys:/keys:ro`): volume name -> path inside the container. */
  volumes: Array<{ volume: string; target: string }>;
  /** Published container ports (`"127.0.0.1:4002:4002"` -> 4002). */
  ports: number[];
}

export interface ComposeFile {
  services: ComposeService[];
}

/**
 * Compose's variable interpolation (the subset docker-compose.yml uses): `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `$$` for a literal dollar. Values come from `env` (the shell of `docker compose up`, here the launcher's).
 */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
    (match, name: string | undefined, operator: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$';
      const current = env[name!];
      if (operator === ':-') return current === undefined || current === '' ? (fallback ?? '') : current;
      if (operator === '-') return current === undefined ? (fallback ?? '') : current;
      return current ?? '';
    },
  );
}

function asStringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  // A string command is split like compose does for the exec form (no shell).
  return String(value)
    .split(/\s+/)
    .filter((part) => part.length > 0);
}

function asEnvironment(value: unknown, env: Record<string, string | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const entry of value.map(String)) {
      const at = entry.indexOf('=');
      if (at > 0) result[entry.slice(0, at)] = interpolate(entry.slice(at + 1), env);
    }
  } else if (value && typeof value === 'object') {
    for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
      result[key] = raw === null || raw === undefined ? '' : interpolate(String(raw), env);
    }
  }
  return result;
}

function asDependsOn(value: unknown): Record<string, string> {
  if (Array.isArray(value)) return Object.fromEntries(value.map((name) => [String(name), 'service_started']));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, { condition?: string } | null>).map(([name, spec]) => [name, spec?.condition ?? 'service_started']),
    );
  }
  return {};
}

/** Parses compose YAML text (merge keys `<<` resolved, variables interpolated from `env`). */
export function parseCompose(text: string, env: Record<string, string | undefined>): ComposeFile {
  const document = YAML.parse(text, { merge: true, maxAliasCount: -1 }) as { services?: Record<string, Record<string, unknown>> };
  const services = Object.entries(document.services ?? {}).map(([name, spec]): ComposeService => ({
    name,
    ...(typeof spec.image === 'string' ? { image: spec.image } : {}),
    built: spec.build !== undefined,
    command: asStringList(spec.command).map((part) => interpolate(part, env)),
    environment: asEnvironment(spec.environment, env),
    dependsOn: asDependsOn(spec.depends_on),
    volumes: asStringList(spec.volumes)
      .map((entry) => entry.split(':'))
      .filter((parts) => parts.length >= 2 && /^[A-Za-z0-9][\w.-]*$/.test(parts[0]!))
      .map((parts) => ({ volume: parts[0]!, target: parts[1]! })),
    ports: asStringList(spec.ports)
      .map((entry) => Number(entry.split(':').at(-1)))
      .filter((port) => Number.isInteger(port)),
  }));
  return { services };
}

export async function readCompose(path: string, env: Record<string, string | undefined>): Promise<ComposeFile> {
  return parseCompose(await readFile(path, 'utf8'), env);
}

/** Services in an order that starts every dependency first (compose's depends_on). */
export function startOrder(services: ComposeService[]): ComposeService[] {
  const byName = new Map(services.map((service) => [service.name, service]));
  const ordered: ComposeService[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (service: ComposeService): void => {
    if (state.get(service.name) === 'done') return;
    if (state.get(service.name) === 'visiting') throw new Error(`docker-compose.yml: dependency cycle through ${service.name}`);
    state.set(service.name, 'visiting');
    for (const dependency of Object.keys(service.dependsOn)) {
      const target = byName.get(dependency);
      if (!target) throw new Error(`docker-compose.yml: ${service.name} depends on unknown service ${dependency}`);
      visit(target);
    }
    state.set(service.name, 'done');
    ordered.push(service);
  };
  for (const service of services) visit(service);
  return ordered;
}
