import express, { type Express } from 'express';
import { INTERNAL_AUDIENCE, IDENTITY_HEADER } from '@saldo/identity';
import { HttpErrorCode, sendHttpError } from '@saldo/service';
import type { SubgraphRuntime } from '@saldo/subgraph';
import type { ApiKeyService } from '../services/api-key-service.js';

/**
 * POST /internal/api-keys/verify {keyId, secret} -> 200 {partnerId} | 401. Callable only with an identity the
 * gateway signed for the internal audience, so it cannot be used to probe keys from outside.
 */
export function mountApiKeyVerification(app: Express, apiKeys: ApiKeyService, runtime: SubgraphRuntime): void {
  app.post('/internal/api-keys/verify', express.json({ limit: '4kb' }), async (req, res) => {
    try {
      await runtime.identity.verify(req.header(IDENTITY_HEADER), INTERNAL_AUDIENCE);
    } catch {
      sendHttpError(res, 401, 'UNAUTHENTICATED', 'An identity signed by the gateway for internal calls is required.');
      return;
    }
    const { keyId, secret } = (req.body ?? {}) as { keyId?: unknown; secret?: unknown };
    if (typeof keyId !== 'string' || typeof secret !== 'string') {
      sendHttpError(res, 400, HttpErrorCode.BadRequest, 'Send { keyId, secret } as JSON.');
      return;
    }
    try {
      const partnerId = await apiKeys.verify(keyId, secret);
      if (partnerId) res.json({ partnerId, keyId });
      else sendHttpError(res, 401, 'INVALID_API_KEY', 'Unknown or revoked API key.');
    } catch (error) {
      runtime.logger.error('API key verification failed', { error });
      sendHttpError(res, 500, HttpErrorCode.Internal, 'Internal server error.');
    }
  });
}
