import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';

/**
 * A LOCAL STAND-IN FOR STRIPE'S API, for tests and the embedded development default. It is not Stripe: it implements
 * only what Saldo's billing calls, keeps everything in memory, moves no money, and answers only its own generated
 * `sk_test_saldo_standin_...` key. stripe-node talks to it through `new Stripe(key, { host, port, protocol: 'http' })`
 * (billing's STRIPE_API_BASE). Webhooks it sends are signed with stripe-node's own test helper, exactly as Stripe signs.
 *
 * Endpoints: POST /v1/checkout/sessions (mode payment, or setup for a customer), GET /v1/checkout/sessions/:id,
 * POST /v1/customers, GET /v1/customers/:id, GET /v1/payment_methods/:id, GET /v1/setup_intents/:id, POST /v1/payment_intents (confirm +
 * off_session, with Stripe's test payment methods declining as documented; a saved payment method only with the
 * customer it is attached to), GET /v1/payment_intents/:id, POST /v1/refunds, GET /v1/refunds?charge=. Every POST honours Idempotency-Key like Stripe: the same key and body
 * replay the first answer (errors included), the same key with another body is an idempotency_error, and a request
 * arriving while the first with its key is still running waits for it.
 * A hosted page at /checkout/:id (clearly labelled) lets a developer "pay": the stand-in then completes the session
 * and delivers checkout.session.completed and payment_intent.succeeded to the configured webhook URL.
 */
export interface StripeStandInOptions {
  host?: string;
  port?: number;
  /** Default: a fresh `sk_test_saldo_standin_<random>`. */
  secretKey?: string;
  /** Default: a fresh `whsec_<random>`. */
  webhookSecret?: string;
  /** Where events are delivered (billing's /webhooks/stripe); may be set later with setWebhookUrl. */
  webhookUrl?: string;
  /** Deliver events by itself (checkout page payments, off-session PaymentIntents). Default false (tests deliver). */
  autoDeliver?: boolean;
  /** Delay before answering object-creating POSTs, so concurrent callers overlap (tests). */
  latencyMs?: number;
}

export interface StandInEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  type: string;
  data: { object: Record<string, any> };
}

export interface DeliveryResult {
  status: number;
  body: any;
}

