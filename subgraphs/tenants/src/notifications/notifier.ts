import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import type { EventEnvelope, OutboxRelay } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import type { Dispatcher } from './delivery/dispatcher.js';
import { endpointsOfOwners, subscribes, type EndpointRecord } from './delivery/endpoints.js';
import { CONTROL_STORE, shardStore, type StoreId } from './delivery/store.js';
import { ENDPOINT_DISABLED_KIND, notifiable, type NotifiableEvent } from './kinds.js';
import type { NotificationSettingsRecord, NotificationSettingsService } from './settings-service.js';
import { mailLane, webhookLane, writeNotifications, type PlannedDelivery, type PlannedNotification } from './writer.js';

export interface NotifierOptions {
  /** Whether mail can be sent at all (an SMTP server is configured). */
  mailEnabled: boolean;
  /** Platform operators' addresses: fraud cases and other operator notifications. */
  operatorEmails: readonly string[];
}

/**
 * The notifier: turns notification-worthy events into notifications and deliveries. Per batch of events it writes,
 * per shard, one transaction (the notifications, their deliveries by channel and target, live-feed events), then hands
 * the open deliveries to the dispatcher at once. Exactly one notification per event and one delivery per channel and
 * target, whatever the redeliveries: unique keys decide, and a redelivered event only re-dispatches what is still open.
 */
