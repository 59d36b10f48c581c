import type { Express } from 'express';
import { INTERNAL_AUDIENCE, IDENTITY_HEADER } from '@saldo/identity';
import type { ShardedDatabase } from '@saldo/sharding';
import { HttpErrorCode, sendHttpError } from '@saldo/service';
import type { SubgraphRuntime } from '@saldo/subgraph';
import { AcmeChallenge } from './entities/acme-challenge.js';
import type { DomainService } from './services/domain-service.js';

/**
 * The platform's http-01 challenge responder: the web server proxies `/.well-known/acme-challenge/` of every name to a
 * white-label instance, which answers from the control database (so it does not matter which instance ordered).
 */
export function mountChallengeResponder(app: Express, db: ShardedDatabase): void {
  app.get('/.well-known/acme-challenge/:token', async (req, res) => {
    const token = req.params['token'] ?? '';
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) {
      res.status(404).end();
      return;
    }
    const challenge = await db.globalEm().findOne(AcmeChallenge, { token, expiresAt: { $gt: new Date() } });
    // The CA asks for the hostname being validated: answer only for that name.
    const host = (req.hostname ?? '').toLowerCase();
    if (!challenge || (host && challenge.hostname !== host)) {
      res.status(404).end();
      return;
    }
    res.type('text/plain').send(challenge.keyAuthorization);
  });
}

/**
 * GET /internal/custom-domains -> { hostnames: [{ hostname, partnerId, purpose }] }: the hostnames served over HTTPS,
 * for the gateway's Host -> partner mapping. Only with an identity the gateway signed for the internal audience.
 */
export function mountServedHostnames(app: Express, domains: DomainService, runtime: SubgraphRuntime): void {
  app.get('/internal/custom-domains', async (req, res) => {
    try {
      await runtime.identity.verify(req.header(IDENTITY_HEADER), INTERNAL_AUDIENCE);
    } catch {
      sendHttpError(res, 401, 'UNAUTHENTICATED', 'An identity signed by the gateway for internal calls is required.');
      return;
    }
    try {
      res.json({ hostnames: await domains.servedHostnames() });
    } catch (error) {
      runtime.logger.error('listing custom domains failed', { error });
      sendHttpError(res, 500, HttpErrorCode.Internal, 'Internal server error.');
    }
  });
}
