import { fields, parseConfig, z, type Env } from '@saldo/config';
import { REPO_ROOT } from './launcher.js';

/**
 * `pnpm start:full`'s own settings. Everything else comes from docker-compose.yml, interpolated from this same
 * environment the way `docker compose up` would (e.g. STRIPE_SECRET_KEY, JWT_ISSUER, ACME_DIRECTORY_URL).
 */
const fullStackConfigSchema = z.object({
  /** Volumes (keys, nginx prefix), mail and the development issuer's key. */
  FULL_STACK_HOME: z.string().min(1).default(`${REPO_ROOT}/.saldo/full`),
  /** The PostgreSQL server standing in for the compose `postgres` service (databases are created on it). */
  FULL_STACK_POSTGRES_URL: fields.postgresUrl().default('postgres://postgres@127.0.0.1:5432'),
  /** Prepended to the compose file's database names. */
  FULL_STACK_DATABASE_PREFIX: z
    .string()
    .regex(/^([a-z][a-z0-9_]*_)?$/, 'lower-case letters, digits and _, ending in _')
    .default(''),
  /** The Redis standing in for the compose `redis` service. */
  FULL_STACK_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  /** `compose`: the compose file's ports (4000 for the gateway ...); `free`: free ports, printed at start. */
  FULL_STACK_PORTS: z.enum(['compose', 'free']).default('compose'),
  /** Comma-separated services to run (with what they depend on); all when unset. */
  FULL_STACK_ONLY: fields.commaList().optional(),
  /** Without JWT_ISSUER: a development issuer (JWKS served by the launcher) whose tokens are printed at start. */
  FULL_STACK_DEV_ISSUER: fields.boolean(true),
  /** Where the services' processes find nginx and kcat. */
  PATH: z.string().default('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'),
  LOG_LEVEL: fields.logLevel(),
  LOG_FORMAT: fields.logFormat(),
});

export type FullStackConfig = z.output<typeof fullStackConfigSchema>;

export function loadFullStackConfig(env: Env): FullStackConfig {
  return parseConfig('full-stack', fullStackConfigSchema, env);
}