export interface StripeStandIn {
  /** http://host:port */
  readonly url: string;
  readonly secretKey: string;
  readonly webhookSecret: string;
  /** Billing settings pointing at this stand-in. */
  env(): { STRIPE_SECRET_KEY: string; STRIPE_WEBHOOK_SECRET: string; STRIPE_API_BASE: string };
  setWebhookUrl(url: string): void;
  /** Objects created (idempotent replays not counted) and requests received, by endpoint. */
  readonly counts: { checkoutSessions: number; paymentIntents: number; refunds: number; requests: Record<string, number> };
  readonly checkoutSessions: ReadonlyMap<string, Record<string, any>>;
  readonly paymentIntents: ReadonlyMap<string, Record<string, any>>;
  /** Every Idempotency-Key received, in order of first use. */
  readonly idempotencyKeys: ReadonlySet<string>;
  /** Every webhook delivery answered, in order: the event, its object's id and the HTTP status billing answered with. */
  readonly deliveries: ReadonlyArray<{ eventId: string; type: string; objectId: string; status: number }>;
  latencyMs: number;
  /** The payer pays a session: the PaymentIntent and charge succeed; returns the two events Stripe would send. */
  completeCheckout(sessionId: string): {
    session: Record<string, any>;
    paymentIntent: Record<string, any>;
    charge: Record<string, any>;
    checkoutCompleted: StandInEvent;
    paymentIntentSucceeded: StandInEvent;
  };
  /** A refund of (part of) a payment; returns the charge.refunded event. */
  refund(paymentIntentId: string, amountMinor?: number): { refund: Record<string, any>; charge: Record<string, any>; chargeRefunded: StandInEvent };
  /**
   * The customer saves a card on a setup-mode Checkout Session: a payment method attached to the session's customer
   * (behaving like the test card `card`, default pm_card_visa) and a succeeded SetupIntent; returns the
   * checkout.session.completed event Stripe would send.
   */
  completeSetup(
    sessionId: string,
    card?: string,
  ): { session: Record<string, any>; paymentMethod: Record<string, any>; setupIntent: Record<string, any>; checkoutCompleted: StandInEvent };
  /**
   * What a finished setup flow of `tenantId` leaves at Stripe, in one step (tests that are not about that flow): a
   * customer as billing creates it for the tenant (metadata saldo_tenant_id) with a card like `card` attached.
   */
  savePaymentMethod(tenantId: string, card?: string): { customerId: string; paymentMethodId: string };
  readonly customers: ReadonlyMap<string, Record<string, any>>;
  readonly paymentMethods: ReadonlyMap<string, Record<string, any>>;
  /** Builds an event around an object (not stored, not delivered). */
  event(type: string, object: Record<string, any>): StandInEvent;
  /** The Stripe-Signature header for a payload, as Stripe computes it (stripe.webhooks.generateTestHeaderString). */
  sign(payload: string, options?: { timestamp?: number; secret?: string }): string;
  /** POSTs an event (signed) to the webhook URL. */
  deliver(event: StandInEvent, options?: { timestamp?: number; secret?: string; url?: string }): Promise<DeliveryResult>;
  /** Stops listening (connections refused, as when Stripe is unreachable); what it holds is kept for `start()`. */
  stop(): Promise<void>;
  /** Listens again on the same address and port, with everything it held before `stop()`. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const DECLINES: Record<string, { code: string; decline_code: string | null; message: string }> = {
  pm_card_chargeDeclined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  pm_card_chargeDeclinedExpiredCard: { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
  pm_card_authenticationRequired: {
    code: 'authentication_required',
    decline_code: 'authentication_required',
    message: 'Your card was declined. This transaction requires authentication.',
  },
};
/** Accepted, but settles later (like a bank debit): the PaymentIntent stays `processing`. */
const PROCESSING_METHOD = 'pm_standin_processing';
/** Stripe's test payment method tokens the stand-in knows: usable directly, or saved on a customer (setup flow). */
const TEST_CARDS = new Set(['pm_card_visa', 'pm_card_mastercard', PROCESSING_METHOD, ...Object.keys(DECLINES)]);
/** The customer metadata naming the tenant a customer was created for (billing's StripeGateway writes the same key). */
const TENANT_METADATA_KEY = 'saldo_tenant_id';

function id(prefix: string): string {
  return `${prefix}_standin${randomBytes(12).toString('hex')}`;
}

/** Stripe's form encoding (`a[b][0][c]=v`) into nested objects and arrays. */
export function parseStripeForm(body: string): Record<string, any> {
  const root: Record<string, any> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, '').split('[');
    let node: Record<string, any> = root;
    for (const [index, part] of path.entries()) {
      if (index === path.length - 1) node[part] = value;
      else node = node[part] ??= {};
    }
  }
  const arrays = (value: any): any => {
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    const converted = Object.fromEntries(keys.map((key) => [key, arrays(value[key])]));
    return keys.length > 0 && keys.every((key, index) => key === String(index)) ? keys.map((key) => converted[key]) : converted;
  };
  return arrays(root);
}

