import { fileURLToPath } from 'node:url';
import { fields, parseConfig, z, type Env } from '@saldo/config';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const embeddedConfigSchema = z
  .object({
    /** Where the embedded PostgreSQL keeps its data between runs. */
    SALDO_HOME: z.string().default(`${REPO_ROOT}.saldo`),
    HOST: z.string().default('127.0.0.1'),
    GATEWAY_PORT: fields.port(4000),
    TENANTS_PORT: fields.port(4001),
    BILLING_PORT: fields.port(4002),
    USAGE_FORECAST_PORT: fields.port(4003),
    WHITE_LABEL_PORT: fields.port(4004),
    EMBEDDED_POSTGRES_PORT: fields.port(54329),
    EMBEDDED_POSTGRES_PASSWORD: z.string().min(8).default('saldo-embedded'),
    SHARDS_PER_SUBGRAPH: z.coerce.number().int().min(1).max(16).default(2),
    SEED_DEMO_DATA: fields.boolean(true),
    /**
     * A Stripe test account for billing (both or neither). Unset: the development Stripe stand-in runs on
     * STRIPE_STAND_IN_PORT and top-ups "pay" on its labelled checkout page.
     */
    STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_test_/, 'must be a Stripe TEST key (sk_test_...): the embedded default is for development')
      .optional(),
    STRIPE_WEBHOOK_SECRET: z
      .string()
      .regex(/^whsec_/, 'must be a webhook signing secret (whsec_...)')
      .optional(),
    STRIPE_STAND_IN_PORT: fields.port(4005),
    /** The portal's development sign-in (demo users by role, authorization code + PKCE like a real provider). */
    DEV_SIGN_IN_PORT: fields.port(4006),
    /**
     * Custom domains. `none`: domains stop at VERIFIED (nothing serves them). `nginx` (nginx on PATH): the white-label
     * service runs nginx under SALDO_HOME/nginx on NGINX_HTTP_PORT / NGINX_HTTPS_PORT and obtains certificates from
     * ACME_DIRECTORY_URL, or, when that is unset, from a local pebble with pebble-challtestsrv as its DNS.
     */
    WEB_SERVER: z.enum(['none', 'nginx']).default('none'),
    NGINX_HTTP_PORT: fields.port(8080),
    NGINX_HTTPS_PORT: fields.port(8443),
    ACME_DIRECTORY_URL: z.url().optional(),
    /** The local DNS (pebble-challtestsrv) of the local ACME CA: its DNS port and its management API (set-txt). */
    LOCAL_DNS_PORT: fields.port(8053),
    LOCAL_DNS_MANAGEMENT_PORT: fields.port(8055),
    /**
     * Notification mail. Unset: the development mail catcher (MailDev) runs on MAILDEV_SMTP_PORT with its web inbox on
     * MAILDEV_WEB_PORT, and every mail lands there. Set to an smtp(s):// URL to send through a real server instead.
     */
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\/\S+$/, 'must be an smtp:// or smtps:// URL')
      .optional(),
    MAILDEV_SMTP_PORT: fields.port(1025),
    MAILDEV_WEB_PORT: fields.port(1080),
    LOG_LEVEL: fields.logLevel(),
    LOG_FORMAT: fields.logFormat(),
  })
  .superRefine((value, ctx) => {
    if (Boolean(value.STRIPE_SECRET_KEY) !== Boolean(value.STRIPE_WEBHOOK_SECRET)) {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_WEBHOOK_SECRET'], message: 'STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must be set together' });
    }
  });

export type EmbeddedConfig = z.output<typeof embeddedConfigSchema>;

export function loadEmbeddedConfig(env: Env): EmbeddedConfig {
  return parseConfig('embedded', embeddedConfigSchema, env);
}
