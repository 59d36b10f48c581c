import type { JwksFetch } from '@saldo/identity';
import { DependencyGuard, breakerSettings, failingStatus, fetchThrough } from '@saldo/resilience';
import type { GatewayConfig } from '../config.js';

/** Counted as the dependency failing: it answered, but with a server error (a 4xx is the caller's problem). */
const serverError = failingStatus();

/**
 * The circuit breakers of the gateway's calls outside the query plan (subgraph fetches have their own per subgraph):
 * the identity provider's JWKS, the tenants subgraph's API key verification and white-label's custom-domain list.
 * Each has its timeout and `<PREFIX>_BREAKER_*` settings from the gateway's config, and reports its state in
 * `saldo_dependency_circuit_state{dependency}`.
 */
export function outboundGuards(config: GatewayConfig) {
  const jwks = new DependencyGuard({
    dependency: 'jwks',
    ...breakerSettings(config, 'JWKS'),
    // jose aborts the fetch at JWT_JWKS_TIMEOUT_MS itself; the guard's own timeout is a backstop just past it.
    timeoutMs: config.JWT_JWKS_TIMEOUT_MS + 500,
    isFailureResult: serverError,
  });
  const apiKeys = new DependencyGuard({
    dependency: 'api-keys',
    ...breakerSettings(config, 'API_KEY'),
    timeoutMs: config.API_KEY_TIMEOUT_MS,
    isFailureResult: serverError,
  });
  const customDomains = new DependencyGuard({
    dependency: 'custom-domains',
    ...breakerSettings(config, 'CUSTOM_DOMAINS'),
    timeoutMs: config.CUSTOM_DOMAINS_TIMEOUT_MS,
    isFailureResult: serverError,
  });
  return {
    jwks,
    apiKeys,
    customDomains,
    dispose() {
      for (const guard of [jwks, apiKeys, customDomains]) guard.dispose();
    },
  };
}

/** A fetch for jose's remote JWKS that goes through `guard` (jose's own abort signal and the guard's both apply). */
export function guardedFetch(guard: DependencyGuard): JwksFetch {
  return (url, options) => fetchThrough(guard, url, options);
}