export async function startStripeStandIn(options: StripeStandInOptions = {}): Promise<StripeStandIn> {
  const secretKey = options.secretKey ?? `sk_test_saldo_standin_${randomBytes(12).toString('hex')}`;
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;
  let webhookUrl = options.webhookUrl;
  const sessions = new Map<string, Record<string, any>>();
  const intents = new Map<string, Record<string, any>>();
  const charges = new Map<string, Record<string, any>>();
  const refunds = new Map<string, Record<string, any>>();
  const customers = new Map<string, Record<string, any>>();
  const paymentMethods = new Map<string, Record<string, any>>();
  /** The test card a saved payment method behaves like (not part of Stripe's object). */
  const cardBehaviour = new Map<string, string>();
  const setupIntents = new Map<string, Record<string, any>>();
  const idempotency = new Map<string, { fingerprint: string; result: Promise<{ status: number; body: any }> }>();
  const counts = { checkoutSessions: 0, paymentIntents: 0, refunds: 0, requests: {} as Record<string, number> };
  const now = () => Math.floor(Date.now() / 1000);
  let baseUrl = '';

  const event = (type: string, object: Record<string, any>): StandInEvent => ({
    id: id('evt'),
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: now(),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object: structuredClone(object) },
  });

  const sign = (payload: string, signing: { timestamp?: number; secret?: string } = {}) =>
    Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: signing.secret ?? webhookSecret,
      ...(signing.timestamp !== undefined ? { timestamp: signing.timestamp } : {}),
    });

  const deliveries: Array<{ eventId: string; type: string; objectId: string; status: number }> = [];
  const deliver = async (evt: StandInEvent, delivery: { timestamp?: number; secret?: string; url?: string } = {}): Promise<DeliveryResult> => {
    const target = delivery.url ?? webhookUrl;
    if (!target) throw new Error('Stripe stand-in: no webhook URL configured');
    const payload = JSON.stringify(evt);
    const response = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload, delivery) },
      body: payload,
    });
    deliveries.push({ eventId: evt.id, type: evt.type, objectId: String(evt.data.object['id']), status: response.status });
    const text = await response.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body };
  };

  const deliverInBackground = (...events: StandInEvent[]) => {
    if (!options.autoDeliver || !webhookUrl) return;
    void (async () => {
      for (const evt of events) {
        // Stripe retries failed deliveries; the stand-in tries a few times, then gives up.
        for (let attempt = 0; attempt < 5; attempt += 1) {
          try {
            if ((await deliver(evt)).status < 300) break;
          } catch {
            // billing not reachable yet
          }
          await sleep(200 * 2 ** attempt);
        }
      }
    })();
  };

  const newCharge = (intent: Record<string, any>) => {
    const charge = {
      id: id('ch'),
      object: 'charge',
      amount: intent['amount'],
      amount_captured: intent['amount'],
      amount_refunded: 0,
      currency: intent['currency'],
      created: now(),
      paid: true,
      status: 'succeeded',
      refunded: false,
      payment_intent: intent['id'],
      payment_method: intent['payment_method'] ?? null,
      customer: intent['customer'] ?? null,
      // Like Stripe, the charge does not repeat the PaymentIntent's metadata: billing has to ask for it.
      metadata: {},
    };
    charges.set(charge.id, charge);
    intent['latest_charge'] = charge.id;
    return charge;
  };

  const completeCheckout = (sessionId: string) => {
    const session = sessions.get(sessionId);
    if (!session) throw new Error(`Stripe stand-in: no Checkout Session ${sessionId}`);
    if (session['mode'] !== 'payment') throw new Error(`Stripe stand-in: ${sessionId} is a ${session['mode']} session (completeSetup)`);
    let intent = session['payment_intent'] ? intents.get(session['payment_intent']) : undefined;
    if (!intent) {
      intent = {
        id: id('pi'),
        object: 'payment_intent',
        amount: session['amount_total'],
        amount_received: session['amount_total'],
        currency: session['currency'],
        status: 'succeeded',
        created: now(),
        customer: null,
        payment_method: id('pm'),
        description: session['payment_intent_data']?.['description'] ?? null,
        metadata: { ...(session['payment_intent_data']?.['metadata'] ?? {}) },
        last_payment_error: null,
        latest_charge: null,
      };
      intents.set(intent['id'], intent);
      newCharge(intent);
      Object.assign(session, { payment_intent: intent['id'], status: 'complete', payment_status: 'paid' });
    }
    const charge = charges.get(intent['latest_charge'])!;
    return {
      session,
      paymentIntent: intent,
      charge,
      checkoutCompleted: event('checkout.session.completed', publicSession(session)),
      paymentIntentSucceeded: event('payment_intent.succeeded', intent),
    };
  };

  const createCustomerObject = (params: Record<string, any>) => {
    const customer = {
      id: id('cus'),
      object: 'customer',
      created: now(),
      description: params['description'] ?? null,
      email: params['email'] ?? null,
      metadata: params['metadata'] ?? {},
      livemode: false,
    };
    customers.set(customer.id, customer);
    return customer;
  };

  const attachCard = (customerId: string, card: string) => {
    if (!TEST_CARDS.has(card)) throw new Error(`Stripe stand-in: unknown test card ${card}`);
    const method = {
      id: id('pm'),
      object: 'payment_method',
      type: 'card',
      created: now(),
      customer: customerId,
      card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 },
      metadata: {},
      livemode: false,
    };
    paymentMethods.set(method.id, method);
    cardBehaviour.set(method.id, card);
    return method;
  };

  const completeSetup = (sessionId: string, card = 'pm_card_visa') => {
    const session = sessions.get(sessionId);
    if (!session) throw new Error(`Stripe stand-in: no Checkout Session ${sessionId}`);
    if (session['mode'] !== 'setup') throw new Error(`Stripe stand-in: ${sessionId} is not a setup session`);
    if (session['status'] !== 'open') throw new Error(`Stripe stand-in: ${sessionId} is ${session['status']}`);
    const paymentMethod = attachCard(session['customer'], card);
    const setupIntent = {
      id: id('seti'),
      object: 'setup_intent',
      status: 'succeeded',
      usage: 'off_session',
      customer: session['customer'],
      payment_method: paymentMethod.id,
      created: now(),
      metadata: { ...(session['setup_intent_data']?.['metadata'] ?? {}) },
    };
    setupIntents.set(setupIntent.id, setupIntent);
    Object.assign(session, { setup_intent: setupIntent.id, status: 'complete' });
    return { session, paymentMethod, setupIntent, checkoutCompleted: event('checkout.session.completed', publicSession(session)) };
  };

  const savePaymentMethod = (tenantId: string, card = 'pm_card_visa') => {
    const customer = createCustomerObject({ metadata: { [TENANT_METADATA_KEY]: tenantId } });
    return { customerId: customer.id, paymentMethodId: attachCard(customer.id, card).id };
  };

  const refund = (paymentIntentId: string, amountMinor?: number) => {
    const intent = intents.get(paymentIntentId);
    if (!intent?.['latest_charge']) throw new Error(`Stripe stand-in: no charge for ${paymentIntentId}`);
    const charge = charges.get(intent['latest_charge'])!;
    const amount = amountMinor ?? charge['amount'] - charge['amount_refunded'];
    if (amount <= 0 || charge['amount_refunded'] + amount > charge['amount']) throw new Error('Stripe stand-in: refund exceeds the charge');
    const created = {
      id: id('re'),
      object: 'refund',
      amount,
      currency: charge['currency'],
      status: 'succeeded',
      created: now(),
      charge: charge['id'],
      payment_intent: paymentIntentId,
      metadata: {},
    };
    refunds.set(created.id, created);
    counts.refunds += 1;
    charge['amount_refunded'] += amount;
    charge['refunded'] = charge['amount_refunded'] === charge['amount'];
    return { refund: created, charge, chargeRefunded: event('charge.refunded', charge) };
  };

  const stripeError = (status: number, type: string, message: string, extra: Record<string, unknown> = {}) => ({
    status,
    body: { error: { type, message, ...extra } },
  });

  const createSession = async (params: Record<string, any>) => {
    if (params['mode'] === 'setup') return createSetupSession(params);
    const item = params['line_items']?.[0];
    const unitAmount = Number(item?.['price_data']?.['unit_amount']);
    const quantity = Number(item?.['quantity'] ?? 1);
    if (params['mode'] !== 'payment' || !Number.isInteger(unitAmount) || unitAmount <= 0 || !item?.['price_data']?.['currency']) {
      return stripeError(400, 'invalid_request_error', 'The stand-in supports mode=payment with one price_data line item.');
    }
    if (!params['success_url']) return stripeError(400, 'invalid_request_error', 'Missing required param: success_url.', { param: 'success_url' });
    const session = {
      id: id('cs_test'),
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_total: unitAmount * quantity,
      currency: String(item['price_data']['currency']).toLowerCase(),
      client_reference_id: params['client_reference_id'] ?? null,
      metadata: params['metadata'] ?? {},
      payment_intent: null as string | null,
      payment_intent_data: params['payment_intent_data'] ?? {},
      success_url: params['success_url'],
      cancel_url: params['cancel_url'] ?? null,
      created: now(),
      expires_at: now() + 24 * 3600,
      url: '',
      livemode: false,
    };
    session.url = `${baseUrl}/checkout/${session.id}`;
    sessions.set(session.id, session);
    counts.checkoutSessions += 1;
    return { status: 200, body: publicSession(session) };
  };

  /** Checkout in setup mode: the customer saves a payment method for later off-session charges. */
  const createSetupSession = async (params: Record<string, any>) => {
    const customer = params['customer'];
    if (!customer || !customers.has(customer))
      return stripeError(400, 'invalid_request_error', `No such customer: '${customer ?? ''}'`, { code: 'resource_missing', param: 'customer' });
    if (!params['success_url']) return stripeError(400, 'invalid_request_error', 'Missing required param: success_url.', { param: 'success_url' });
    const session = {
      id: id('cs_test'),
      object: 'checkout.session',
      mode: 'setup',
      status: 'open',
      payment_status: 'no_payment_required',
      amount_total: null,
      currency: params['currency'] ? String(params['currency']).toLowerCase() : null,
      customer,
      client_reference_id: params['client_reference_id'] ?? null,
      metadata: params['metadata'] ?? {},
      setup_intent: null as string | null,
      setup_intent_data: params['setup_intent_data'] ?? {},
      payment_intent: null,
      success_url: params['success_url'],
      cancel_url: params['cancel_url'] ?? null,
      created: now(),
      expires_at: now() + 24 * 3600,
      url: '',
      livemode: false,
    };
    session.url = `${baseUrl}/checkout/${session.id}`;
    sessions.set(session.id, session);
    counts.checkoutSessions += 1;
    return { status: 200, body: publicSession(session) };
  };

  const createPaymentIntent = async (params: Record<string, any>) => {
    const amount = Number(params['amount']);
    if (!Number.isInteger(amount) || amount <= 0 || !params['currency']) return stripeError(400, 'invalid_request_error', 'amount and currency are required.');
    const method = params['payment_method'] as string | undefined;
    const saved = method ? paymentMethods.get(method) : undefined;
    if (method && !saved && !TEST_CARDS.has(method))
      return stripeError(400, 'invalid_request_error', `No such PaymentMethod: '${method}'`, { code: 'resource_missing', param: 'payment_method' });
    // Like Stripe: a payment method attached to a customer is charged only together with that customer.
    if (saved && saved['customer'] !== (params['customer'] ?? null)) {
      return stripeError(400, 'invalid_request_error', `The provided PaymentMethod ${method} does not belong to the Customer.`, { param: 'payment_method' });
    }
    const behaviour = method ? (cardBehaviour.get(method) ?? method) : undefined;
    const intent: Record<string, any> = {
      id: id('pi'),
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency: String(params['currency']).toLowerCase(),
      status: 'requires_payment_method',
      created: now(),
      customer: params['customer'] ?? null,
      payment_method: method ?? null,
      description: params['description'] ?? null,
      metadata: params['metadata'] ?? {},
      last_payment_error: null,
      latest_charge: null,
    };
    intents.set(intent['id'], intent);
    counts.paymentIntents += 1;
    if (params['confirm'] !== 'true' || !method) return { status: 200, body: intent };
    const decline = DECLINES[behaviour!];
    if (decline) {
      intent['status'] = 'requires_payment_method';
      intent['last_payment_error'] = { type: 'card_error', ...decline };
      const failed = event('payment_intent.payment_failed', intent);
      deliverInBackground(failed);
      return stripeError(402, 'card_error', decline.message, {
        code: decline.code,
        decline_code: decline.decline_code,
        payment_intent: structuredClone(intent),
      });
    }
    if (behaviour === PROCESSING_METHOD) {
      intent['status'] = 'processing';
      return { status: 200, body: intent };
    }
    intent['status'] = 'succeeded';
    intent['amount_received'] = amount;
    newCharge(intent);
    deliverInBackground(event('payment_intent.succeeded', intent));
    return { status: 200, body: intent };
  };

  const createRefund = async (params: Record<string, any>) => {
    const intentId = params['payment_intent'] ?? charges.get(params['charge'])?.['payment_intent'];
    if (!intentId || !intents.has(intentId)) return stripeError(400, 'invalid_request_error', 'No such payment_intent or charge.');
    try {
      const result = refund(intentId, params['amount'] !== undefined ? Number(params['amount']) : undefined);
      deliverInBackground(result.chargeRefunded);
      return { status: 200, body: result.refund };
    } catch (error) {
      return stripeError(400, 'invalid_request_error', (error as Error).message);
    }
  };

  const handleApi = async (method: string, path: string, query: URLSearchParams, params: Record<string, any>): Promise<{ status: number; body: any }> => {
    if (method === 'POST' && path === '/v1/checkout/sessions') return createSession(params);
    if (method === 'POST' && path === '/v1/payment_intents') return createPaymentIntent(params);
    if (method === 'POST' && path === '/v1/refunds') return createRefund(params);
    if (method === 'POST' && path === '/v1/customers') return { status: 200, body: createCustomerObject(params) };
    const customer = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (method === 'GET' && customer) {
      const found = customers.get(customer[1]!);
      return found
        ? { status: 200, body: found }
        : stripeError(404, 'invalid_request_error', `No such customer: '${customer[1]}'`, { code: 'resource_missing', param: 'id' });
    }
    const paymentMethod = /^\/v1\/payment_methods\/([^/]+)$/.exec(path);
    if (method === 'GET' && paymentMethod) {
      const found = paymentMethods.get(paymentMethod[1]!);
      if (found) return { status: 200, body: found };
      // Stripe's test tokens resolve to a fresh payment method attached to no customer.
      if (TEST_CARDS.has(paymentMethod[1]!))
        return {
          status: 200,
          body: {
            id: paymentMethod[1],
            object: 'payment_method',
            type: 'card',
            customer: null,
            card: { brand: 'visa', last4: '4242' },
            metadata: {},
            livemode: false,
          },
        };
      return stripeError(404, 'invalid_request_error', `No such PaymentMethod: '${paymentMethod[1]}'`, { code: 'resource_missing', param: 'id' });
    }
    const setupIntent = /^\/v1\/setup_intents\/([^/]+)$/.exec(path);
    if (method === 'GET' && setupIntent) {
      const found = setupIntents.get(setupIntent[1]!);
      return found
        ? { status: 200, body: found }
        : stripeError(404, 'invalid_request_error', `No such setupintent: '${setupIntent[1]}'`, { code: 'resource_missing' });
    }
    const session = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path);
    if (method === 'GET' && session) {
      const found = sessions.get(session[1]!);
      return found ? { status: 200, body: publicSession(found) } : stripeError(404, 'invalid_request_error', `No such checkout.session: '${session[1]}'`);
    }
    const intent = /^\/v1\/payment_intents\/([^/]+)$/.exec(path);
    if (method === 'GET' && intent) {
      const found = intents.get(intent[1]!);
      return found ? { status: 200, body: found } : stripeError(404, 'invalid_request_error', `No such payment_intent: '${intent[1]}'`);
    }
    if (method === 'GET' && path === '/v1/refunds') {
      const charge = query.get('charge');
      const data = [...refunds.values()].filter((refundRow) => !charge || refundRow['charge'] === charge).sort((a, b) => b['created'] - a['created']);
      return { status: 200, body: { object: 'list', data, has_more: false, url: '/v1/refunds' } };
    }
    return stripeError(404, 'invalid_request_error', `The Stripe stand-in does not implement ${method} ${path}.`);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://stand-in');
        const method = req.method ?? 'GET';
        const body = Buffer.concat(chunks).toString('utf8');
        const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), ...headers });
          res.end(JSON.stringify(payload));
        };
        try {
          if (url.pathname.startsWith('/checkout/')) return await handlePage(method, url.pathname, res);
          const endpoint = `${method} ${url.pathname.replace(/\/(cs_test|pi|ch|re|cus|pm|seti)_standin[0-9a-f]+$/, '/:id')}`;
          counts.requests[endpoint] = (counts.requests[endpoint] ?? 0) + 1;
          if (req.headers.authorization !== `Bearer ${secretKey}`) {
            return send(401, {
              error: { type: 'invalid_request_error', message: 'Invalid API Key provided (this is a local Stripe stand-in; it accepts only its own key).' },
            });
          }
          const params = method === 'POST' ? parseStripeForm(body) : {};
          const key = method === 'POST' ? req.headers['idempotency-key'] : undefined;
          if (typeof key === 'string' && key.length > 0) {
            const fingerprint = `${method} ${url.pathname} ${body}`;
            const seen = idempotency.get(key);
            if (seen) {
              if (seen.fingerprint !== fingerprint) {
                return send(400, {
                  error: {
                    type: 'idempotency_error',
                    message: `Keys for idempotent requests can only be used with the same parameters they were first used with.`,
                  },
                });
              }
              const replay = await seen.result;
              return send(replay.status, replay.body, { 'idempotent-replayed': 'true', 'idempotency-key': key });
            }
            const result = (async () => {
              if (api.latencyMs > 0) await sleep(api.latencyMs);
              return handleApi(method, url.pathname, url.searchParams, params);
            })();
            idempotency.set(key, { fingerprint, result });
            const first = await result;
            return send(first.status, first.body, { 'idempotency-key': key });
          }
          if (method === 'POST' && api.latencyMs > 0) await sleep(api.latencyMs);
          const answer = await handleApi(method, url.pathname, url.searchParams, params);
          return send(answer.status, answer.body);
        } catch (error) {
          return send(500, { error: { type: 'api_error', message: (error as Error).message } });
        }
      })();
    });
  });

  const handlePage = async (method: string, path: string, res: http.ServerResponse) => {
    if (path === '/checkout/done') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><title>Development Stripe stand-in</title></head><body style="font-family:sans-serif;max-width:36rem;margin:3rem auto">
<p style="background:#fde68a;padding:.75rem;border-radius:.5rem"><strong>Development stand-in — this is NOT Stripe.</strong></p>
<p>Done. If you paid, the stand-in has delivered the webhooks to billing: the balance shows the top-up in a moment.</p></body></html>`);
      return;
    }
    const match = /^\/checkout\/([^/]+?)(?:\/(pay|cancel))?$/.exec(path);
    const session = match ? sessions.get(match[1]!) : undefined;
    if (!match || !session) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('No such Checkout Session (Saldo development Stripe stand-in).');
      return;
    }
    if (method === 'POST' && match[2] === 'pay' && session['mode'] === 'setup') {
      deliverInBackground(completeSetup(session['id']).checkoutCompleted);
      res.writeHead(303, { location: String(session['success_url']).replace('{CHECKOUT_SESSION_ID}', session['id']) });
      res.end();
      return;
    }
    if (method === 'POST' && match[2] === 'pay') {
      const paid = completeCheckout(session['id']);
      deliverInBackground(paid.checkoutCompleted, paid.paymentIntentSucceeded);
      res.writeHead(303, { location: String(session['success_url']).replace('{CHECKOUT_SESSION_ID}', session['id']) });
      res.end();
      return;
    }
    if (method === 'POST' && match[2] === 'cancel') {
      res.writeHead(303, { location: session['cancel_url'] ?? '/' });
      res.end();
      return;
    }
    if (session['mode'] === 'setup') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><head><title>Development Stripe stand-in</title></head>
<body style="font-family:sans-serif;max-width:36rem;margin:3rem auto">
<p style="background:#fde68a;padding:.75rem;border-radius:.5rem"><strong>Development stand-in — this is NOT Stripe.</strong>
No card is saved and nothing is charged: a test card (Visa ending 4242) is attached to the tenant's customer.</p>
<h1>Save a card for automatic top-ups</h1>
<p>Status: ${escapeHtml(String(session['status']))}</p>
<form method="post" action="/checkout/${escapeHtml(session['id'])}/pay" style="display:inline"><button>Save card (simulated)</button></form>
<form method="post" action="/checkout/${escapeHtml(session['id'])}/cancel" style="display:inline"><button>Cancel</button></form>
</body></html>`);
      return;
    }
    const amount = String(session['amount_total'] ?? 0);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><title>Development Stripe stand-in</title></head>
