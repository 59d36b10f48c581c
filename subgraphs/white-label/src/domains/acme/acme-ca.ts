import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import { DependencyGuard, type BreakerSettings } from '@saldo/resilience';
import type { Logger } from '@saldo/service';

/** The CA refused to validate the domain (the authorization or challenge became invalid): counts as a failed validation. */
export class ValidationFailedError extends Error {
  override name = 'ValidationFailedError';
}

/** The CA answered an order in a state we cannot continue from (invalid, or a key we no longer hold). */
export class OrderUnusableError extends Error {
  override name = 'OrderUnusableError';
}

export interface AcmeSettings {
  directoryUrl: string;
  contactEmail?: string | undefined;
  /** Extra PEM CA certificates trusted for the CA's own HTTPS endpoint (a local pebble). */
  caCertificates?: string | undefined;
  timeoutMs: number;
  /** The CA's circuit breaker (ACME_BREAKER_*). */
  breaker?: BreakerSettings;
}

/**
 * Failures that say the CA is down, not that it refused this order: no HTTP answer (refused, reset, timed out) or a 5xx.
 * Problem documents (rate limits, unauthorized, bad CSR) and failed validations are the order's, not the CA's.
 */
function caFailing(error: unknown): boolean {
  if (error instanceof ValidationFailedError || error instanceof OrderUnusableError) return false;
  const failure = error as { isAxiosError?: boolean; response?: { status?: number }; code?: string };
  if (failure?.response?.status !== undefined) return failure.response.status >= 500;
  return failure?.isAxiosError === true || /^(ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|ECONNABORTED)/.test(failure?.code ?? '');
}

/** What an order needs from its caller: where the CA's http-01 requests are answered from, and progress to persist. */
export interface OrderHooks {
  /** Called once the CA created the order, before anything else: persist the URL so an interrupted attempt resumes it. */
  orderCreated(orderUrl: string): Promise<void>;
  /** Publish the key authorization for `token` (the challenge responder serves it to the CA). */
  putChallenge(token: string, keyAuthorization: string): Promise<void>;
  removeChallenge(token: string): Promise<void>;
}

export interface IssuedCertificate {
  /** PEM chain, leaf first. */
  chainPem: string;
  /** PEM private key (ECDSA P-256) matching the leaf. */
  privateKeyPem: string;
}

/** The ACME requests made, per kind: tests prove "one order" with it, operators see traffic. */
export interface AcmeCounters {
  newOrders: number;
  resumedOrders: number;
}

let transportConfigured: string | undefined;

/**
 * acme-client's HTTP layer is one module-wide axios instance: its CA trust, timeout and retries are set here once per
 * process. Retries are left to the durable job queue (with back-off), so a CA outage fails an attempt quickly instead
 * of holding a worker for minutes.
 */
function configureTransport(settings: AcmeSettings): void {
  const key = `${settings.caCertificates ?? ''}|${settings.timeoutMs}`;
  if (transportConfigured === key) return;
  transportConfigured = key;
  acme.axios.defaults.timeout = settings.timeoutMs;
  const defaults = acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } };
  defaults.acmeSettings.retryMaxAttempts = 0;
  if (settings.caCertificates) {
    acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, settings.caCertificates], keepAlive: true });
  }
}

/**
 * One ACME account at one CA (RFC 8555, acme-client). Orders are driven step by step (not acme-client's `auto`) so an
 * attempt that was interrupted resumes the CA's order instead of placing a new one, challenges are answered by the
 * platform's own responder behind the web server, and validation failures are told apart from other failures.
 */
export class AcmeCa {
  readonly counters: AcmeCounters = { newOrders: 0, resumedOrders: 0 };
  private readonly client: acme.Client;
  private registered: Promise<string> | undefined;
  /**
   * While the CA is failing, issuance attempts fail at once (the job is retried with back-off, as after any failure)
   * instead of each waiting for ACME_TIMEOUT_SECONDS; a trial attempt after ACME_BREAKER_HALF_OPEN_MS closes it again.
   */
  private readonly guard: DependencyGuard;

  constructor(
    private readonly settings: AcmeSettings,
    accountKeyPem: string,
    private readonly logger: Logger,
  ) {
    configureTransport(settings);
    this.guard = new DependencyGuard({
      dependency: 'acme',
      ...(settings.breaker ?? { failureThreshold: 5, halfOpenAfterMs: 60_000 }),
      isFailure: caFailing,
    });
    this.client = new acme.Client({
      directoryUrl: settings.directoryUrl,
      accountKey: accountKeyPem,
      // The account is looked up by its key (newAccount answers with the existing one), not trusted from storage:
      // acme-client would "update" a given URL, which CAs refuse, and a CA that lost the account registers it anew.
      // Poll validations and finalization quickly: a local CA answers in milliseconds, a public one within seconds.
      backoffAttempts: 12,
      backoffMin: 50,
      backoffMax: 3000,
    });
  }

