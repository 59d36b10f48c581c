import express, { type Express } from 'express';
import { HttpErrorCode, sendHttpError, type Logger } from '@saldo/service';
import type { StripeWebhookService } from '../services/stripe-webhook-service.js';

/** Where Stripe delivers events. Not behind the gateway: Stripe calls billing's public URL for this path directly. */
export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';

/**
 * POST /webhooks/stripe: the raw body (the signature covers the exact bytes, so no JSON parser may touch it first)
 * goes to StripeWebhookService. Authentication is the Stripe-Signature header, not a Saldo identity: this is the one
 * billing endpoint that accepts requests from outside the gateway. Bodies over the limit (413 PAYLOAD_TOO_LARGE) and
 * every refusal answer with the GraphQL-shaped error body of @saldo/service's http-errors.
 */
export function mountStripeWebhook(app: Express, webhooks: StripeWebhookService, logger: Logger): void {
  app.post(STRIPE_WEBHOOK_PATH, express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const response = await webhooks.receive(body, req.header('stripe-signature'));
      res.status(response.httpStatus).json(response.body);
    } catch (error) {
      logger.error('Stripe webhook endpoint failed', { error });
      sendHttpError(res, 500, HttpErrorCode.Internal, 'Internal server error.');
    }
  });
}
