import { HeaderMap } from '@apollo/server';
import { ANONYMOUS, ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { looksLikeApiKey, type PortalTokenVerifier } from '@saldo/identity';
import { retryAfterSecondsOf } from '../protection/index.js';
import type { ApiKeyClient } from './api-key-client.js';

export interface Credentials {
  authorization?: string | undefined;
  apiKey?: string | undefined;
  /** The Host header (a partner's custom domain narrows the identity; see HostPartnerResolver). */
  host?: string | undefined;
}

/**
 * Turns request credentials into a verified identity: `Authorization: Bearer <JWT>` for portal users and
 * admins, `Authorization: Bearer saldo_pk_...` or `X-Api-Key` for partners. No credentials is anonymous;
 * bad credentials are UNAUTHENTICATED (never silently anonymous).
 */
export function createAuthenticator(deps: { portalTokens?: PortalTokenVerifier | undefined; apiKeys?: ApiKeyClient | undefined }) {
  const authenticateSession = createSessionAuthenticator(deps);
  return async (credentials: Credentials): Promise<Identity> => (await authenticateSession(credentials)).identity;
}

/** A verified caller and, for a bearer token, when it expires (API keys have no expiry; revocation is checked anew). */
export interface Session {
  identity: Identity;
  /** ms since epoch; undefined for anonymous callers and API keys. */
  expiresAt?: number | undefined;
  /**
   * API keys only: calls `onInvalid` once the key stops being valid (revoked, rotation grace over), checked afresh
   * within the revocation bound; returns the function that stops watching. Long-lived connections use it.
   */
  watch?: ((onInvalid: () => void) => () => void) | undefined;
}

/**
 * The authenticator of long-lived connections (subscriptions over WebSocket or SSE): the same rules as
 * `createAuthenticator`, plus the token's expiry, at which the connection's subscriptions end.
 */
export function createSessionAuthenticator(deps: { portalTokens?: PortalTokenVerifier | undefined; apiKeys?: ApiKeyClient | undefined }) {
  const unauthenticated = (message: string) => new SaldoError(ErrorCode.Unauthenticated, message, { http: { status: 401 } });

  return async (credentials: Credentials): Promise<Session> => {
    try {
      return await authenticate(credentials);
    } catch (error) {
      throw unavailable(error) ?? error;
    }
  };

  async function authenticate(credentials: Credentials): Promise<Session> {
    let token = credentials.apiKey?.trim();
    if (!token && credentials.authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(credentials.authorization);
      if (!match?.[1]) throw unauthenticated('Authorization must be "Bearer <token>".');
      token = match[1];
    }
    if (!token) return { identity: ANONYMOUS };
    if (looksLikeApiKey(token)) {
      if (!deps.apiKeys) throw unauthenticated('API keys are not accepted by this gateway.');
      const apiKeys = deps.apiKeys;
      const key = token;
      return { identity: await apiKeys.verify(key), watch: (onInvalid) => apiKeys.watch(key, onInvalid) };
    }
    if (!deps.portalTokens) throw unauthenticated('Bearer tokens are not accepted by this gateway.');
    try {
      const session = await deps.portalTokens.verifySession(token);
      // The issuer keeps rate-limit budgets of different identity providers apart (docs/security.md, attack 8).
      return { ...session, identity: { ...session.identity, issuer: deps.portalTokens.issuer } };
    } catch (error) {
      // A bad token is the caller's problem (401, like a bad API key), never a server error.
      if (error instanceof SaldoError && error.code === ErrorCode.Unauthenticated) throw unauthenticated(error.message);
      throw error;
    }
  }
}

/**
 * A dependency of authentication (the identity provider's JWKS, the API key owner) that is down, as the HTTP answer:
 * 503 with Retry-After when the circuit says when it tries again, the code and its details unchanged. Never 401: the
 * credentials may well be good, and a client told they are bad signs its user out instead of retrying. Null for
 * every other error.
 */
function unavailable(error: unknown): SaldoError | null {
  const extensions = (error as { extensions?: Record<string, unknown> }).extensions;
  if (extensions?.['code'] !== ErrorCode.DependencyUnavailable) return null;
  const retryAfterMs = extensions['retryAfterMs'];
  const headers = new HeaderMap(typeof retryAfterMs === 'number' ? [['retry-after', String(retryAfterSecondsOf(retryAfterMs))]] : []);
  const { code: _code, http: _http, ...details } = extensions;
  return new SaldoError(ErrorCode.DependencyUnavailable, (error as Error).message, { ...details, http: { status: 503, headers } });
}
