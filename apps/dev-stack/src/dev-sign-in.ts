import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Identity } from '@saldo/graphql';
import { DEV_TOKEN_ISSUER, signDevToken } from '@saldo/identity';

/** One account the development sign-in offers (the embedded default has no user directory: its demo users by role). */
export interface DevUser {
  /** Stable key of the account (role and id), sent by the sign-in page's form. */
  key: string;
  label: string;
  detail: string;
  identity: Identity;
}

export interface DevSignIn {
  /** Base URL, e.g. http://127.0.0.1:4006 */
  readonly url: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly endSessionEndpoint: string;
  close(): Promise<void>;
}

const SESSION_COOKIE = 'saldo_dev_sign_in';
const CODE_TTL_MS = 60_000;
const GROUPS: Array<{ role: Identity['role']; title: string }> = [
  { role: 'platform-admin', title: 'Platform operators' },
  { role: 'partner', title: 'Partners (resellers)' },
  { role: 'tenant-admin', title: 'Tenant administrators' },
  { role: 'tenant-member', title: 'Tenant members (read only)' },
];

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const base64url = (buffer: Buffer) => buffer.toString('base64url');

/** Development users of a stack: the operator, each partner, and an administrator and a member of each tenant. */
export function demoUsers(
  partners: Array<{ id: string; name: string }>,
  tenants: Array<{ id: string; name: string; partner: { id: string; name: string } | null }>,
): DevUser[] {
  return [
    { key: 'platform-admin', label: 'Platform operator', detail: 'every tenant and partner', identity: { role: 'platform-admin', subject: 'dev-operator' } },
    ...partners.map((partner) => ({
      key: `partner:${partner.id}`,
      label: partner.name,
      detail: 'its own tenants',
      identity: { role: 'partner' as const, subject: `dev-partner-${partner.id}`, partnerId: partner.id },
    })),
    ...(['tenant-admin', 'tenant-member'] as const).flatMap((role) =>
      tenants.map((tenant) => ({
        key: `${role}:${tenant.id}`,
        label: tenant.name,
        detail: tenant.partner ? `through ${tenant.partner.name}` : 'direct customer',
        // Like a real provider's claims: the tenant's partner too (its branding before any tenant query).
        identity: { role, subject: `dev-${role}-${tenant.id}`, tenantId: tenant.id, ...(tenant.partner ? { partnerId: tenant.partner.id } : {}) },
      })),
    ),
  ];
}

/**
 * The embedded default's identity provider for the portal: an OpenID Connect-shaped authorization server (authorization
 * code + PKCE S256, the same flow the portal runs against a production issuer) whose sign-in page lists the demo users by
 * role instead of asking for a password. Tokens are the development issuer's (`pnpm token`): only the embedded gateway
 * trusts them. It keeps a session cookie like a real provider, so a reload of the portal signs in again silently
 * (prompt=none). Development only: never part of a production deployment.
 */
