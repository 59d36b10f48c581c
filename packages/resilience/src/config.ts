import { fields } from '@saldo/config';
import type { BreakerSettings } from './guard.js';

type BreakerFieldNames<P extends string> = `${P}_BREAKER_FAILURES` | `${P}_BREAKER_HALF_OPEN_MS`;
type PositiveIntField = ReturnType<typeof fields.positiveInt>;

/**
 * The zod fields of one dependency's circuit breaker, for a service's config schema: `<PREFIX>_BREAKER_FAILURES`
 * (consecutive failures that open it) and `<PREFIX>_BREAKER_HALF_OPEN_MS` (how long it stays open before a trial call).
 */
export function breakerConfigFields<P extends string>(prefix: P, defaults: BreakerSettings): { [K in BreakerFieldNames<P>]: PositiveIntField } {
  return {
    [`${prefix}_BREAKER_FAILURES`]: fields.positiveInt(defaults.failureThreshold),
    [`${prefix}_BREAKER_HALF_OPEN_MS`]: fields.positiveInt(defaults.halfOpenAfterMs),
  } as { [K in BreakerFieldNames<P>]: PositiveIntField };
}

/** The settings of `prefix`'s breaker from a parsed config holding `breakerConfigFields(prefix, ...)`. */
export function breakerSettings<P extends string>(config: { [K in BreakerFieldNames<P>]: number }, prefix: P): BreakerSettings {
  return {
    failureThreshold: config[`${prefix}_BREAKER_FAILURES` as BreakerFieldNames<P>],
    halfOpenAfterMs: config[`${prefix}_BREAKER_HALF_OPEN_MS` as BreakerFieldNames<P>],
  };
}
