/**
 * One way to read configuration: a zod schema per service, parsed once at start-up.
 * Every problem is reported together so an operator fixes the environment in one go.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export { z };

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration for ${service}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `input` with `schema`; throws ConfigError naming every offending variable. */
export function parseConfig<S extends z.ZodType>(service: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(withFileValues(withoutEmptyValues(input)));
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${key}: ${issue.message}`;
  });
  throw new ConfigError(service, problems);
}

const booleanFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => value === 'true' || value === '1' || value === 'yes');

/** `FOO=` in an environment means "not set" (compose files write it that way), not an empty value. */
function withoutEmptyValues(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== ''));
}

/**
 * `FOO_FILE=/run/secrets/foo` supplies FOO from a file (Docker secrets, key files), unless FOO is set itself.
 * An unreadable file is reported like any other invalid value.
 */
function withFileValues(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const values: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [key, path] of Object.entries(values)) {
    if (!key.endsWith('_FILE') || typeof path !== 'string') continue;
    const target = key.slice(0, -'_FILE'.length);
    if (values[target] !== undefined) continue;
    try {
      values[target] = readFileSync(path, 'utf8');
    } catch (error) {
      values[target] = { unreadable: `${path}: ${(error as Error).message}` };
    }
  }
  return values;
}

/** Field helpers shared by the service config modules. Environment values are strings; these coerce them. */
function decodeEncryptionKey(value: string, ctx: z.RefinementCtx): Buffer {
  const trimmed = value.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, base64 or hex (e.g. `openssl rand -base64 32`)' });
  return key;
}

/** A comma-separated setting as its trimmed, non-empty entries (`a, b,,c` -> `['a', 'b', 'c']`). */
const commaList = () =>
  z.string().transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

export const fields = {
  /** A comma-separated list of trimmed, non-empty entries; `.pipe(...)` checks each. */
  commaList,
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  postgresUrl: () => z.string().refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// URL'),
  /** Comma-separated list of postgres URLs, at least one. */
  postgresUrlList: () => commaList().pipe(z.array(z.string().regex(/^postgres(ql)?:\/\//, 'every entry must be a postgres:// URL')).min(1)),
  boolean: (fallback: boolean) => booleanFlag.default(fallback),
  /** A flag whose absence means "decide from other settings" (undefined). */
  optionalBoolean: () => booleanFlag.optional(),
  /** A PEM-encoded key, given inline or through the matching `_FILE` variable. */
  pem: () =>
    z
      .string({ error: 'must be a PEM key (set it, or the matching _FILE variable to a readable file)' })
      .refine((value) => /-----BEGIN [A-Z ]+-----/.test(value), 'must be a PEM key'),
  /** A 32-byte encryption key (AES-256), base64 (44 characters) or hex (64); `_FILE` works. */
  encryptionKey: () => z.string().transform(decodeEncryptionKey),
  /** Comma-separated 32-byte keys (earlier keys during a rotation: they still open what they sealed). */
  encryptionKeyList: () =>
    commaList()
      .pipe(z.array(z.string().transform(decodeEncryptionKey)))
      .default([]),
  logLevel: () => z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** `auto`: pretty lines at a terminal, JSON otherwise (a file, a pipe, a container's log driver). */
  logFormat: () => z.enum(['pretty', 'json', 'auto']).default('auto'),
  nodeEnv: () => z.enum(['development', 'production', 'test']).default('development'),
};
