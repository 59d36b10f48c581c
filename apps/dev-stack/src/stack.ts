import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InProcessEventBus, type EventBus } from '@saldo/events';
import { createGatewayService, loadGatewayConfig, type GatewayService } from '@saldo/gateway';
import type { Identity } from '@saldo/graphql';
import { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, generateSigningKeyPair, signDevToken, type KeyPairPem } from '@saldo/identity';
import type { Logger } from '@saldo/service';
import { demoUsers, startDevSignIn, type DevSignIn, type DevUser } from './dev-sign-in.js';
import { createSubgraphService, type SubgraphConfig, type SubgraphDefinition, type SubgraphService } from '@saldo/subgraph';
import { SAMPLE_ISSUER_ENV, billingSubgraph, loadBillingConfig, type BillingConfig, type BillingServices } from '@saldo/subgraph-billing';
import { freePort, startStripeStandIn, type StripeStandIn } from '@saldo/testing';
import { loadTenantsConfig, tenantsSubgraph, type TenantsConfig, type TenantsServices } from '@saldo/subgraph-tenants';
import { loadUsageForecastConfig, usageForecastSubgraph, type UsageForecastServices } from '@saldo/subgraph-usage-forecast';
import { loadWhiteLabelConfig, whiteLabelSubgraph, type WhiteLabelConfig, type WhiteLabelServices } from '@saldo/subgraph-white-label';

/** The checked-in supergraph (apps/dev-stack/dist -> repository root/schema). */
export const DEFAULT_SUPERGRAPH_PATH = fileURLToPath(new URL('../../../schema/supergraph.graphql', import.meta.url));

/** The built customer portal (`pnpm build` builds it into portal/dist). */
export const DEFAULT_PORTAL_DIR = fileURLToPath(new URL('../../../portal/dist', import.meta.url));

export interface StackOptions {
  /** Server URL without database, e.g. postgres://postgres@127.0.0.1:5432 */
  postgresUrl: string;
  /** Prefix of every database name: `${prefix}_${subgraph}_control`, `${prefix}_${subgraph}_shard_${i}`. */
  databasePrefix: string;
  shardsPerSubgraph: number;
  /** 0 picks a free port. */
  ports: { gateway: number; tenants: number; billing: number; usageForecast: number; whiteLabel: number };
  host?: string;
  supergraphPath?: string;
  poolMax?: number;
  logger: Logger;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * `identity`: the gateway signs forwarded identities with it, subgraphs verify them. `portal`: the development
   * issuer whose tokens the gateway accepts (`pnpm token`). Generated per start when not given.
   */
  keys?: { identity: KeyPairPem; portal: KeyPairPem };
  /** How long the gateway trusts an API key verification (ms). */
  apiKeyCacheTtlMs?: number;
  /** The gateway's per-identity rate limit (requests per minute and burst); benchmarks raise it. */
  rateLimit?: { perMinute: number; burst: number };
  /**
   * The periodic rebalance job in every subgraph (default on, as in production). Tests and benchmarks turn it off: an
   * occurrence samples every shard's load (a row in each control database) and might move a tenant mid-measurement.
   */
  automaticRebalance?: boolean;
  /**
   * Billing's Stripe account. Unset: the stack starts the local DEVELOPMENT STRIPE STAND-IN (packages/testing) and
   * points billing at it, so top-ups work end to end without a Stripe account (its checkout page "pays" and delivers
   * the webhooks). Set it to use a real Stripe test account instead (forward its webhooks to billing's
   * /webhooks/stripe, e.g. with `stripe listen`). The stand-in is never used when a key is given.
   */
  stripe?: { secretKey: string; webhookSecret: string; apiBase?: string };
  /** Port of the Stripe stand-in when it runs (0 picks a free one). */
  stripeStandInPort?: number;
  /**
   * Extra billing settings (e.g. REDIS_URL, TOPUP_LIMITS), as environment variables. The development stack's seller
   * of record is the demo issuer "Saldo Demo GmbH" (ISSUER_*), so documents work out of the box; override it here.
   */
  billingEnv?: Record<string, string>;
  /** Extra usage-forecast settings (e.g. MODEL_POLL_INTERVAL_MS, FORECAST_TRAINING_ROWS), as environment variables. */
  usageForecastEnv?: Record<string, string>;
  /** Extra white-label settings (custom domains: WEB_SERVER, NGINX_*, ACME_*, ...), as environment variables. */
  whiteLabelEnv?: Record<string, string>;
  /** Extra tenants settings (e.g. SMTP_URL for notification mail), as environment variables. */
  tenantsEnv?: Record<string, string>;
  /** Extra gateway settings (e.g. the WebSocket bounds WS_*), as environment variables; benchmarks raise the bounds. */
  gatewayEnv?: Record<string, string>;
  /**
   * The portal's development sign-in (an OpenID Connect-shaped provider listing the demo users by role): its port (0 picks
   * a free one). The gateway serves the portal (DEFAULT_PORTAL_DIR, when built) with it as the identity provider.
   */
  devSignInPort?: number;
}

