import { fields, z } from '@saldo/config';
import { breakerConfigFields } from '@saldo/resilience';
import { DEFAULT_EXCHANGE_RATES, parseExchangeRateTable } from './domain/fx.js';
import { DEFAULT_TOPUP_LIMITS, parseTopUpLimits } from './domain/top-up-limits.js';

/** A Stripe secret or restricted key: `sk_test_...`, `sk_live_...`, `rk_test_...`, `rk_live_...`. */
const STRIPE_KEY = /^(sk|rk)_(test|live)_[A-Za-z0-9_]{1,255}$/;
const LIVE_KEY = /^(sk|rk)_live_/;

const urlWithProtocol = (protocols: readonly string[]) =>
  z.url().refine((value) => protocols.includes(new URL(value).protocol), `must be an ${protocols.map((p) => p.replace(':', '')).join(' or ')} URL`);

/**
 * Payments' settings: Stripe, top-up limits, exchange rates, the top-up lock and auto-top-up. Every Stripe setting
 * is optional as a group: without STRIPE_SECRET_KEY top-ups and auto-top-ups are refused with STRIPE_NOT_CONFIGURED
 * and the webhook endpoint answers 503 (the development stack runs a local Stripe stand-in instead, see
 * apps/dev-stack). Billing's config (src/config.ts) adds them to the shared subgraph settings; README.md lists them.
 */
export const paymentsConfigFields = {
  /** Secret (or restricted) API key; unset disables Stripe top-ups. */
  STRIPE_SECRET_KEY: z.string().regex(STRIPE_KEY, 'must be a Stripe secret key (sk_test_..., sk_live_..., rk_...)').optional(),
  /** Signing secret of the webhook endpoint (whsec_...); required with STRIPE_SECRET_KEY. */
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=_]{1,255}$/, 'must be a webhook signing secret (whsec_...)')
    .optional(),
  /** How old a signed webhook may be (replay window), seconds. */
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  /**
   * Points stripe-node at a local Stripe stand-in (http://127.0.0.1:12111) instead of api.stripe.com: host, port and
   * protocol are taken from it. Development and tests only; refused together with a live key.
   */
  STRIPE_API_BASE: urlWithProtocol(['http:', 'https:']).optional(),
  STRIPE_TIMEOUT_MS: fields.positiveInt(20_000),
  /** stripe-node's automatic retries of network failures (it sends idempotency keys, so a retry never pays twice). */
  STRIPE_MAX_NETWORK_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
  /**
   * Circuit breaker on every Stripe call: this many transient failures in a row (unreachable, 5xx, 429) open it, and
   * calls fail at once with DEPENDENCY_UNAVAILABLE until, STRIPE_BREAKER_HALF_OPEN_MS later, a trial call succeeds.
   */
  ...breakerConfigFields('STRIPE', { failureThreshold: 5, halfOpenAfterMs: 30_000 }),
  /** Where Stripe Checkout sends the payer back; `{CHECKOUT_SESSION_ID}` is replaced by Stripe. */
  TOPUP_SUCCESS_URL: urlWithProtocol(['http:', 'https:']).default('http://localhost:4000/top-up/success?session_id={CHECKOUT_SESSION_ID}'),
  TOPUP_CANCEL_URL: urlWithProtocol(['http:', 'https:']).default('http://localhost:4000/top-up/cancelled'),
  /**
   * Per-currency bounds of one top-up in major units, `EUR:5.00-10000.00,JPY:500-1500000`; entries override the
   * defaults (DEFAULT_TOPUP_LIMITS) currency by currency. A currency with no limits cannot be paid in.
   */
  TOPUP_LIMITS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      try {
        return { ...DEFAULT_TOPUP_LIMITS, ...(value ? parseTopUpLimits(value) : {}) };
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /**
   * The static exchange-rate table, `USD/EUR=0.9250,EUR/USD=1.0811`: exact decimals (up to 12 places), one entry per
   * direction. Replaces the built-in table (DEFAULT_EXCHANGE_RATES) when set.
   */
  EXCHANGE_RATES: z
    .string()
    .optional()
    .transform((value, ctx) => {
      try {
        return value ? parseExchangeRateTable(value) : DEFAULT_EXCHANGE_RATES;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Recorded on every converted entry as the rate's source. */
  EXCHANGE_RATES_SOURCE: z.string().min(1).max(100).optional(),
  /** Shares the per-tenant top-up lock between billing instances (SET NX PX); unset: an in-process lock. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  /** Lease of the per-tenant top-up lock: longer than creating one Checkout Session can take. */
  TOPUP_LOCK_TTL_MS: z.coerce.number().int().min(1000).max(300_000).default(30_000),
  /** Auto-top-up: first wait after a declined attempt; doubles per consecutive decline up to the maximum. */
  AUTO_TOPUP_BACKOFF_BASE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  AUTO_TOPUP_BACKOFF_MAX_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(86_400),
  /** Auto-top-up worker: safety-net poll for attempts (commits wake it at once). */
  AUTO_TOPUP_POLL_INTERVAL_MS: fields.positiveInt(2_000),
  /** Auto-top-up worker: retry delay when Stripe could not be reached (same attempt, same idempotency key). */
  AUTO_TOPUP_RETRY_SECONDS: fields.positiveInt(30),
};
export const paymentsConfigSchema = z.object(paymentsConfigFields);
export type PaymentsConfig = z.output<typeof paymentsConfigSchema>;

/** Rules across payments settings (a superRefine of the service's config). */
export function checkPaymentsConfig(value: PaymentsConfig, ctx: z.RefinementCtx): void {
  if (Boolean(value.STRIPE_SECRET_KEY) !== Boolean(value.STRIPE_WEBHOOK_SECRET)) {
    ctx.addIssue({ code: 'custom', path: ['STRIPE_WEBHOOK_SECRET'], message: 'STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must be set together' });
  }
  if (value.STRIPE_API_BASE && value.STRIPE_SECRET_KEY && LIVE_KEY.test(value.STRIPE_SECRET_KEY)) {
    ctx.addIssue({
      code: 'custom',
      path: ['STRIPE_API_BASE'],
      message: 'is for a local Stripe stand-in; refusing to send a live key anywhere but api.stripe.com',
    });
  }
  if (value.AUTO_TOPUP_BACKOFF_MAX_SECONDS < value.AUTO_TOPUP_BACKOFF_BASE_SECONDS) {
    ctx.addIssue({ code: 'custom', path: ['AUTO_TOPUP_BACKOFF_MAX_SECONDS'], message: 'must be at least AUTO_TOPUP_BACKOFF_BASE_SECONDS' });
  }
}
