import { PLATFORM_BRANDING_VALUES } from '@saldo/events';
import type { SecretBox } from '@saldo/secrets';
import type { Logger } from '@saldo/service';
import { isTenantMoved, type ShardedDatabase } from '@saldo/sharding';
import type { BrandingCopy } from '../branding.js';
import { renderMail, renderNotification, type Language, type MailBranding } from '../templates.js';
import { endpointsByIds, signingSecrets, type EndpointRecord } from './endpoints.js';
import { fetchDocumentPdf, type DocumentPdfOptions } from './document-pdf.js';
import type { Mailer } from './mailer.js';
import { webhookHeaders } from './signing.js';
import {
  CONTROL_STORE,
  allStores,
  claimDeliveries,
  dueLanes,
  recordOutcomes,
  storeEm,
  type AttemptOutcome,
  type ClaimedDelivery,
  type StoreId,
} from './store.js';
import type { WebhookClient } from './webhook-client.js';

export interface RetryPolicy {
  /** First retry after this many seconds; each further one waits twice as long, up to `maxDelaySeconds`. */
  baseSeconds: number;
  maxDelaySeconds: number;
  /** A delivery still failing this long after its first attempt fails for good (webhooks: the endpoint is disabled). */
  windowSeconds: number;
}

/** Wait before attempt n+1 after n failed attempts: base x 2^(n-1), capped. */
export function retryDelaySeconds(failedAttempts: number, policy: RetryPolicy): number {
  return Math.min(policy.maxDelaySeconds, policy.baseSeconds * 2 ** Math.min(Math.max(failedAttempts - 1, 0), 30));
}

/** Where a lane's next attempt is remembered durably (the job queue); the dispatcher calls it after recording a failure. */
export interface RetryScheduler {
  laneDue(store: StoreId, lane: string, at: Date): Promise<void>;
}

/** Told when a webhook delivery failed for good, to disable its endpoint and tell the owner. */
export type EndpointFailedForGood = (endpoint: EndpointRecord, lastError: string, failingSinceMs: number) => Promise<void>;

export interface DispatcherOptions {
  retry: RetryPolicy;
  /** How long a claimed delivery stays with its sender before another may take it over (its sender died). */
  leaseMs: number;
  /** Lanes sent at once per batch. */
  concurrency: number;
  /** Fetching an issued document's PDF for its mail. */
  documentPdf: DocumentPdfOptions;
}

/** What one batch of attempts did (tests, benchmarks, logs). */
export interface DispatchReport {
  delivered: number;
  failed: number;
  cancelled: number;
}

/**
 * Sends claimed deliveries: mail through SMTP, webhooks signed by the Standard Webhooks scheme. The fast path takes a
 * committed batch at once (`dispatchSoon`), without waiting for any poll; lanes (one receiver and tenant) go out in
 * order, side by side up to `concurrency`; a failure stops its lane (later deliveries wait behind it), schedules the
 * lane's retry with exponential back-off on the job queue, and after the retry window fails the delivery for good.
 * Outcomes and the attempt log are written once per batch.
 */
export class Dispatcher {
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Off once quiescing: the fast path takes nothing new (what it skips stays PENDING for the sweep). */
  private accepting = true;
  /** Set once the transports close: no pass runs any more (retry jobs included). */
  private closed = false;
  private scheduler: RetryScheduler | null = null;
  private onEndpointFailed: EndpointFailedForGood | null = null;
  /**
   * Per store, lanes with a fast-path delivery that could not be claimed because an earlier delivery of the lane was
   * being sent by another pass of this process (a tenant's document mail still fetching its PDF when its low-balance
   * mail arrives). The pass holding the lane continues it as soon as it is done, instead of leaving the waiting
   * delivery to the minute sweep; between instances the sweep still does. Counted per lane: each fast-path pass adds
   * one before claiming and takes its own back once it claimed in the lane, so another pass's interest stays.
   */
  private readonly waiting = new Map<StoreId, Map<string, number>>();
  /** Called with every delivery that went out (benchmarks observe latency). */
  onDelivered: ((delivery: ClaimedDelivery, at: Date) => void) | null = null;

  constructor(
    private readonly db: ShardedDatabase,
    private readonly mailer: Mailer | null,
    private readonly webhooks: WebhookClient,
    private readonly branding: BrandingCopy,
    /** Opens the endpoints' sealed signing secrets. */
    private readonly box: SecretBox,
    private readonly options: DispatcherOptions,
    private readonly logger: Logger,
  ) {}

