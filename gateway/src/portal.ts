import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from '@saldo/service';

/** What the portal reads from its index.html (portal/src/config.ts): where the graph is and how users sign in. */
export interface PortalClientConfig {
  graphqlPath: string;
  oidc: {
    issuer: string | null;
    clientId: string;
    scope: string;
    authorizationEndpoint: string | null;
    tokenEndpoint: string | null;
    endSessionEndpoint: string | null;
  };
  development: boolean;
}

export const PORTAL_PATH = '/portal';

const CONFIG_ELEMENT = /<script type="application\/json" id="portal-config">[\s\S]*?<\/script>/;
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Origins the portal's scripts may call besides its own: the identity provider's (discovery, token exchange). */
function identityProviderOrigins(config: PortalClientConfig): string[] {
  const origins = new Set<string>();
  for (const url of [config.oidc.issuer, config.oidc.tokenEndpoint]) {
    if (!url) continue;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') origins.add(parsed.origin);
    } catch {
      // not a URL (a development issuer name): nothing to allow
    }
  }
  return [...origins];
}

/**
 * Serves the built portal (portal/dist) at /portal: hashed assets immutable (their gzip copy to clients that accept
 * gzip), every other path the single-page app's index.html with the configuration injected as JSON and a strict
 * Content-Security-Policy. The same origin serves /graphql, so the portal needs no CORS; on a partner's custom domain the
 * gateway narrows every request to that partner, and the portal shows its branding (currentBranding).
 */
export async function mountPortal(app: Express, dir: string, config: PortalClientConfig, logger: Logger): Promise<void> {
  const indexFile = join(dir, 'index.html');
  if (!existsSync(indexFile)) throw new Error(`PORTAL_DIR ${dir} holds no index.html: build the portal first (pnpm build)`);
  const template = await readFile(indexFile, 'utf8');
  if (!CONFIG_ELEMENT.test(template)) throw new Error(`${indexFile} has no portal-config element`);
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  const index = template.replace(CONFIG_ELEMENT, `<script type="application/json" id="portal-config">${json}</script>`);
  const connect = ["'self'", ...identityProviderOrigins(config)].join(' ');
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    'img-src * data:',
    `connect-src ${connect}`,
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
  const assets = join(dir, 'assets');
  const gzipped = new Set(existsSync(assets) ? readdirSync(assets).filter((file) => file.endsWith('.gz')) : []);

  const router = express.Router();
  router.get('/assets/:file', (req: Request, res: Response, next) => {
    const file = String(req.params['file']);
    const type = TYPES[extname(file)];
    if (!type || !gzipped.has(`${file}.gz`) || !/\bgzip\b/.test(req.header('accept-encoding') ?? '')) return next();
    res.setHeader('content-type', type);
    res.setHeader('content-encoding', 'gzip');
    res.setHeader('vary', 'accept-encoding');
    res.setHeader('cache-control', 'public, max-age=31536000, immutable');
    res.sendFile(join(assets, `${file}.gz`), (error) => {
      if (error && !res.headersSent) next();
    });
  });
  router.use('/assets', express.static(assets, { immutable: true, maxAge: '1y', index: false, fallthrough: true }));
  router.use('/assets', (_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('Not found');
  });
  router.get('/{*path}', (_req: Request, res: Response) => {
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-security-policy', csp);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.type('html').send(index);
  });
  app.use(PORTAL_PATH, (req: Request, res: Response, next) => {
    // /portal -> /portal/ (the app's routes and relative links live below the slash).
    if (req.method === 'GET' && (req.originalUrl === PORTAL_PATH || req.originalUrl.startsWith(`${PORTAL_PATH}?`))) {
      res.redirect(301, `${PORTAL_PATH}/${req.originalUrl.slice(PORTAL_PATH.length)}`);
      return;
    }
    next();
  });
  app.use(PORTAL_PATH, router);
  logger.info('portal served', { path: `${PORTAL_PATH}/`, dir });
}
