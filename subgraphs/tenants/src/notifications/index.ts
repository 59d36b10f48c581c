import { randomBytes } from 'node:crypto';
import { breakerSettings } from '@saldo/resilience';
import { Topic, type Unsubscribe } from '@saldo/events';
import { SecretBox } from '@saldo/secrets';
import type { ShardedDatabase } from '@saldo/sharding';
import type { SubgraphRuntime } from '@saldo/subgraph';
import type { TenantsConfig } from '../config.js';
import { BrandingCopy } from './branding.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { documentPdfGuard } from './delivery/document-pdf.js';
import { sealStoredSecrets } from './delivery/endpoints.js';
import { Mailer } from './delivery/mailer.js';
import { allStores, storeEm } from './delivery/store.js';
import { WebhookClient } from './delivery/webhook-client.js';
import { WebhookEndpointService } from './endpoint-service.js';
import { NotificationFeed } from './feed.js';
import { CONSUMED_TOPICS } from './kinds.js';
import { retryScheduler } from './jobs.js';
import { Notifier } from './notifier.js';
import { NotificationSettingsService } from './settings-service.js';

export { notificationGlobalMigrations, notificationShardMigrations } from './migrations.js';
export { notificationQueues, notificationSchedules, notificationWorkers } from './jobs.js';
export {
  NotificationPartnerResolver,
  NotificationResolver,
  NotificationSubscriptionResolver,
  NotificationTenantResolver,
  WebhookDeliveryResolver,
} from './graphql.js';

/** The notifications capability: settings, endpoints, the notifier, delivery and the live feed. */
export interface NotificationServices {
  settings: NotificationSettingsService;
  endpoints: WebhookEndpointService;
  notifier: Notifier;
  dispatcher: Dispatcher;
  feed: NotificationFeed;
  branding: BrandingCopy;
  /** The subgraph's databases (notification lists read the tenant's shard). */
  db: ShardedDatabase;
  /**
   * Seals every stored signing secret that is not sealed with the current key (plaintext from before, or an earlier
   * key), on every database; run at start.
   */
  sealStoredSecrets(): Promise<void>;
  close(): Promise<void>;
}

export function createNotificationServices(runtime: SubgraphRuntime<TenantsConfig>): NotificationServices {
  const { config, db, relay, logger } = runtime;
  const log = logger.child('notifications');
  const allowPrivate = config.WEBHOOK_ALLOW_PRIVATE_TARGETS ?? config.NODE_ENV !== 'production';
  const mailer = config.SMTP_URL
    ? new Mailer({
        url: config.SMTP_URL,
        fromAddress: config.MAIL_FROM,
        maxConnections: config.SMTP_MAX_CONNECTIONS,
        timeoutMs: config.SMTP_TIMEOUT_MS,
        breaker: breakerSettings(config, 'SMTP'),
      })
    : null;
  const webhooks = new WebhookClient({
    allowPrivate,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    maxSocketsPerHost: config.WEBHOOK_MAX_SOCKETS_PER_HOST,
    userAgent: 'Saldo-Webhooks/1',
    breaker: breakerSettings(config, 'WEBHOOK'),
  });
  const branding = new BrandingCopy(db);
  const box = new SecretBox(config.WEBHOOK_SECRETS_KEY ?? processKey(), config.WEBHOOK_SECRETS_PREVIOUS_KEYS);
  const dispatcher = new Dispatcher(
    db,
    mailer,
    webhooks,
    branding,
    box,
    {
      retry: {
        baseSeconds: config.WEBHOOK_RETRY_BASE_SECONDS,
        maxDelaySeconds: config.WEBHOOK_RETRY_MAX_DELAY_SECONDS,
        windowSeconds: config.WEBHOOK_RETRY_WINDOW_SECONDS,
      },
      leaseMs: config.NOTIFY_LEASE_MS,
      concurrency: config.NOTIFY_CONCURRENCY,
      documentPdf: {
        timeoutMs: config.DOCUMENT_FETCH_TIMEOUT_MS,
        fetchOrigin: config.DOCUMENT_FETCH_ORIGIN ?? null,
        guard: documentPdfGuard(breakerSettings(config, 'DOCUMENT_PDF'), config.DOCUMENT_FETCH_TIMEOUT_MS),
      },
    },
    log.child('dispatcher'),
  );
  const settings = new NotificationSettingsService(db, relay);
  const notifier = new Notifier(db, settings, dispatcher, relay, { mailEnabled: mailer !== null, operatorEmails: config.NOTIFY_OPERATOR_EMAILS }, log);
  dispatcher.useScheduler(retryScheduler(runtime.jobs));
  dispatcher.whenEndpointFailsForGood((endpoint, lastError, since) => notifier.disableEndpoint(endpoint, lastError, since));
  return {
    settings,
    endpoints: new WebhookEndpointService(db, dispatcher, { allowPrivate }, box),
    notifier,
    dispatcher,
    feed: new NotificationFeed(),
    branding,
    db,
    async sealStoredSecrets() {
      for (const store of allStores(db)) {
        const { sealed, unopenable } = await sealStoredSecrets(storeEm(db, store), box);
        if (sealed > 0) log.info('webhook signing secrets sealed with the current key', { store, endpoints: sealed });
        if (unopenable.length > 0)
          log.error('webhook signing secrets that no configured key opens (WEBHOOK_SECRETS_KEY, WEBHOOK_SECRETS_PREVIOUS_KEYS)', {
            store,
            endpoints: unopenable,
          });
      }
    },
    async close() {
      await dispatcher.stop();
      await mailer?.close();
      webhooks.close();
    },
  };
}

let processWideKey: Buffer | undefined;

/**
 * Without WEBHOOK_SECRETS_KEY (outside production only: the config refuses production without it) secrets are sealed
 * with a random key of this process, the same for every instance in it (tests run several on the same databases).
 */
function processKey(): Buffer {
  processWideKey ??= randomBytes(32);
  return processWideKey;
}

/** The notifier's consumers: notification-worthy events, branding changes, and this instance's live feed. */
export function subscribeNotifications(services: NotificationServices, runtime: SubgraphRuntime<TenantsConfig>): Unsubscribe[] {
  return [
    // One consumer group per topic: a Kafka group is one subscription (KafkaEventBus), so the groups are named apart.
    ...CONSUMED_TOPICS.map((topic) => runtime.bus.subscribeBatch(topic, `tenants.notifier.${topic}`, (events) => services.notifier.handle(events))),
    runtime.bus.subscribeBatch(Topic.TenantEvents, 'tenants.notification-branding', (events) => services.branding.apply(events)),
    services.feed.start(runtime.bus),
  ];
}
