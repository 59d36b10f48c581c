// For the gateway's own tests: a gateway process-in-process over the repository's supergraph, in front of stand-ins.
import { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, generateSigningKeyPair } from '@saldo/identity';
import { createLogger } from '@saldo/service';
import { loadGatewayConfig } from './config.js';
import { createGatewayService, type GatewayService } from './gateway.js';

const supergraphPath = new URL('../../schema/supergraph.graphql', import.meta.url).pathname;

/** Every subgraph's URL on one stand-in server, each under its own path (`<base>/<subgraph>/graphql`). */
export function subgraphUrlsUnder(base: string): Record<string, string> {
  return {
    SUBGRAPH_URL_TENANTS: `${base}/tenants/graphql`,
    SUBGRAPH_URL_BILLING: `${base}/billing/graphql`,
    SUBGRAPH_URL_USAGE_FORECAST: `${base}/usage-forecast/graphql`,
    SUBGRAPH_URL_WHITE_LABEL: `${base}/white-label/graphql`,
  };
}

/**
 * Starts a gateway on an ephemeral port with development token settings, a fresh identity signing key, a rate limit
 * no test reaches and quiet logs; `env` adds or overrides settings (the subgraph URLs, how tokens are verified, the
 * breakers' thresholds). The caller stops it.
 */
export async function startTestGateway(env: Record<string, string>): Promise<GatewayService> {
  const gateway = createGatewayService(
    loadGatewayConfig({
      PORT: '0',
      SUPERGRAPH_PATH: supergraphPath,
      IDENTITY_PRIVATE_KEY: generateSigningKeyPair().privateKeyPem,
      JWT_ISSUER: DEV_TOKEN_ISSUER,
      JWT_AUDIENCE: DEV_TOKEN_AUDIENCE,
      RATE_LIMIT_BURST: '1000',
      LOG_LEVEL: 'error',
      ...env,
    }),
    { logger: createLogger({ service: 'test', level: 'error', write: () => undefined }) },
  );
  await gateway.start();
  return gateway;
}
