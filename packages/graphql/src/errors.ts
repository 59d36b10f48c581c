import { GraphQLError } from 'graphql';
import type { z } from 'zod';
import { findControlCharacter, invalidCharacters } from './control-characters.js';

/**
 * Stable error codes (extensions.code). Clients branch on these; renaming one is a breaking change.
 */
export const ErrorCode = {
  BadUserInput: 'BAD_USER_INPUT',
  InvalidCurrency: 'INVALID_CURRENCY',
  InvalidCountry: 'INVALID_COUNTRY',
  InvalidVatId: 'INVALID_VAT_ID',
  InvalidCursor: 'INVALID_CURSOR',
  InvalidId: 'INVALID_ID',
  StringTooLong: 'STRING_TOO_LONG',
  /** Input holding a control character (NUL, ESC, ...: C0 except tab and line breaks, and DEL); nothing was changed. */
  InvalidCharacters: 'INVALID_CHARACTERS',
  InvalidColor: 'INVALID_COLOR',
  InvalidUrl: 'INVALID_URL',
  InvalidEmail: 'INVALID_EMAIL',
  /** A well-formed URL Saldo will not call: a private, loopback or link-local target, or plain http outside development. */
  UrlNotAllowed: 'URL_NOT_ALLOWED',
  UnknownEventType: 'UNKNOWN_EVENT_TYPE',
  NotFound: 'NOT_FOUND',
  TenantNotFound: 'TENANT_NOT_FOUND',
  PartnerNotFound: 'PARTNER_NOT_FOUND',
  InvalidState: 'INVALID_STATE',
  InvalidHostname: 'INVALID_HOSTNAME',
  DomainTaken: 'DOMAIN_TAKEN',
  DomainNotFound: 'DOMAIN_NOT_FOUND',
  VerificationFailed: 'VERIFICATION_FAILED',
  RateLimited: 'RATE_LIMITED',
  /** Shard moves: no such shard; the tenant is there already; a move of it is unfinished; the target takes no tenants; too late to cancel. */
  UnknownShard: 'UNKNOWN_SHARD',
  SameShard: 'SAME_SHARD',
  TenantAlreadyMoving: 'TENANT_ALREADY_MOVING',
  TargetDraining: 'TARGET_DRAINING',
  MoveAlreadySwitched: 'MOVE_ALREADY_SWITCHED',
  /** Shard moves: starting it would pass the configured number of unfinished moves at once. */
  TooManyMoves: 'TOO_MANY_MOVES',
  /** A dependency (Stripe, a subgraph, ...) is failing: its circuit is open or it did not answer in time (@saldo/resilience); nothing was changed. */
  DependencyUnavailable: 'DEPENDENCY_UNAVAILABLE',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  Internal: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A domain error with a stable code; thrown by services, surfaced unchanged by the GraphQL edge. */
export class SaldoError extends GraphQLError {
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...details } });
    this.name = 'SaldoError';
  }

  get code(): ErrorCode {
    return this.extensions['code'] as ErrorCode;
  }
}

/**
 * Validates `input` with `schema`. Each zod issue may carry its own stable code in `params.code`
 * (set with `.refine(..., { params: { code } })` or via `coded()`); the first issue decides the error code,
 * all issues are listed in extensions.issues so a form can show every problem at once.
 */
export function validateInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  // Control characters are refused before anything else, whichever schema applies (see control-characters.ts).
  const unprintable = findControlCharacter(input);
  if (unprintable !== null) throw invalidCharacters(unprintable || 'input');
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    field: issue.path.join('.'),
    message: issue.message,
    code: issueCode(issue),
  }));
  const first = issues[0];
  throw new SaldoError(first?.code ?? ErrorCode.BadUserInput, issues.map((i) => `${i.field}: ${i.message}`).join('; '), {
    issues,
  });
}

function issueCode(issue: z.core.$ZodIssue): ErrorCode {
  if (issue.code === 'custom' && typeof issue.params?.['code'] === 'string') return issue.params['code'] as ErrorCode;
  if (issue.code === 'too_big' && issue.origin === 'string') return ErrorCode.StringTooLong;
  return ErrorCode.BadUserInput;
}