export interface Stack {
  gateway: GatewayService;
  tenants: SubgraphService<TenantsServices, TenantsConfig>;
  billing: SubgraphService<BillingServices, BillingConfig>;
  usageForecast: SubgraphService<UsageForecastServices>;
  whiteLabel: SubgraphService<WhiteLabelServices, WhiteLabelConfig>;
  bus: EventBus;
  /** The development Stripe stand-in billing talks to, when no Stripe account was configured (null otherwise). */
  stripeStandIn: StripeStandIn | null;
  /** The portal's development sign-in. */
  devSignIn: DevSignIn;
  /** `${gateway.url}/portal/` when the portal is built and served, else null. */
  readonly portalUrl: string | null;
  /** `${gateway.url}/graphql` */
  readonly graphqlUrl: string;
  /** Each subgraph's databases, by subgraph name. */
  databases: Record<string, SubgraphDatabases>;
  /** Every database the stack uses (for provisioning and for tests that drop them). */
  databaseUrls: string[];
  /** Publishes every pending outbox event and waits until consumers handled it. */
  flushEvents(): Promise<void>;
  /** A bearer token of the development issuer for `identity` (tests, `pnpm token`). */
  issueToken(identity: Identity, ttlSeconds?: number): Promise<string>;
  stop(): Promise<void>;
}

export interface SubgraphDatabases {
  control: string;
  shards: string[];
}

/** Database URLs of one subgraph in a stack. */
export function subgraphDatabases(options: Pick<StackOptions, 'postgresUrl' | 'databasePrefix' | 'shardsPerSubgraph'>, subgraph: string): SubgraphDatabases {
  const base = options.postgresUrl.replace(/\/+$/, '');
  const stem = `${options.databasePrefix}_${subgraph.replaceAll('-', '_')}`;
  return {
    control: `${base}/${stem}_control`,
    shards: Array.from({ length: options.shardsPerSubgraph }, (_, index) => `${base}/${stem}_shard_${index}`),
  };
}