  useScheduler(scheduler: RetryScheduler): void {
    this.scheduler = scheduler;
  }

  whenEndpointFailsForGood(handler: EndpointFailedForGood): void {
    this.onEndpointFailed = handler;
  }

  /** Fast path: attempts these just-committed deliveries now, in the background (their lanes permitting). */
  dispatchSoon(store: StoreId, deliveries: ReadonlyArray<{ id: string; lane: string }>): void {
    if (!this.accepting || deliveries.length === 0) return;
    this.track(
      this.dispatch(store, deliveries).catch((error: unknown) =>
        // Nothing is lost: the deliveries stay PENDING (or SENDING until their lease ends) and the sweep takes them.
        this.logger.error('notification dispatch failed; the sweep will retry', { store, deliveries: deliveries.length, error }),
      ),
    );
  }

  /** The start-up recovery pass, in the background (tracked: stopping waits for it). */
  sweepSoon(): void {
    if (!this.accepting) return;
    this.track(this.sweep().catch((error: unknown) => this.logger.error('notification sweep failed; the next one retries', { error })));
  }

  /** Attempts the given deliveries (only those that head their lane, or follow a claimed head). */
  dispatch(store: StoreId, deliveries: ReadonlyArray<{ id: string; lane: string }>): Promise<DispatchReport> {
    const ids = new Set(deliveries.map((delivery) => delivery.id));
    return this.run(store, [...new Set(deliveries.map((delivery) => delivery.lane))], ids);
  }

  /** Sends whatever is due in these lanes, in order (retries, recovery). */
  drainLanes(store: StoreId, lanes: readonly string[]): Promise<DispatchReport> {
    return this.run(store, lanes);
  }

  /** Recovery pass over every store: lanes with due deliveries (after a crash, a missed retry, a restart). */
  sweep(limitPerStore = 500): Promise<DispatchReport> {
    return this.track(this.sweepStores(limitPerStore));
  }

  private async sweepStores(limitPerStore: number): Promise<DispatchReport> {
    const total: DispatchReport = { delivered: 0, failed: 0, cancelled: 0 };
    for (const store of allStores(this.db)) {
      if (this.closed) break;
      const lanes = await dueLanes(storeEm(this.db, store), limitPerStore);
      const report = await this.drainLanes(store, lanes);
      total.delivered += report.delivered;
      total.failed += report.failed;
      total.cancelled += report.cancelled;
    }
    return total;
  }

  /** Resolves when every dispatch pass started so far (fast path, retry jobs, sweeps) has finished. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * First step of stopping, while the job queue still runs: the fast path and the start-up sweep take nothing new, and
   * every pass in flight finishes (its failures schedule their retries on the queue). Retry jobs and sweeps the queue
   * runs still go out until it stops. Skipped deliveries stay PENDING: the next sweep (any instance) sends them.
   */
  async quiesce(): Promise<void> {
    this.accepting = false;
    await this.idle();
  }

  /** Last step of stopping, after the job queue stopped: waits for what is in flight; no pass starts afterwards. */
  async stop(): Promise<void> {
    this.accepting = false;
    this.closed = true;
    await this.idle();
  }

  /** Counts a promise as in flight until it settles (idle() waits for it). */
  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  /** Every pass, whoever started it (the fast path, a retry job, the sweep), counts as in flight for idle(). */
  private run(store: StoreId, lanes: readonly string[], only?: ReadonlySet<string>): Promise<DispatchReport> {
    // After stop the transports are closed: what was due stays due (nothing was claimed) for the next sweep.
    if (this.closed) return Promise.resolve({ delivered: 0, failed: 0, cancelled: 0 });
    return this.track(this.runPass(store, lanes, only));
  }

