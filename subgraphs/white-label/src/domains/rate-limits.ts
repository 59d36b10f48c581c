import type { EntityManager } from '@mikro-orm/postgresql';
import { ErrorCode, SaldoError } from '@saldo/graphql';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** One of the CA's limits (Let's Encrypt's published ones), counted over `certificate_order` before a new order. */
export interface RateLimit {
  name: 'CERTIFICATES_PER_REGISTERED_DOMAIN' | 'DUPLICATE_CERTIFICATES' | 'FAILED_VALIDATIONS' | 'NEW_ORDERS_PER_ACCOUNT';
  limit: number;
  windowMs: number;
  description: string;
}

export const LETS_ENCRYPT_LIMITS: Readonly<Record<RateLimit['name'], RateLimit>> = Object.freeze({
  CERTIFICATES_PER_REGISTERED_DOMAIN: {
    name: 'CERTIFICATES_PER_REGISTERED_DOMAIN',
    limit: 50,
    windowMs: 7 * DAY,
    description: '50 certificates per registered domain per 7 days',
  },
  DUPLICATE_CERTIFICATES: { name: 'DUPLICATE_CERTIFICATES', limit: 5, windowMs: 7 * DAY, description: '5 certificates for the same hostname per 7 days' },
  FAILED_VALIDATIONS: { name: 'FAILED_VALIDATIONS', limit: 5, windowMs: HOUR, description: '5 failed validations per hostname per hour' },
  NEW_ORDERS_PER_ACCOUNT: { name: 'NEW_ORDERS_PER_ACCOUNT', limit: 300, windowMs: 3 * HOUR, description: '300 new orders per account per 3 hours' },
});

export interface OrderSubject {
  hostname: string;
  registeredDomain: string;
  accountId: string | null;
  /** Renewals are exempt from the per-registered-domain limit (as at Let's Encrypt), not from the others. */
  renewal: boolean;
}

export type RateLimitDecision = { allowed: true } | { allowed: false; limit: RateLimit; retryAt: Date };

/**
 * The limits an order for `subject` would break, counted in one statement. For each limit the `limit` most recent
 * matching orders inside its window are read: when there are that many, the oldest of them leaves the window at
 * `retryAt`, and the limit frees up then (if nothing else is ordered meanwhile). Pending orders count as issued
 * certificates (they will most likely become one).
 */
export async function checkRateLimits(em: EntityManager, subject: OrderSubject, now: Date = new Date()): Promise<RateLimitDecision> {
  const limits = LETS_ENCRYPT_LIMITS;
  const since = (limit: RateLimit) => new Date(now.getTime() - limit.windowMs);
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (limit: RateLimit, where: string, values: unknown[]) => {
    parts.push(
      `(select '${limit.name}' as name, created_at from certificate_order where ${where} and created_at > ? order by created_at desc limit ${limit.limit})`,
    );
    params.push(...values, since(limit));
  };
  if (!subject.renewal) {
    add(limits.CERTIFICATES_PER_REGISTERED_DOMAIN, `registered_domain = ? and kind = 'ISSUE' and state in ('PENDING', 'VALID')`, [subject.registeredDomain]);
  }
  add(limits.DUPLICATE_CERTIFICATES, `hostname = ? and state in ('PENDING', 'VALID')`, [subject.hostname]);
  add(limits.FAILED_VALIDATIONS, `hostname = ? and state = 'INVALID'`, [subject.hostname]);
  if (subject.accountId) add(limits.NEW_ORDERS_PER_ACCOUNT, 'account_id = ?', [subject.accountId]);
  const rows = await em.execute<Array<{ name: RateLimit['name']; created_at: Date }>>(parts.join(' union all '), params);

  let worst: { limit: RateLimit; retryAt: Date } | undefined;
  for (const limit of Object.values(limits)) {
    const hits = rows.filter((row) => row.name === limit.name);
    if (hits.length < limit.limit) continue;
    const oldest = Math.min(...hits.map((row) => new Date(row.created_at).getTime()));
    const retryAt = new Date(oldest + limit.windowMs);
    if (!worst || retryAt > worst.retryAt) worst = { limit, retryAt };
  }
  return worst ? { allowed: false, ...worst } : { allowed: true };
}

/** The refusal a caller sees: RATE_LIMITED, which limit, and when it frees up. */
export function rateLimitedError(decision: Extract<RateLimitDecision, { allowed: false }>, hostname: string, now: Date = new Date()): SaldoError {
  return new SaldoError(
    ErrorCode.RateLimited,
    `Certificate for ${hostname} not requested: the CA allows ${decision.limit.description}. Try again after ${decision.retryAt.toISOString()}.`,
    {
      limit: decision.limit.name,
      retryAt: decision.retryAt.toISOString(),
      retryAfterSeconds: Math.max(1, Math.ceil((decision.retryAt.getTime() - now.getTime()) / 1000)),
    },
  );
}