export class Notifier {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly settings: NotificationSettingsService,
    private readonly dispatcher: Dispatcher,
    private readonly relay: Pick<OutboxRelay, 'poke'>,
    private readonly options: NotifierOptions,
    private readonly logger: Logger,
  ) {}

  /** The bus handler (batches of notification-events). Resolves once the batch is committed; sending runs on. */
  async handle(envelopes: readonly EventEnvelope[]): Promise<void> {
    const events: NotifiableEvent[] = [];
    for (const envelope of envelopes) {
      try {
        const event = notifiable(envelope);
        if (event) events.push(event);
      } catch (error) {
        // A payload that breaks its contract can never be handled: logged for an operator, not retried forever.
        this.logger.error('notification event does not match its contract; skipped', { id: envelope.id, type: envelope.type, error });
      }
    }
    if (events.length === 0) return;
    // Per shard of the tenants; a shard's batch refused because one of its tenants moved meanwhile runs again where they are now.
    const known = new Set<string>();
    await this.db.forTenants([...new Set(events.map((event) => event.tenantId))], async (em, shardId, tenantIds) => {
      const members = new Set(tenantIds);
      const own = events.filter((event) => members.has(event.tenantId));
      const planned = await this.plan(em, own);
      const written = await em.transactional((tx) => writeNotifications(tx, planned));
      for (const tenantId of tenantIds) known.add(tenantId);
      if (written.fresh.size > 0) this.relay.poke();
      this.dispatcher.dispatchSoon(shardStore(shardId), written.open);
    });
    const unknown = events.filter((event) => !known.has(event.tenantId));
    if (unknown.length > 0)
      this.logger.warn('notification events for tenants this platform does not know; skipped', {
        tenants: [...new Set(unknown.map((event) => event.tenantId))],
      });
  }

  private async plan(em: EntityManager, events: readonly NotifiableEvent[]): Promise<PlannedNotification[]> {
    const tenantIds = [...new Set(events.map((event) => event.tenantId))];
    const settings = await this.settings.onShard(em, tenantIds);
    const partnerIds = [...new Set([...settings.values()].map((entry) => entry.partnerId).filter((id): id is string => id !== null))];
    const [tenantEndpoints, partnerEndpoints] = await Promise.all([
      endpointsOfOwners(em, tenantIds, true),
      endpointsOfOwners(this.db.globalEm(), partnerIds, true),
    ]);
    const endpointsOf = (owner: string) => [...tenantEndpoints, ...partnerEndpoints].filter((endpoint) => endpoint.ownerId === owner);
    const planned: PlannedNotification[] = [];
    for (const event of events) {
      const tenant = settings.get(event.tenantId);
      if (!tenant) continue;
      if (event.kind === 'forecast.depletion_soon' && tenant.runwayDays !== null && Number(event.data['daysLeft']) > tenant.runwayDays) continue;
      if (event.audience === 'OPERATOR') {
        planned.push(this.operatorNotification(event));
        continue;
      }
      const endpoints = [...endpointsOf(event.tenantId), ...(tenant.partnerId ? endpointsOf(tenant.partnerId) : [])].filter((endpoint) =>
        subscribes(endpoint, event.kind),
      );
      planned.push(this.tenantNotification(event, tenant, endpoints));
    }
    return planned;
  }

  private tenantNotification(event: NotifiableEvent, tenant: NotificationSettingsRecord, endpoints: readonly EndpointRecord[]): PlannedNotification {
    const deliveries: PlannedDelivery[] = endpoints.map((endpoint) => ({
      channel: 'WEBHOOK',
      target: endpoint.id,
      endpointId: endpoint.id,
      recipients: null,
      lane: webhookLane(endpoint.id, event.tenantId, null),
    }));
    if (this.options.mailEnabled && tenant.recipients.length > 0 && tenant.emailKinds.includes(event.kind)) {
      deliveries.push({ channel: 'EMAIL', target: 'email', endpointId: null, recipients: tenant.recipients, lane: mailLane(event.tenantId) });
    }
    return {
      tenantId: event.tenantId,
      partnerId: null,
      eventId: event.eventId,
      kind: event.kind,
      version: event.version,
      audience: 'TENANT',
      language: tenant.language,
      data: event.data,
      occurredAt: event.occurredAt,
      live: tenant.liveKinds.includes(event.kind),
      deliveries,
    };
  }

  private operatorNotification(event: NotifiableEvent): PlannedNotification {
    const mail = this.options.mailEnabled && this.options.operatorEmails.length > 0;
    return {
      tenantId: event.tenantId,
      partnerId: null,
      eventId: event.eventId,
      kind: event.kind,
      version: event.version,
      audience: 'OPERATOR',
      language: 'en',
      data: event.data,
      occurredAt: event.occurredAt,
      live: true,
      deliveries: mail
        ? [{ channel: 'EMAIL', target: 'email', endpointId: null, recipients: [...this.options.operatorEmails], lane: mailLane(`operators:${event.tenantId}`) }]
        : [],
    };
  }

  /**
   * Disables an endpoint whose delivery failed for good and tells its owner, in one transaction where the endpoint
   * lives: a tenant's (its shard: mail to its recipients, live feed) or a partner's (control database: mail to the
   * partner's contact address). Only the call that actually disabled it tells anyone.
   */
  async disableEndpoint(endpoint: EndpointRecord, lastError: string, failingSinceMs: number): Promise<void> {
    const now = new Date();
    const data = {
      endpointId: endpoint.id,
      url: endpoint.url,
      lastError,
      failingHours: Math.round((now.getTime() - failingSinceMs) / 3_600_000),
      disabledAt: now.toISOString(),
    };
    const reason = `deliveries failed for ${data.failingHours} hours; last error: ${lastError}`.slice(0, 500);
    // One transaction where the endpoint lives: the endpoint is disabled and its owner told, or neither.
    const disable = (em: EntityManager, planned: PlannedNotification) =>
      em.transactional(async (tx) => {
        const disabled = await tx.execute<{ id: string }[]>(
          'update webhook_endpoint set enabled = false, disabled_reason = ?, disabled_at = ?, updated_at = ? where id = ? and enabled returning id',
          [reason, now, now, endpoint.id],
        );
        if (disabled.length === 0) return null;
        return writeNotifications(tx, [planned]);
      });
    let store: StoreId;
    let written: Awaited<ReturnType<typeof disable>> | undefined;
    if (endpoint.ownerType === 'TENANT') {
      // On the tenant's shard, run again on the new one when the tenant moved meanwhile.
      const outcome = await this.db.forTenantIfPlaced(endpoint.ownerId, async (em, shardId) => {
        const tenant = (await this.settings.onShard(em, [endpoint.ownerId])).get(endpoint.ownerId);
        if (!tenant) return undefined;
        const mail = this.options.mailEnabled && tenant.recipients.length > 0 && tenant.emailKinds.includes(ENDPOINT_DISABLED_KIND);
        const planned: PlannedNotification = {
          tenantId: endpoint.ownerId,
          partnerId: null,
          eventId: uuidv7(),
          kind: ENDPOINT_DISABLED_KIND,
          version: 1,
          audience: 'TENANT',
          language: tenant.language,
          data,
          occurredAt: now,
          live: tenant.liveKinds.includes(ENDPOINT_DISABLED_KIND),
          deliveries: mail ? [{ channel: 'EMAIL', target: 'email', endpointId: null, recipients: tenant.recipients, lane: mailLane(endpoint.ownerId) }] : [],
        };
        return { store: shardStore(shardId), written: await disable(em, planned) };
      });
      if (!outcome) return;
      store = outcome.store;
      written = outcome.written;
    } else {
      store = CONTROL_STORE;
      const em = this.db.globalEm();
      const [partner] = await em.execute<{ contact_email: string | null; country: string }[]>('select contact_email, country from partner where id = ?', [
        endpoint.ownerId,
      ]);
      if (!partner) return;
      const planned: PlannedNotification = {
        tenantId: null,
        partnerId: endpoint.ownerId,
        eventId: uuidv7(),
        kind: ENDPOINT_DISABLED_KIND,
        version: 1,
        audience: 'PARTNER',
        language: ['DE', 'AT', 'CH'].includes(partner.country.trim()) ? 'de' : 'en',
        data,
        occurredAt: now,
        live: false,
        deliveries:
          this.options.mailEnabled && partner.contact_email
            ? [{ channel: 'EMAIL', target: 'email', endpointId: null, recipients: [partner.contact_email], lane: mailLane(`partner:${endpoint.ownerId}`) }]
            : [],
      };
      written = await disable(em, planned);
    }
    if (!written) return;
    this.logger.warn('webhook endpoint disabled after persistent failure', { endpoint: endpoint.id, owner: endpoint.ownerId, reason });
    this.relay.poke();
    this.dispatcher.dispatchSoon(store, written.open);
  }
}