<body style="font-family:sans-serif;max-width:36rem;margin:3rem auto">
<p style="background:#fde68a;padding:.75rem;border-radius:.5rem"><strong>Development stand-in — this is NOT Stripe.</strong>
No card is charged and no money moves. Saldo's embedded default uses it when no Stripe account is configured.</p>
<h1>Top-up</h1><p>${escapeHtml(String(session['payment_intent_data']?.['description'] ?? 'Prepaid balance top-up'))}</p>
<p>Amount: <strong>${escapeHtml(amount)}</strong> minor units of ${escapeHtml(String(session['currency']).toUpperCase())}</p>
<p>Status: ${escapeHtml(String(session['status']))}</p>
<form method="post" action="/checkout/${escapeHtml(session['id'])}/pay" style="display:inline"><button>Pay (simulated)</button></form>
<form method="post" action="/checkout/${escapeHtml(session['id'])}/cancel" style="display:inline"><button>Cancel</button></form>
</body></html>`);
  };

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  await listen(options.port ?? 0);
  const address = server.address() as AddressInfo;
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${address.port}`;

  const api: StripeStandIn = {
    url: baseUrl,
    secretKey,
    webhookSecret,
    latencyMs: options.latencyMs ?? 0,
    env: () => ({ STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_BASE: baseUrl }),
    setWebhookUrl: (url) => {
      webhookUrl = url;
    },
    counts,
    checkoutSessions: sessions,
    paymentIntents: intents,
    get idempotencyKeys() {
      return new Set(idempotency.keys());
    },
    deliveries,
    completeCheckout,
    completeSetup,
    savePaymentMethod,
    customers,
    paymentMethods,
    refund,
    event,
    sign,
    deliver,
    stop,
    start: () => (server.listening ? Promise.resolve() : listen(address.port)),
    close: stop,
  };
  return api;
}

/** The session as Stripe's API returns it (the stand-in keeps payment_intent_data to build the PaymentIntent). */
function publicSession(session: Record<string, any>): Record<string, any> {
  const visible = { ...session };
  delete visible['payment_intent_data'];
  delete visible['setup_intent_data'];
  return visible;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);
}