  private async runPass(store: StoreId, lanes: readonly string[], only?: ReadonlySet<string>): Promise<DispatchReport> {
    const report: DispatchReport = { delivered: 0, failed: 0, cancelled: 0 };
    const em = storeEm(this.db, store);
    // Registered before claiming, so a pass of this process that holds one of these lanes and finishes meanwhile
    // sees the interest and continues the lane (registered after, it could finish unseen in between).
    const waiting = this.waitingIn(store);
    // Marks left by lanes whose holder was another instance are dropped now and then (the sweep covers those).
    if (waiting.size > MAX_WAITING_LANES) waiting.clear();
    if (only) for (const lane of lanes) waiting.set(lane, (waiting.get(lane) ?? 0) + 1);
    let claimed: ClaimedDelivery[];
    try {
      claimed = await claimDeliveries(em, lanes, this.options.leaseMs, only);
    } catch (error) {
      if (only) for (const lane of lanes) withdraw(waiting, lane);
      // A lane of a tenant that moved to another shard is refused on this one (its copies are sent from there); the
      // source's rows go when the move cleans up. Nothing was claimed.
      if (!isTenantMoved(error)) throw error;
      this.logger.debug('notification lanes of a tenant that moved shards; sent from its new shard', { store, lanes: lanes.length });
      return report;
    }
    // A lane this pass claimed in is its own now; the others stay marked for whichever pass holds them.
    if (only) for (const lane of new Set(claimed.map((delivery) => delivery.lane))) withdraw(waiting, lane);
    if (claimed.length === 0) return report;
    const [endpoints, brandings] = await Promise.all([this.endpointsFor(store, claimed), this.brandingsFor(store, claimed)]);

    const byLane = new Map<string, ClaimedDelivery[]>();
    for (const delivery of claimed) {
      const queue = byLane.get(delivery.lane);
      if (queue) queue.push(delivery);
      else byLane.set(delivery.lane, [delivery]);
    }
    const outcomes: AttemptOutcome[] = [];
    const released: string[] = [];
    const retries: Array<{ lane: string; at: Date }> = [];
    const failedEndpoints: Array<{ endpoint: EndpointRecord; error: string; since: number }> = [];

    // Each channel's lanes have workers of their own: webhooks never queue behind mail in one list (an SMTP exchange
    // takes several round trips, a webhook one), and each channel keeps up to `concurrency` lanes in flight.
    const byChannel = new Map<string, ClaimedDelivery[][]>();
    for (const queue of byLane.values()) {
      const lanes = byChannel.get(queue[0]!.channel);
      if (lanes) lanes.push(queue);
      else byChannel.set(queue[0]!.channel, [queue]);
    }
    const worker = async (lanesLeft: ClaimedDelivery[][]) => {
      for (let queue = lanesLeft.shift(); queue; queue = lanesLeft.shift()) {
        for (const [index, delivery] of queue.entries()) {
          const endpoint = delivery.endpointId ? endpoints.get(delivery.endpointId) : undefined;
          const outcome = await this.attempt(delivery, endpoint, brandings);
          outcomes.push(outcome);
          if (outcome.status === 'DELIVERED') {
            report.delivered += 1;
            this.onDelivered?.(delivery, outcome.attemptedAt);
            continue;
          }
          if (outcome.status === 'CANCELLED') {
            report.cancelled += 1;
            continue;
          }
          report.failed += 1;
          // The lane stops here: later deliveries wait behind this one so the receiver gets them in order.
          released.push(...queue.slice(index + 1).map((rest) => rest.id));
          if (outcome.status === 'PENDING') retries.push({ lane: delivery.lane, at: outcome.nextAttemptAt });
          else if (endpoint)
            failedEndpoints.push({ endpoint, error: outcome.error ?? 'failed', since: (delivery.firstAttemptAt ?? outcome.attemptedAt).getTime() });
          break;
        }
      }
    };
    await Promise.all(
      [...byChannel.values()].flatMap((lanesLeft) => Array.from({ length: Math.min(this.options.concurrency, lanesLeft.length) }, () => worker(lanesLeft))),
    );
    await this.record(store, claimed, outcomes, released);
    this.continueWaitingLanes(store, byLane.keys(), retries);
    for (const retry of retries) {
      if (this.scheduler) await this.scheduler.laneDue(store, retry.lane, retry.at);
      else this.logger.warn('no retry scheduler: the delivery waits for the next sweep', { store, lane: retry.lane });
    }
    for (const failed of failedEndpoints) await this.onEndpointFailed?.(failed.endpoint, failed.error, failed.since);
    if (report.failed > 0) this.logger.info('notification deliveries failed; retrying later', { store, ...report });
    return report;
  }

  private waitingIn(store: StoreId): Map<string, number> {
    let lanes = this.waiting.get(store);
    if (!lanes) this.waiting.set(store, (lanes = new Map()));
    return lanes;
  }

