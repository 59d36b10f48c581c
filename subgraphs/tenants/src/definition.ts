import { buildFederatedSchema } from '@saldo/graphql';
import { shardOperationsResolver, type SubgraphDefinition } from '@saldo/subgraph';
import { Partner } from './entities/partner.js';
import { Tenant } from './entities/tenant.js';
import type { TenantsServices } from './graphql/context.js';
import { ApiKeyResolver, PartnerResolver, TenantResolver, referenceResolvers } from './graphql/resolvers.js';
import { mountApiKeyVerification } from './http/internal-api-keys.js';
import { ApiKey } from './entities/api-key.js';
import { ApiKeyService } from './services/api-key-service.js';
import { globalMigrations, shardMigrations } from './migrations/index.js';
import { subscribeFraudSuspension } from './services/fraud-suspension-consumer.js';
import { PartnerService } from './services/partner-service.js';
import { TenantService } from './services/tenant-service.js';
import type { TenantsConfig } from './config.js';
import {
  NotificationPartnerResolver,
  NotificationResolver,
  NotificationSubscriptionResolver,
  NotificationTenantResolver,
  WebhookDeliveryResolver,
  createNotificationServices,
  notificationGlobalMigrations,
  notificationShardMigrations,
  notificationQueues,
  notificationSchedules,
  notificationWorkers,
  subscribeNotifications,
} from './notifications/index.js';

/** Operators' shard fields (`tenantsShards`), the same mechanism in every subgraph. */
const TenantsShardOperations = shardOperationsResolver('tenants');

/** Printed to schema/tenants.graphql by `pnpm compose`; served by the running subgraph. */
export function buildTenantsSchema() {
  return buildFederatedSchema({
    resolvers: [
      TenantResolver,
      PartnerResolver,
      ApiKeyResolver,
      NotificationResolver,
      WebhookDeliveryResolver,
      NotificationTenantResolver,
      NotificationPartnerResolver,
      NotificationSubscriptionResolver,
      TenantsShardOperations,
    ],
    referenceResolvers,
  });
}

export const tenantsSubgraph: SubgraphDefinition<TenantsServices, TenantsConfig> = {
  name: 'tenants',
  shardSchema: {
    shard: { entities: [Tenant], migrations: [...shardMigrations, ...notificationShardMigrations] },
    global: { entities: [Partner, ApiKey], migrations: [...globalMigrations, ...notificationGlobalMigrations] },
    // Tables whose tenant is not in `tenant_id`, for shard moves (every other tenant table, the notification log and
    // its attempts included, names its tenant in `tenant_id`).
    moves: { tenantColumns: { tenant: 'id', webhook_endpoint: 'owner_id', notification_branding: 'owner_id' } },
  },
  buildSchema: buildTenantsSchema,
  createServices: (runtime) => ({
    tenants: new TenantService(runtime.db, runtime.relay),
    partners: new PartnerService(runtime.db, runtime.relay),
    apiKeys: new ApiKeyService(runtime.db),
    notifications: createNotificationServices(runtime),
  }),
  subscribe: (services, runtime) => [
    subscribeFraudSuspension(runtime.bus, services.tenants, runtime.logger),
    ...subscribeNotifications(services.notifications, runtime),
  ],
  jobs: {
    queues: notificationQueues,
    workers: (services) => notificationWorkers(services.notifications.dispatcher),
    schedules: () => notificationSchedules(),
  },
  configureHttp: (app, services, runtime) => mountApiKeyVerification(app, services.apiKeys, runtime),
  start: async (services) => {
    // Resume what a previous run left open (deliveries due, or claimed by a process that died), then run on.
    // Secrets stored in plaintext by an earlier version, or sealed with an earlier key, are sealed with the current one.
    await services.notifications.sealStoredSecrets();
    services.notifications.dispatcher.sweepSoon();
    return () => services.notifications.close();
  },
  // Deliveries in flight finish (and schedule their retries) while the job queue still runs; the transports close last.
  quiesce: (services) => services.notifications.dispatcher.quiesce(),
};
