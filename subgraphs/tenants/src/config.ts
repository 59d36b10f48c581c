import { fields, parseConfig, z, type Env } from '@saldo/config';
import { breakerConfigFields } from '@saldo/resilience';
import { subgraphConfigSchema } from '@saldo/subgraph';

const emailList = fields.commaList().pipe(z.array(z.email('every entry must be an email address')));

/** The tenants subgraph: the shared subgraph settings plus notification delivery (mail, webhooks). */
export const tenantsConfigSchema = subgraphConfigSchema
  .extend({
    /** SMTP server for notification mail (smtp:// or smtps://, credentials in the URL). Unset: no mail is sent. */
    SMTP_URL: z
      .string()
      .refine((value) => /^smtps?:\/\/[^\s]+$/.test(value) && URL.canParse(value), 'must be an smtp:// or smtps:// URL')
      .optional(),
    /** Sender address of notification mail; the display name is the tenant's brand. */
    MAIL_FROM: z.email('must be an email address').default('notifications@saldo.example'),
    /**
     * Pooled SMTP connections (each carries one message at a time, so this bounds mail throughput: about one message
     * per round trip and a half per connection). 20 stays within what relays commonly allow one client (Postfix: 50).
     */
    SMTP_MAX_CONNECTIONS: fields.positiveInt(20),
    SMTP_TIMEOUT_MS: fields.positiveInt(10_000),
    /** The SMTP server's circuit breaker: failures in a row (no reply, 421) that open it; how long until a trial send. */
    ...breakerConfigFields('SMTP', { failureThreshold: 5, halfOpenAfterMs: 10_000 }),
    /**
     * Where the notifier fetches an issued document's PDF for its mail, when it cannot reach the gateway's public origin
     * the links point at (e.g. billing's internal URL, http://billing:4002: billing serves the same signed paths).
     * Unset: the link as it is.
     */
    DOCUMENT_FETCH_ORIGIN: z.url().optional(),
    /**
     * How long the notifier waits for an issued document's PDF. Longer than an SMTP reply: billing renders on demand
     * and, under a burst of postings, answered after more than 10 s (the attempt then failed and waited its back-off).
     */
    DOCUMENT_FETCH_TIMEOUT_MS: fields.positiveInt(30_000),
    /** The PDF fetch's circuit breaker (`document-pdf`; its timeout is DOCUMENT_FETCH_TIMEOUT_MS). */
    ...breakerConfigFields('DOCUMENT_PDF', { failureThreshold: 5, halfOpenAfterMs: 10_000 }),
    /** Platform operators' addresses (comma-separated): fraud cases. */
    NOTIFY_OPERATOR_EMAILS: emailList.default([]),
    /** Allow loopback, private and link-local webhook targets and plain http. Default: on except in production. */
    WEBHOOK_ALLOW_PRIVATE_TARGETS: fields.optionalBoolean(),
    WEBHOOK_TIMEOUT_MS: fields.positiveInt(10_000),
    WEBHOOK_MAX_SOCKETS_PER_HOST: fields.positiveInt(32),
    /** A circuit per receiver host: failures in a row (no answer, 502/503/504) that open it; how long until a trial delivery. */
    ...breakerConfigFields('WEBHOOK', { failureThreshold: 5, halfOpenAfterMs: 30_000 }),
    /** Retries: base x 2^(n-1) seconds, capped at the max delay, for up to the window (3 days); then the endpoint is disabled. */
    WEBHOOK_RETRY_BASE_SECONDS: fields.positiveInt(5),
    WEBHOOK_RETRY_MAX_DELAY_SECONDS: fields.positiveInt(6 * 3600),
    WEBHOOK_RETRY_WINDOW_SECONDS: fields.positiveInt(3 * 24 * 3600),
    /** Lanes (receiver and tenant) sent at once per dispatched batch. */
    NOTIFY_CONCURRENCY: fields.positiveInt(64),
    /** How long a claimed delivery stays with its sender before another instance may take it over. */
    NOTIFY_LEASE_MS: fields.positiveInt(120_000),
    /**
     * Key sealing webhook signing secrets at rest (AES-256-GCM, 32 bytes, base64 or hex; `_FILE` works). Required in
     * production; unset elsewhere: a random key per process (secrets stored by an earlier process no longer open).
     */
    WEBHOOK_SECRETS_KEY: fields.encryptionKey().optional(),
    /** Earlier keys, comma-separated: they still open what they sealed (key rotation); secrets are sealed anew with the current key. */
    WEBHOOK_SECRETS_PREVIOUS_KEYS: fields.encryptionKeyList(),
  })
  .superRefine((value, ctx) => {
    if (value.NODE_ENV === 'production' && !value.WEBHOOK_SECRETS_KEY)
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_SECRETS_KEY'], message: 'is required in production (webhook secrets are stored sealed with it)' });
  });
export type TenantsConfig = ReturnType<typeof tenantsConfigSchema.parse>;

export function loadTenantsConfig(env: Env): TenantsConfig {
  return parseConfig('tenants', tenantsConfigSchema, env);
}