export async function startDevSignIn(options: {
  host: string;
  port: number;
  privateKeyPem: string;
  users: () => Promise<DevUser[]>;
  tokenTtlSeconds?: number;
}): Promise<DevSignIn> {
  const codes = new Map<string, { user: DevUser; redirectUri: string; clientId: string; challenge: string; expiresAt: number }>();
  const ttl = options.tokenTtlSeconds ?? 12 * 3600;

  const findUser = async (key: string | undefined) => (key ? (await options.users()).find((user) => user.key === key) : undefined);
  const cookieOf = (req: http.IncomingMessage) =>
    (req.headers.cookie ?? '')
      .split(';')
      .map((part) => part.trim().split('='))
      .find(([name]) => name === SESSION_COOKIE)?.[1];
  /** The portal's own callback on any origin (the platform's or a custom domain): nothing else may receive codes. */
  const validRedirect = (value: string | null): URL | undefined => {
    if (!value) return undefined;
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname.endsWith('/portal/callback') && !url.username ? url : undefined;
    } catch {
      return undefined;
    }
  };
  const redirect = (res: http.ServerResponse, location: string, headers: Record<string, string> = {}) => {
    res.writeHead(303, { location, 'cache-control': 'no-store', ...headers });
    res.end();
  };
  const back = (redirectUri: URL, params: Record<string, string>) => {
    const target = new URL(redirectUri);
    for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
    return target.toString();
  };
  const issueCode = (user: DevUser, redirectUri: URL, params: URLSearchParams) => {
    const code = base64url(randomBytes(32));
    codes.set(code, {
      user,
      redirectUri: redirectUri.toString(),
      clientId: params.get('client_id') ?? '',
      challenge: params.get('code_challenge') ?? '',
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    for (const [key, entry] of codes) if (entry.expiresAt < Date.now()) codes.delete(key);
    return back(redirectUri, { code, ...(params.get('state') ? { state: params.get('state')! } : {}) });
  };
  const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'access-control-allow-origin': '*' });
    res.end(JSON.stringify(body));
  };
  const readBody = (req: http.IncomingMessage) =>
    new Promise<URLSearchParams>((resolve, reject) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > 16_384) req.destroy(new Error('body too large'));
      });
      req.on('end', () => resolve(new URLSearchParams(body)));
      req.on('error', reject);
    });

  const page = async (params: URLSearchParams) => {
    const users = await options.users();
    const hidden = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method']
      .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? '')}">`)
      .join('');
    const groups = GROUPS.map(({ role, title }) => {
      const members = users.filter((user) => user.identity.role === role);
      if (members.length === 0) return '';
      const items = members
        .map(
          (user) =>
            `<li><button name="user" value="${escapeHtml(user.key)}">${escapeHtml(user.label)}</button> <span class="detail">${escapeHtml(user.detail)}</span></li>`,
        )
        .join('');
      return `<section aria-labelledby="g-${role}"><h2 id="g-${role}">${escapeHtml(title)}</h2><ul>${items}</ul></section>`;
    }).join('');
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1d2330;line-height:1.5}.banner{background:#fde68a;padding:.75rem;border-radius:.5rem}ul{list-style:none;padding:0}li{margin:.35rem 0}button{font:inherit;padding:.4rem .8rem;border-radius:.375rem;border:1px solid #9aa3b5;background:#fff;cursor:pointer;min-height:2.4rem}.detail{color:#4b5565;font-size:.9rem}h2{font-size:1.05rem;margin-top:1.5rem}</style>
</head><body><main>
<p class="banner"><strong>Development sign-in — not an identity provider.</strong> The embedded default lists its demo users by role; in production the portal signs in with your OpenID Connect provider.</p>
<h1>Sign in as</h1>
<form method="post" action="/authorize">${hidden}${groups || '<p>No demo users yet (the demo data is still being seeded): reload in a moment.</p>'}</form>
</main></body></html>`;
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://dev-sign-in');
      try {
        if (req.method === 'OPTIONS') {
          res.writeHead(204, {
            'access-control-allow-origin': '*',
            'access-control-allow-methods': 'POST, GET',
            'access-control-allow-headers': 'content-type',
            'access-control-max-age': '600',
          });
          res.end();
          return;
        }
        if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
          return sendJson(res, 200, {
            issuer: DEV_TOKEN_ISSUER,
            authorization_endpoint: `${baseUrl}/authorize`,
            token_endpoint: `${baseUrl}/token`,
            end_session_endpoint: `${baseUrl}/logout`,
            response_types_supported: ['code'],
            grant_types_supported: ['authorization_code'],
            code_challenge_methods_supported: ['S256'],
            token_endpoint_auth_methods_supported: ['none'],
          });
        }
        if (url.pathname === '/authorize') {
          const params = req.method === 'POST' ? await readBody(req) : url.searchParams;
          const redirectUri = validRedirect(params.get('redirect_uri'));
          if (!redirectUri) {
            res.writeHead(400, { 'content-type': 'text/plain' });
            res.end('redirect_uri must be the portal callback (…/portal/callback).');
            return;
          }
          if (params.get('response_type') !== 'code' || params.get('code_challenge_method') !== 'S256' || !params.get('code_challenge')) {
            return redirect(res, back(redirectUri, { error: 'invalid_request', ...(params.get('state') ? { state: params.get('state')! } : {}) }));
          }
          if (req.method === 'POST') {
            const user = await findUser(params.get('user') ?? undefined);
            if (!user) return redirect(res, back(redirectUri, { error: 'access_denied', ...(params.get('state') ? { state: params.get('state')! } : {}) }));
            return redirect(res, issueCode(user, redirectUri, params), {
              'set-cookie': `${SESSION_COOKIE}=${encodeURIComponent(user.key)}; Path=/; HttpOnly; SameSite=Lax`,
            });
          }
          const remembered = await findUser(decodeURIComponent(cookieOf(req) ?? ''));
          if (params.get('prompt') === 'none') {
            if (!remembered)
              return redirect(res, back(redirectUri, { error: 'login_required', ...(params.get('state') ? { state: params.get('state')! } : {}) }));
            return redirect(res, issueCode(remembered, redirectUri, params));
          }
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          res.end(await page(params));
          return;
        }
        if (req.method === 'POST' && url.pathname === '/token') {
          const params = await readBody(req);
          const entry = codes.get(params.get('code') ?? '');
          codes.delete(params.get('code') ?? '');
          const verifier = params.get('code_verifier') ?? '';
          const expected = Buffer.from(entry?.challenge ?? '');
          const actual = Buffer.from(base64url(createHash('sha256').update(verifier).digest()));
          if (
            params.get('grant_type') !== 'authorization_code' ||
            !entry ||
            entry.expiresAt < Date.now() ||
            entry.redirectUri !== params.get('redirect_uri') ||
            entry.clientId !== (params.get('client_id') ?? '') ||
            expected.length !== actual.length ||
            !timingSafeEqual(expected, actual)
          ) {
            return sendJson(res, 400, { error: 'invalid_grant' });
          }
          const token = await signDevToken(options.privateKeyPem, entry.user.identity, { ttlSeconds: ttl });
          return sendJson(res, 200, { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: 'openid' });
        }
        if (req.method === 'GET' && url.pathname === '/logout') {
          const target = url.searchParams.get('post_logout_redirect_uri');
          let location = '/logged-out';
          try {
            const parsed = target ? new URL(target) : undefined;
            if (parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.pathname.startsWith('/portal/')) location = parsed.toString();
          } catch {
            // keep the local page
          }
          return redirect(res, location, { 'set-cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0` });
        }
        if (req.method === 'GET' && url.pathname === '/logged-out') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(
            '<!doctype html><html lang="en"><head><title>Signed out</title></head><body><main><p>Signed out of the development sign-in.</p></main></body></html>',
          );
          return;
        }
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('Not found (development sign-in).');
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`Development sign-in failed: ${(error as Error).message}`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  const baseUrl = `http://${hostForUrl}:${address.port}`;
  return {
    url: baseUrl,
    authorizationEndpoint: `${baseUrl}/authorize`,
    tokenEndpoint: `${baseUrl}/token`,
    endSessionEndpoint: `${baseUrl}/logout`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