  /**
   * After a pass recorded its outcomes: lanes of this pass that another pass found held (marked waiting) are sent on
   * now, in the background. A lane that failed is not: its retry job drains it, the waiting delivery included.
   */
  private continueWaitingLanes(store: StoreId, lanes: Iterable<string>, retries: ReadonlyArray<{ lane: string }>): void {
    const waiting = this.waiting.get(store);
    if (!waiting || waiting.size === 0) return;
    const failed = new Set(retries.map((retry) => retry.lane));
    const next: string[] = [];
    for (const lane of lanes) {
      if (!waiting.delete(lane)) continue;
      if (!failed.has(lane)) next.push(lane);
    }
    if (next.length === 0 || this.closed) return;
    void this.drainLanes(store, next).catch((error: unknown) =>
      this.logger.error('continuing notification lanes failed; the sweep will retry', { store, lanes: next.length, error }),
    );
  }

  /**
   * Records the pass's outcomes where the deliveries live now: on a shard, per tenant through the directory, so an
   * attempt made while its tenant moved shards is recorded on the new shard (where the copy would otherwise be sent
   * again) rather than refused on the old one.
   */
  private async record(store: StoreId, claimed: readonly ClaimedDelivery[], outcomes: readonly AttemptOutcome[], released: readonly string[]): Promise<void> {
    const tenantOf = new Map(claimed.map((delivery) => [delivery.id, delivery.tenantId]));
    const tenantIds = [...new Set(claimed.map((delivery) => delivery.tenantId))];
    if (store === CONTROL_STORE || tenantIds.some((tenantId) => tenantId === null)) {
      await recordOutcomes(storeEm(this.db, store), outcomes, released);
      return;
    }
    await this.db.forTenants(tenantIds as string[], async (em, _shardId, ids) => {
      const members = new Set(ids);
      await recordOutcomes(
        em,
        outcomes.filter((outcome) => members.has(tenantOf.get(outcome.id)!)),
        released.filter((id) => members.has(tenantOf.get(id)!)),
      );
    });
  }

  private async attempt(delivery: ClaimedDelivery, endpoint: EndpointRecord | undefined, brandings: Map<string, MailBranding>): Promise<AttemptOutcome> {
    const attemptedAt = new Date();
    const cancel = (reason: string): AttemptOutcome => ({
      id: delivery.id,
      status: 'CANCELLED',
      attempts: delivery.attempts,
      nextAttemptAt: attemptedAt,
      attemptedAt,
      durationMs: 0,
      succeeded: false,
      responseCode: null,
      error: reason,
      attempted: false,
    });
    let result: { ok: boolean; responseCode: number | null; error: string | null; durationMs: number };
    if (delivery.channel === 'WEBHOOK') {
      if (!endpoint) return cancel('the endpoint was deleted');
      if (!endpoint.enabled) return cancel('the endpoint is disabled');
      const body = JSON.stringify({
        id: delivery.eventId,
        type: delivery.kind,
        version: delivery.version,
        timestamp: delivery.occurredAt.toISOString(),
        tenantId: delivery.tenantId,
        data: delivery.data,
      });
      let secrets: string[] | null = null;
      try {
        secrets = signingSecrets(endpoint, this.box, attemptedAt);
      } catch (error) {
        // Sealed with a key this instance lacks (WEBHOOK_SECRETS_KEY/_PREVIOUS_KEYS), or altered: an operator's matter.
        this.logger.error('webhook signing secret cannot be opened; the delivery is retried', { endpoint: endpoint.id, error });
      }
      if (secrets === null) {
        result = { ok: false, responseCode: null, error: 'the signing secret cannot be opened', durationMs: 0 };
      } else {
        const response = await this.webhooks.post(
          endpoint.url,
          body,
          webhookHeaders(secrets, delivery.eventId, Math.floor(attemptedAt.getTime() / 1000), body),
        );
        result = { ok: response.ok, responseCode: response.status, error: response.error, durationMs: response.durationMs };
      }
    } else {
      if (!this.mailer) return cancel('no SMTP server is configured');
      if (!delivery.recipients || delivery.recipients.length === 0) return cancel('no recipients');
      const language = (delivery.language === 'de' ? 'de' : 'en') as Language;
      const owner = delivery.tenantId ?? delivery.partnerId ?? '';
      // Operators are the platform's own staff: their mail is in the platform's branding, not the tenant's partner's.
      const branding = delivery.audience === 'OPERATOR' ? undefined : brandings.get(owner);
      // An issued document's mail carries its PDF, fetched through the signed link in the event.
      const pdf =
        delivery.kind === 'document.issued' ? await fetchDocumentPdf(delivery.data, this.options.documentPdf) : ({ kind: 'NONE', reason: null } as const);
      if (pdf.kind === 'RETRY') {
        result = { ok: false, responseCode: null, error: pdf.error, durationMs: 0 };
      } else {
        if (pdf.kind === 'NONE' && pdf.reason)
          this.logger.warn('document mail without its PDF: the link is refused for good; the mail points to the portal', {
            notification: delivery.notificationId,
            reason: pdf.reason,
          });
        // Without the PDF the mail must not say it is attached: the template reads pdfUrl for that.
        const data = pdf.kind === 'ATTACHED' ? delivery.data : withoutPdfLink(delivery.data);
        const mail = renderMail(renderNotification(delivery.kind, language, data), language, branding ?? DEFAULT_BRANDING);
        result = await this.mailer.send({
          to: delivery.recipients,
          fromName: mail.fromName,
          replyTo: branding?.supportEmail ?? null,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          attachments: pdf.kind === 'ATTACHED' ? [pdf.attachment] : [],
          messageId: `${delivery.notificationId}.${delivery.channel.toLowerCase()}`,
        });
      }
    }
    const attempts = delivery.attempts + 1;
    if (result.ok) {
      return {
        id: delivery.id,
        status: 'DELIVERED',
        attempts,
        nextAttemptAt: attemptedAt,
        attemptedAt,
        durationMs: result.durationMs,
        succeeded: true,
        responseCode: result.responseCode,
        error: null,
        attempted: true,
      };
    }
    const firstAttempt = delivery.firstAttemptAt ?? attemptedAt;
    const nextAttemptAt = new Date(attemptedAt.getTime() + retryDelaySeconds(attempts, this.options.retry) * 1000);
    const givesUp = nextAttemptAt.getTime() - firstAttempt.getTime() > this.options.retry.windowSeconds * 1000;
    return {
      id: delivery.id,
      status: givesUp ? 'FAILED' : 'PENDING',
      attempts,
      nextAttemptAt: givesUp ? attemptedAt : nextAttemptAt,
      attemptedAt,
      durationMs: result.durationMs,
      succeeded: false,
      responseCode: result.responseCode,
      error: result.error ?? 'failed',
      attempted: true,
    };
  }