/**
 * Everything in one process: four subgraphs sharing an in-process event bus, and the gateway in front.
 * This is the embedded default (`pnpm start`) and what the end-to-end tests run; the full stack runs the
 * same factories one per container, configured by environment.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const { logger } = options;
  const bus = new InProcessEventBus(logger.child('events'));
  const host = options.host ?? '127.0.0.1';
  const databases: Record<string, SubgraphDatabases> = {};
  const keys = options.keys ?? { identity: generateSigningKeyPair(), portal: generateSigningKeyPair() };

  const env = (name: string, port: number): Record<string, string> => {
    const own = subgraphDatabases(options, name);
    databases[name] = own;
    return {
      HOST: host,
      PORT: String(port),
      CONTROL_DATABASE_URL: own.control,
      SHARD_DATABASE_URLS: own.shards.join(','),
      CREATE_DATABASES: 'true',
      DATABASE_POOL_MAX: String(options.poolMax ?? 5),
      LOG_LEVEL: options.logLevel ?? 'info',
      IDENTITY_PUBLIC_KEY: keys.identity.publicKeyPem,
      SHARD_REBALANCE_AUTO: String(options.automaticRebalance ?? true),
    };
  };

  const create = <S, C extends SubgraphConfig>(definition: SubgraphDefinition<S, C>, config: C) => createSubgraphService(definition, config, { bus, logger });

  // Download links (and the PDF link the notifier attaches from) point at the gateway's public origin, which billing
  // must know before it starts: a gateway asked to take any free port gets one chosen now.
  const gatewayPort = options.ports.gateway || (await freePort());
  const publicOrigin = `http://localhost:${gatewayPort}`;
  const portalBuilt = existsSync(`${DEFAULT_PORTAL_DIR}/index.html`);
  // No Stripe account given: billing talks to the development stand-in (labelled as such on its checkout page).
  const stripeStandIn = options.stripe ? null : await startStripeStandIn({ host, port: options.stripeStandInPort ?? 0, autoDeliver: true });
  const stripeEnv: Record<string, string> = options.stripe
    ? {
        STRIPE_SECRET_KEY: options.stripe.secretKey,
        STRIPE_WEBHOOK_SECRET: options.stripe.webhookSecret,
        ...(options.stripe.apiBase ? { STRIPE_API_BASE: options.stripe.apiBase } : {}),
      }
    : {
        ...stripeStandIn!.env(),
        // Back to the portal after paying (or cancelling); without a built portal, to the stand-in's own page.
        ...(portalBuilt
          ? {
              TOPUP_SUCCESS_URL: `${publicOrigin}/portal/top-up/done?session_id={CHECKOUT_SESSION_ID}`,
              TOPUP_CANCEL_URL: `${publicOrigin}/portal/top-up/cancelled`,
            }
          : {
              TOPUP_SUCCESS_URL: `${stripeStandIn!.url}/checkout/done?session_id={CHECKOUT_SESSION_ID}`,
              TOPUP_CANCEL_URL: `${stripeStandIn!.url}/checkout/done`,
            }),
      };

  const tenants = create(tenantsSubgraph, loadTenantsConfig({ ...env('tenants', options.ports.tenants), ...options.tenantsEnv }));
  let billingConfig: BillingConfig;
  try {
    billingConfig = loadBillingConfig({
      ...env('billing', options.ports.billing),
      ...stripeEnv,
      ...SAMPLE_ISSUER_ENV,
      PUBLIC_ORIGIN: publicOrigin,
      ...options.billingEnv,
    });
  } catch (error) {
    await stripeStandIn?.close();
    throw error;
  }
  const billing = create(billingSubgraph, billingConfig);
  const usageForecast = create(
    usageForecastSubgraph,
    loadUsageForecastConfig({ ...env('usage-forecast', options.ports.usageForecast), ...options.usageForecastEnv }),
  );
  const whiteLabel = create(whiteLabelSubgraph, loadWhiteLabelConfig({ ...env('white-label', options.ports.whiteLabel), ...options.whiteLabelEnv }));
  const subgraphs = [tenants, billing, usageForecast, whiteLabel];

  const started: Array<{ stop(): Promise<void> }> = [];
  if (stripeStandIn) started.push({ stop: () => stripeStandIn.close() });
  try {
    // Subgraphs start in parallel: each migrates its own databases. Wait for all of them, also when one fails, so a
    // failed start stops every subgraph that did start (none is left serving and holding the process open).
    const starts = await Promise.allSettled(
      subgraphs.map(async (subgraph) => {
        await subgraph.start();
        started.push(subgraph);
      }),
    );
    const failed = starts.find((start): start is PromiseRejectedResult => start.status === 'rejected');
    if (failed) throw failed.reason;
    // The portal's identity provider in development: the demo users by role, read through the gateway as an operator.
    const listUsers = cachedDemoUsers(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${gatewayPort}/graphql`, () =>
      signDevToken(keys.portal.privateKeyPem, { role: 'platform-admin', subject: 'dev-sign-in' }, { ttlSeconds: 300 }),
    );
    const devSignIn = await startDevSignIn({ host, port: options.devSignInPort ?? 0, privateKeyPem: keys.portal.privateKeyPem, users: listUsers });
    started.push({ stop: () => devSignIn.close() });
    if (!portalBuilt) logger.warn('the portal is not built (portal/dist): run pnpm build to serve it at /portal');
    const gateway = createGatewayService(
      loadGatewayConfig({
        HOST: host,
        PORT: String(gatewayPort),
        SUPERGRAPH_PATH: options.supergraphPath ?? DEFAULT_SUPERGRAPH_PATH,
        LOG_LEVEL: options.logLevel ?? 'info',
        SUBGRAPH_URL_TENANTS: `${tenants.url}/graphql`,
        SUBGRAPH_URL_BILLING: `${billing.url}/graphql`,
        SUBGRAPH_URL_USAGE_FORECAST: `${usageForecast.url}/graphql`,
        SUBGRAPH_URL_WHITE_LABEL: `${whiteLabel.url}/graphql`,
        // Requests on a partner's custom domain are narrowed to that partner.
        CUSTOM_DOMAINS_URL: `${whiteLabel.url}/internal/custom-domains`,
        IDENTITY_PRIVATE_KEY: keys.identity.privateKeyPem,
        JWT_ISSUER: DEV_TOKEN_ISSUER,
        JWT_AUDIENCE: DEV_TOKEN_AUDIENCE,
        JWT_PUBLIC_KEYS: keys.portal.publicKeyPem,
        API_KEY_VERIFY_URL: `${tenants.url}/internal/api-keys/verify`,
        API_KEY_CACHE_TTL_MS: String(options.apiKeyCacheTtlMs ?? 5000),
        ...(portalBuilt
          ? {
              PORTAL_DIR: DEFAULT_PORTAL_DIR,
              PORTAL_OIDC_AUTHORIZATION_URL: devSignIn.authorizationEndpoint,
              PORTAL_OIDC_TOKEN_URL: devSignIn.tokenEndpoint,
              PORTAL_OIDC_END_SESSION_URL: devSignIn.endSessionEndpoint,
              PORTAL_DEVELOPMENT_SIGN_IN: 'true',
            }
          : {}),
        ...(options.rateLimit ? { RATE_LIMIT_PER_MINUTE: String(options.rateLimit.perMinute), RATE_LIMIT_BURST: String(options.rateLimit.burst) } : {}),
        ...options.gatewayEnv,
      }),
      { logger },
    );
    await gateway.start();
    stripeStandIn?.setWebhookUrl(`${billing.url}/webhooks/stripe`);

    return {
      gateway,
      tenants,
      billing,
      usageForecast,
      whiteLabel,
      bus,
      stripeStandIn,
      devSignIn,
      get portalUrl() {
        return portalBuilt ? `${gateway.url.replace('127.0.0.1', 'localhost')}/portal/` : null;
      },
      databases,
      databaseUrls: Object.values(databases).flatMap((own) => [own.control, ...own.shards]),
      get graphqlUrl() {
        return `${gateway.url}/graphql`;
      },
      issueToken: (identity, ttlSeconds) => signDevToken(keys.portal.privateKeyPem, identity, ttlSeconds ? { ttlSeconds } : {}),
      async flushEvents() {
        for (const subgraph of subgraphs) await subgraph.runtime.relay.flush();
      },
      async stop() {
        await gateway.stop();
        // Quiesce every relay first so no event is delivered to a subgraph that is already closing.
        await Promise.all(subgraphs.map((subgraph) => subgraph.runtime.relay.stop()));
        await Promise.all(subgraphs.map((subgraph) => subgraph.stop()));
        await devSignIn.close();
        await stripeStandIn?.close();
        await bus.close();
      },
    };
  } catch (error) {
    await Promise.allSettled(started.map((service) => service.stop()));
    throw error;
  }
}

/** The demo users the development sign-in lists, read through the gateway (cached for 2 s). */
function cachedDemoUsers(graphqlUrl: string, token: () => Promise<string>): () => Promise<DevUser[]> {
  let cached: { users: DevUser[]; at: number } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < 2000) return cached.users;
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
      body: JSON.stringify({
        query: '{ partners(first: 100) { edges { node { id name } } } tenants(first: 100) { edges { node { id name partner { id name } } } } }',
      }),
    });
    const body = (await response.json()) as {
      data?: {
        partners: { edges: Array<{ node: { id: string; name: string } }> };
        tenants: { edges: Array<{ node: { id: string; name: string; partner: { id: string; name: string } | null } }> };
      };
    };
    if (!body.data) throw new Error('the gateway did not list the demo users');
    const users = demoUsers(
      body.data.partners.edges.map((edge) => edge.node),
      body.data.tenants.edges.map(({ node }) => node),
    );
    cached = { users, at: Date.now() };
    return users;
  };
}
