import { BASE, type PortalConfig } from './config';

/**
 * Sign-in with the configured OpenID Connect issuer: authorization code flow with PKCE (S256). The access token lives in
 * memory only (never localStorage); sessionStorage keeps the PKCE verifier and state during the redirect, and a flag
 * saying this tab was signed in, so a reload (or the return from Checkout) signs in again silently (prompt=none) while
 * the identity provider still has its session.
 */
export interface Session {
  token: string;
  expiresAt: number;
  claims: Claims;
}

export interface Claims {
  sub: string;
  role: 'platform-admin' | 'partner' | 'tenant-admin' | 'tenant-member';
  tenant_id?: string;
  partner_id?: string;
}

const PENDING = 'saldo.portal.pending-sign-in';
const SIGNED_IN = 'saldo.portal.signed-in';

interface Endpoints {
  authorization: string;
  token: string;
  endSession: string | null;
}

let discovered: Promise<Endpoints> | undefined;

async function endpoints(config: PortalConfig): Promise<Endpoints> {
  const { oidc } = config;
  if (oidc.authorizationEndpoint && oidc.tokenEndpoint) {
    return { authorization: oidc.authorizationEndpoint, token: oidc.tokenEndpoint, endSession: oidc.endSessionEndpoint };
  }
  if (!oidc.issuer) throw new Error('No identity provider is configured (JWT_ISSUER).');
  discovered ??= fetch(`${oidc.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`).then(async (response) => {
    if (!response.ok) throw new Error(`OpenID discovery failed (${response.status})`);
    const document = (await response.json()) as Record<string, unknown>;
    return {
      authorization: String(document['authorization_endpoint']),
      token: String(document['token_endpoint']),
      endSession: typeof document['end_session_endpoint'] === 'string' ? document['end_session_endpoint'] : null,
    };
  });
  return discovered;
}

const callbackUrl = () => `${location.origin}${BASE}callback`;

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Leaves for the identity provider; `silent` asks it not to show anything (prompt=none). */
export async function beginSignIn(config: PortalConfig, options: { silent?: boolean; returnTo?: string } = {}): Promise<void> {
  const { authorization } = await endpoints(config);
  const verifier = randomString();
  const state = randomString();
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo: options.returnTo ?? location.pathname + location.search }));
  const url = new URL(authorization);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.oidc.clientId,
    redirect_uri: callbackUrl(),
    scope: config.oidc.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(options.silent ? { prompt: 'none' } : {}),
  }).toString();
  location.assign(url.toString());
}

export class SignInError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** Completes the redirect back from the identity provider: the code exchanged (with the verifier) for the token. */
export async function completeSignIn(config: PortalConfig): Promise<{ session: Session; returnTo: string }> {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as { verifier: string; state: string; returnTo: string } | null;
  sessionStorage.removeItem(PENDING);
  if (params.get('error')) throw new SignInError(params.get('error')!);
  if (!pending || params.get('state') !== pending.state || !params.get('code')) throw new SignInError('invalid_state');
  const { token: tokenEndpoint } = await endpoints(config);
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code')!,
      redirect_uri: callbackUrl(),
      client_id: config.oidc.clientId,
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new SignInError('token_exchange_failed');
  const body = (await response.json()) as { access_token?: string; expires_in?: number };
  if (!body.access_token) throw new SignInError('token_exchange_failed');
  const session = sessionFromToken(body.access_token, body.expires_in);
  sessionStorage.setItem(SIGNED_IN, '1');
  const returnTo = pending.returnTo.startsWith(BASE) && !pending.returnTo.startsWith(`${BASE}callback`) ? pending.returnTo : BASE;
  return { session, returnTo };
}

export function sessionFromToken(token: string, expiresIn?: number): Session {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Claims & { exp?: number };
  const expiresAt = claims.exp ? claims.exp * 1000 : Date.now() + (expiresIn ?? 3600) * 1000;
  return { token, expiresAt, claims };
}

/** Whether this tab signed in before (a reload tries a silent sign-in). */
export const wasSignedIn = () => sessionStorage.getItem(SIGNED_IN) === '1';
export const forgetSignIn = () => sessionStorage.removeItem(SIGNED_IN);

/** Forgets the token and ends the identity provider's session when it offers an end-session endpoint. */
export async function signOut(config: PortalConfig): Promise<void> {
  forgetSignIn();
  const { endSession } = await endpoints(config).catch(() => ({ endSession: null }));
  if (!endSession) {
    location.assign(BASE);
    return;
  }
  const url = new URL(endSession);
  url.searchParams.set('post_logout_redirect_uri', `${location.origin}${BASE}`);
  url.searchParams.set('client_id', config.oidc.clientId);
  location.assign(url.toString());
}
