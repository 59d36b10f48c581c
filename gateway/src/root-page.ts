import type { Express, Request, Response } from 'express';
import { SSE_PATH } from './subscriptions/transports.js';

/** A link on the gateway's root page. */
export interface RootLink {
  href: string;
  label: string;
  description: string;
}

/**
 * What `GET /` on the gateway's origin offers: the graph (Apollo Sandbox outside production), health and readiness.
 * With PORTAL_DIR the customer portal (under /portal) comes first.
 */
export function rootLinks(options: { production: boolean; portal?: boolean }): RootLink[] {
  return [
    ...(options.portal ? [{ href: '/portal/', label: 'Customer portal', description: 'sign in to see balances live, top up and fetch invoices' }] : []),
    options.production
      ? { href: '/graphql', label: 'GraphQL endpoint', description: 'POST /graphql (or GET with ?query=); the schema is described in Apollo Studio' }
      : {
          href: '/graphql',
          label: 'Apollo Sandbox',
          description: 'explore the schema and its docs, and run operations in the browser (POST /graphql for clients)',
        },
    { href: '/health', label: 'Health', description: 'the gateway process is alive' },
    { href: '/ready', label: 'Readiness', description: 'the gateway is ready to serve' },
  ];
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/**
 * `GET /`: a small page (JSON for clients that ask for it) leading to the graph instead of a 404. Unbranded, since
 * partners' custom domains reach the same origin; the development hints (how to get a token) only outside production.
 */
export function mountRootPage(app: Express, options: { production: boolean; portal?: boolean }): void {
  const links = rootLinks(options);
  const subscriptions = `graphql-ws on the WebSocket upgrade of /graphql, or GraphQL over SSE at ${SSE_PATH}`;
  const credentials = 'Authorization: Bearer <token> (portal users and operators) or X-Api-Key: saldo_pk_... (partners)';
  const developmentHint = options.production
    ? ''
    : `<p>Development: <code>pnpm -s token --role admin</code> prints a token (README, "Authentication"); in Sandbox put it in the Headers tab as <code>Authorization: Bearer &lt;token&gt;</code>. Documentation: the repository's README.md and docs/architecture.md.</p>`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphQL API</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1d2330}a{color:#2753d7}code{background:#f1f3f7;padding:0 .25rem;border-radius:3px}li{margin:.4rem 0}</style>
</head>
<body>
<h1>GraphQL API</h1>
<p>This origin serves one GraphQL endpoint at <code>/graphql</code>.</p>
<ul>
${links.map((link) => `<li><a href="${escape(link.href)}">${escape(link.label)}</a> — ${escape(link.description)}</li>`).join('\n')}
</ul>
<p>Subscriptions: ${escape(subscriptions)}. Credentials: <code>${escape(credentials)}</code>.</p>
${developmentHint}
</body>
</html>
`;
  app.get('/', (req: Request, res: Response) => {
    res.format({
      'text/html': () => res.type('html').send(html),
      'application/json': () => res.json({ graphql: '/graphql', subscriptions: { graphqlWs: '/graphql', sse: SSE_PATH }, links }),
      default: () => res.type('html').send(html),
    });
  });
}