  static createAccountKey(): Promise<string> {
    return acme.crypto.createPrivateEcdsaKey('P-256').then((key) => key.toString());
  }

  /**
   * Registers the account key (or finds the existing account: newAccount with a known key returns it), once per process.
   * Returns the account URL.
   */
  register(): Promise<string> {
    this.registered ??= this.guard
      .execute(async () => {
        // newAccount directly: acme-client's createAccount follows an existing account (HTTP 200) with an "update" that
        // only repeats termsOfServiceAgreed, which CAs refuse as an empty update.
        const api = (this.client as unknown as { api: { createAccount(data: object): Promise<{ status: number }> } }).api;
        await api.createAccount({
          termsOfServiceAgreed: true,
          ...(this.settings.contactEmail ? { contact: [`mailto:${this.settings.contactEmail}`] } : {}),
        });
        return this.client.getAccountUrl();
      })
      .catch((error: unknown) => {
        this.registered = undefined;
        throw error;
      });
    return this.registered;
  }

  /** The CA's directory (for ARI's renewalInfo endpoint). */
  async directory(): Promise<Record<string, unknown>> {
    const response = await this.guard.execute(() => acme.axios.get(this.settings.directoryUrl, { validateStatus: (status) => status === 200 }));
    return response.data as Record<string, unknown>;
  }

  /**
   * Revokes a certificate this account obtained (RFC 8555 section 7.6) with the reason cessationOfOperation (RFC 5280:
   * 5): its domain left the platform. A certificate the CA reports as already revoked counts as revoked.
   */
  async revoke(chainPem: string): Promise<void> {
    await this.register();
    const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chainPem)?.[0];
    if (!leaf) throw new Error('no certificate in the stored chain');
    try {
      await this.guard.execute(() => this.client.revokeCertificate(leaf, { reason: 5 }));
    } catch (error) {
      if (/already (been )?revoked/i.test((error as Error).message)) return;
      throw error;
    }
  }

  /**
   * Obtains a certificate for `hostname`: resumes `existingOrderUrl` when given (an interrupted attempt), otherwise
   * places one new order. `replaces` is the ARI id of the certificate this one renews (when the CA offers ARI).
   */
  async obtain(hostname: string, existingOrderUrl: string | null, hooks: OrderHooks, replaces?: string): Promise<IssuedCertificate> {
    await this.register();
    return this.guard.execute(() => this.placeOrResume(hostname, existingOrderUrl, hooks, replaces));
  }

  private async placeOrResume(hostname: string, existingOrderUrl: string | null, hooks: OrderHooks, replaces?: string): Promise<IssuedCertificate> {
    let order: acme.Order;
    if (existingOrderUrl) {
      this.counters.resumedOrders += 1;
      order = await this.client.getOrder({ url: existingOrderUrl } as acme.Order);
      // Past "ready" the CA holds a CSR for a key this attempt never had: that order cannot be finished here.
      if (order.status === 'invalid') throw new OrderUnusableError(`order ${existingOrderUrl} is invalid at the CA`);
      if (order.status === 'processing' || order.status === 'valid')
        throw new OrderUnusableError(`order ${existingOrderUrl} was finalized by an interrupted attempt`);
    } else {
      this.counters.newOrders += 1;
      order = await this.client.createOrder({ identifiers: [{ type: 'dns', value: hostname }], ...(replaces ? { replaces } : {}) } as never);
      await hooks.orderCreated(order.url);
    }
    if (order.status === 'pending') await this.answerChallenges(order, hooks);

    const privateKey = await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr({ commonName: hostname, altNames: [hostname] }, privateKey);
    const finalized = await this.client.finalizeOrder(order, csr);
    const chainPem = await this.client.getCertificate(finalized);
    this.logger.debug('certificate obtained', { hostname, order: order.url });
    return { chainPem, privateKeyPem: privateKey.toString() };
  }

  private async answerChallenges(order: acme.Order, hooks: OrderHooks): Promise<void> {
    const authorizations = await this.client.getAuthorizations(order);
    for (const authorization of authorizations) {
      if (authorization.status === 'valid') continue;
      if (authorization.status !== 'pending') {
        throw new ValidationFailedError(`authorization for ${authorization.identifier.value} is ${authorization.status}`);
      }
      const challenge = authorization.challenges.find((candidate) => candidate.type === 'http-01');
      if (!challenge) throw new OrderUnusableError(`the CA offers no http-01 challenge for ${authorization.identifier.value}`);
      const keyAuthorization = await this.client.getChallengeKeyAuthorization(challenge);
      await hooks.putChallenge(challenge.token, keyAuthorization);
      try {
        await this.client.completeChallenge(challenge);
        try {
          await this.client.waitForValidStatus(authorization);
        } catch (error) {
          throw new ValidationFailedError(`the CA could not validate ${authorization.identifier.value}: ${(error as Error).message}`);
        }
      } finally {
        await hooks.removeChallenge(challenge.token).catch((error: unknown) => this.logger.warn('could not remove a challenge', { error }));
      }
    }
  }
}
