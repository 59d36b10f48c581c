import { breakerConfigFields } from '@saldo/resilience';
import { fields, parseConfig, z, type Env } from '@saldo/config';
import { subgraphConfigSchema } from '@saldo/subgraph';

const list = () =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim().toLowerCase().replace(/\.$/, ''))
        .filter((part) => part.length > 0),
    )
    .pipe(z.array(z.string()));

/**
 * White-label settings: the shared subgraph settings plus custom domains (hostname policy, ownership checks), ACME
 * (certificates) and the web server (nginx) that serves the domains.
 */
export const whiteLabelConfigSchema = subgraphConfigSchema
  .extend({
    /** `nginx`: domains get certificates and are served; `none`: domains stop at VERIFIED (nothing to serve them). */
    WEB_SERVER: z.enum(['none', 'nginx']).default('none'),
    NGINX_BINARY: z.string().min(1).default('nginx'),
    /** nginx's prefix directory: configuration generations, certificates, pid, logs and temp files live under it. */
    NGINX_PREFIX: z.string().min(1).optional(),
    /** Start and stop nginx as a child process (development, tests); false: nginx runs elsewhere with the config written here. */
    NGINX_MANAGE: fields.boolean(true),
    NGINX_LISTEN_ADDRESS: z.string().min(1).default('0.0.0.0'),
    NGINX_HTTP_PORT: fields.port(80),
    NGINX_HTTPS_PORT: fields.port(443),
    NGINX_WORKER_PROCESSES: z
      .string()
      .regex(/^(auto|[1-9]\d*)$/)
      .default('auto'),
    /** Where nginx sends custom-domain traffic: the gateway (GraphQL) and, under /portal, the portal's origin. */
    GATEWAY_UPSTREAM_URL: z.url().default('http://127.0.0.1:4000'),
    /** Where nginx sends `/.well-known/acme-challenge/` (any white-label instance); default: this instance. */
    ACME_CHALLENGE_UPSTREAM_URL: z.url().optional(),
    /** The ACME CA's directory (RFC 8555); required with a web server. */
    ACME_DIRECTORY_URL: z.url().optional(),
    ACME_CONTACT_EMAIL: z.email().optional(),
    /** Extra CA certificates (PEM) to trust for the ACME server's own HTTPS (a local pebble); `_FILE` works. */
    ACME_CA_CERTIFICATES: z.string().optional(),
    /** Seconds one ACME HTTP request may take. */
    ACME_TIMEOUT_SECONDS: fields.positiveInt(30),
    /** The CA's circuit breaker: failures in a row (no answer, 5xx) that open it; how long until a trial request. */
    ...breakerConfigFields('ACME', { failureThreshold: 5, halfOpenAfterMs: 60_000 }),
    /** Key sealing certificate keys, chains and the ACME account key at rest (required with a web server); `_FILE` works. */
    DOMAINS_ENCRYPTION_KEY: fields.encryptionKey().optional(),
    /** Earlier keys, comma-separated: still open what they sealed (rotation). */
    DOMAINS_ENCRYPTION_PREVIOUS_KEYS: fields.encryptionKeyList(),
    /** DNS servers (`ip` or `ip:port`) the TXT ownership check asks; default: the system's. */
    DOMAIN_DNS_RESOLVERS: fields.commaList().optional(),
    /** The HTTP proof of ownership (the partner's server answers the token) besides DNS TXT; its port (80 in production). */
    DOMAIN_HTTP_VERIFICATION: fields.boolean(true),
    DOMAIN_HTTP_VERIFICATION_PORT: fields.port(80),
    /** How long after adding a domain the platform keeps re-checking its ownership proof by itself (every 5 minutes). */
    DOMAIN_VERIFICATION_RECHECK_HOURS: fields.positiveInt(72),
    /** Let the HTTP proof fetch from loopback and private addresses (development and tests only). */
    DOMAIN_HTTP_VERIFICATION_ALLOW_PRIVATE: fields.boolean(false),
    /** The platform's own names: refused as custom domains, subdomains too. */
    PLATFORM_HOSTNAMES: list().default(['localhost']),
    /** Reserved suffixes accepted anyway, for development with a local CA (e.g. `example,test`); empty in production. */
    CUSTOM_DOMAIN_RESERVED_SUFFIXES: list().default([]),
    /** Seconds the web server may take to serve a new certificate after a reload before the change is rolled back. */
    NGINX_RELOAD_TIMEOUT_SECONDS: fields.positiveInt(15),
  })
  .superRefine((value, ctx) => {
    if (value.WEB_SERVER !== 'nginx') return;
    if (!value.NGINX_PREFIX) ctx.addIssue({ code: 'custom', path: ['NGINX_PREFIX'], message: 'required when WEB_SERVER=nginx' });
    if (!value.ACME_DIRECTORY_URL) ctx.addIssue({ code: 'custom', path: ['ACME_DIRECTORY_URL'], message: 'required when WEB_SERVER=nginx' });
    if (!value.DOMAINS_ENCRYPTION_KEY) ctx.addIssue({ code: 'custom', path: ['DOMAINS_ENCRYPTION_KEY'], message: 'required when WEB_SERVER=nginx' });
  });
export type WhiteLabelConfig = z.output<typeof whiteLabelConfigSchema>;

export function loadWhiteLabelConfig(env: Env): WhiteLabelConfig {
  return parseConfig('white-label', whiteLabelConfigSchema, env);
}