  /** Endpoints of the claimed webhooks: a tenant's live on its shard, a partner's in the control database. */
  private async endpointsFor(store: StoreId, claimed: readonly ClaimedDelivery[]): Promise<Map<string, EndpointRecord>> {
    const ids = [...new Set(claimed.map((delivery) => delivery.endpointId).filter((id): id is string => id !== null))];
    if (ids.length === 0) return new Map();
    const found = new Map((await endpointsByIds(storeEm(this.db, store), ids)).map((endpoint) => [endpoint.id, endpoint]));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0 && store !== CONTROL_STORE)
      for (const endpoint of await endpointsByIds(this.db.globalEm(), missing)) found.set(endpoint.id, endpoint);
    return found;
  }

  private async brandingsFor(store: StoreId, claimed: readonly ClaimedDelivery[]): Promise<Map<string, MailBranding>> {
    const mail = claimed.filter((delivery) => delivery.channel === 'EMAIL' && delivery.audience !== 'OPERATOR');
    if (mail.length === 0) return new Map();
    if (store === CONTROL_STORE)
      return this.branding.forPartners([...new Set(mail.map((delivery) => delivery.partnerId).filter((id): id is string => id !== null))]);
    return this.branding.forTenants(storeEm(this.db, store), [...new Set(mail.map((delivery) => delivery.tenantId).filter((id): id is string => id !== null))]);
  }
}

/** Lanes marked waiting per store before the marks are dropped (see runPass). */
const MAX_WAITING_LANES = 50_000;

/** Takes back one pass's interest in a lane. */
function withdraw(waiting: Map<string, number>, lane: string): void {
  const count = waiting.get(lane) ?? 0;
  if (count <= 1) waiting.delete(lane);
  else waiting.set(lane, count - 1);
}

const DEFAULT_BRANDING: MailBranding = { ...PLATFORM_BRANDING_VALUES };

function withoutPdfLink(data: Record<string, unknown>): Record<string, unknown> {
  const { pdfUrl: _dropped, ...rest } = data;
  return rest;
}
