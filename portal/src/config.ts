/** What the serving gateway tells the portal (injected into index.html as JSON; see gateway/src/portal.ts). */
export interface PortalConfig {
  /** GraphQL over HTTP on this origin; subscriptions over graphql-ws on the same path. */
  graphqlPath: string;
  oidc: {
    /** The JWT issuer the gateway trusts. */
    issuer: string | null;
    clientId: string;
    scope: string;
    /** Explicit endpoints; when absent they come from the issuer's discovery document. */
    authorizationEndpoint: string | null;
    tokenEndpoint: string | null;
    endSessionEndpoint: string | null;
  };
  /** The embedded default's development sign-in (demo users by role) is the identity provider. */
  development: boolean;
}

const DEFAULTS: PortalConfig = {
  graphqlPath: '/graphql',
  oidc: { issuer: null, clientId: 'saldo-portal', scope: 'openid', authorizationEndpoint: null, tokenEndpoint: null, endSessionEndpoint: null },
  development: false,
};

export function readConfig(): PortalConfig {
  const element = document.getElementById('portal-config');
  try {
    const parsed = JSON.parse(element?.textContent ?? '{}') as Partial<PortalConfig>;
    return { ...DEFAULTS, ...parsed, oidc: { ...DEFAULTS.oidc, ...(parsed.oidc ?? {}) } };
  } catch {
    return DEFAULTS;
  }
}

/** The portal's base path (Vite's base), e.g. /portal/. */
export const BASE = import.meta.env.BASE_URL;
