import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KafkaEventBus, type EventBus } from '@saldo/events';
import { createGatewayService, loadGatewayConfig, type GatewayService } from '@saldo/gateway';
import type { Identity } from '@saldo/graphql';
import { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, generateSigningKeyPair, signDevToken } from '@saldo/identity';
import { dropDatabases } from '@saldo/sharding';
import { createSubgraphService, type SubgraphConfig, type SubgraphDefinition, type SubgraphService } from '@saldo/subgraph';
import { LedgerEntryType, billingSubgraph, loadBillingConfig, type BillingConfig, type BillingServices } from '@saldo/subgraph-billing';
import { loadTenantsConfig, tenantsSubgraph, type TenantsServices } from '@saldo/subgraph-tenants';
import { loadUsageForecastConfig, usageForecastSubgraph } from '@saldo/subgraph-usage-forecast';
import {
  TEST_ADMIN,
  TEST_LOG_LEVEL,
  TEST_POSTGRES_URL,
  graphql,
  startKafkaMockCluster,
  testLogger,
  uniquePrefix,
  waitUntil,
  type KafkaMockCluster,
} from '@saldo/testing';
import { DEFAULT_SUPERGRAPH_PATH, subgraphDatabases } from '@saldo/dev-stack';
import { BALANCE_SUBSCRIPTION, sseTestClient, wsTestClient, type BalanceUpdate, type Collector } from './subscription-clients.js';

const RECORD_USAGE = /* GraphQL */ `
  mutation Record($input: RecordUsageInput!) {
    recordUsage(input: $input) {
      balance {
        version
      }
    }
  }
`;

/**
 * Several instances, as the full stack runs them: two gateways and two billing instances (separate services on their
 * own ports, sharing billing's databases), tenants and usage-forecast, every service with its own Kafka client on one
 * (mock) cluster. Each gateway routes billing to "its" instance; usage recorded through either gateway reaches the
 * subscribers of both, because every billing instance consumes balance-events in a consumer group of its own.
 */
describe('live balances across two gateways and two billing instances on Kafka', () => {
  let kafka: KafkaMockCluster;
  const buses: EventBus[] = [];
  const services: Array<{ stop(): Promise<void> }> = [];
  const databaseUrls: string[] = [];
  let gateways: GatewayService[];
  let billings: Array<SubgraphService<BillingServices, BillingConfig>>;
  let tenants: SubgraphService<TenantsServices>;
  const keys = { identity: generateSigningKeyPair(), portal: generateSigningKeyPair() };
  const prefix = uniquePrefix('multi');
  const logger = testLogger();
  const disposers: Array<() => unknown> = [];
  let tenantId: string;

  const token = (identity: Identity) => signDevToken(keys.portal.privateKeyPem, identity);
  const busFor = (clientId: string): EventBus => {
    const bus = new KafkaEventBus({
      brokers: kafka.brokers,
      clientId,
      logger: logger.child(clientId),
      // The mock cluster cannot hand out idempotent producer ids to kafkajs (see KafkaEventBusOptions.idempotent).
      idempotent: false,
      retry: { initialRetryTime: 50, maxRetryTime: 500, retries: 5 },
      handlerRetryMs: { initial: 20, max: 200 },
      maxWaitTimeMs: 50,
      sessionTimeoutMs: 6_000,
      partitionsConsumedConcurrently: 4,
    });
    buses.push(bus);
    return bus;
  };
  const env = (name: string): Record<string, string> => {
    const own = subgraphDatabases({ postgresUrl: TEST_POSTGRES_URL, databasePrefix: prefix, shardsPerSubgraph: 2 }, name);
    for (const url of [own.control, ...own.shards]) if (!databaseUrls.includes(url)) databaseUrls.push(url);
    return {
      PORT: '0',
      CONTROL_DATABASE_URL: own.control,
      SHARD_DATABASE_URLS: own.shards.join(','),
      CREATE_DATABASES: 'true',
      DATABASE_POOL_MAX: '4',
      LOG_LEVEL: TEST_LOG_LEVEL,
      IDENTITY_PUBLIC_KEY: keys.identity.publicKeyPem,
      OUTBOX_POLL_INTERVAL_MS: '100',
    };
  };
  const start = async <S, C extends SubgraphConfig>(definition: SubgraphDefinition<S, C>, config: C, clientId: string) => {
    const service = createSubgraphService(definition, config, { bus: busFor(clientId), logger });
    await service.start();
    services.unshift(service);
    return service;
  };

  before(async () => {
    kafka = await startKafkaMockCluster();
    tenants = await start(tenantsSubgraph, loadTenantsConfig(env('tenants')), 'saldo-tenants');
    const usageForecast = await start(usageForecastSubgraph, loadUsageForecastConfig(env('usage-forecast')), 'saldo-usage-forecast');
    // Two billing instances over the same databases (started one after the other: the first one migrates).
    billings = [];
    for (const instance of [1, 2]) billings.push(await start(billingSubgraph, loadBillingConfig(env('billing')), `saldo-billing-${instance}`));
    gateways = [];
    for (const billing of billings) {
      const gateway = createGatewayService(
        loadGatewayConfig({
          PORT: '0',
          SUPERGRAPH_PATH: DEFAULT_SUPERGRAPH_PATH,
          LOG_LEVEL: TEST_LOG_LEVEL,
          SUBGRAPH_URL_TENANTS: `${tenants.url}/graphql`,
          SUBGRAPH_URL_BILLING: `${billing.url}/graphql`,
          SUBGRAPH_URL_USAGE_FORECAST: `${usageForecast.url}/graphql`,
          // Not started here: nothing in this test selects white-label fields.
          SUBGRAPH_URL_WHITE_LABEL: 'http://127.0.0.1:9/graphql',
          IDENTITY_PRIVATE_KEY: keys.identity.privateKeyPem,
          JWT_ISSUER: DEV_TOKEN_ISSUER,
          JWT_AUDIENCE: DEV_TOKEN_AUDIENCE,
          JWT_PUBLIC_KEYS: keys.portal.publicKeyPem,
        }),
        { logger },
      );
      await gateway.start();
      services.unshift(gateway);
      gateways.push(gateway);
    }

    await billings[0]!.services.rates.publish({
      product: 'inbound_minute',
      currency: 'EUR',
      unitPriceMinor: '1.25',
      validFrom: new Date(Date.now() - 86_400_000),
    });
    tenantId = (await tenants.services.tenants.create({ name: 'Multi-instance tenant', currency: 'EUR', country: 'DE' })).id;
    // tenant.created travels through Kafka: billing opens the account, usage-forecast places the tenant.
    await waitUntil(async () => (await billings[0]!.services.accounts.find(tenantId)) !== null, 'the account opened from tenant.created', {
      timeoutMs: 30_000,
    });
    await billings[0]!.services.ledger.post({
      tenantId,
      entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: 1_000_000n, idempotencyKey: `seed:${tenantId}` }],
    });
  });

  after(async () => {
    for (const dispose of disposers) await dispose();
    for (const service of services) await service.stop().catch(() => undefined);
    for (const bus of buses) await bus.close().catch(() => undefined);
    await kafka?.stop();
    await dropDatabases(databaseUrls);
  });

  it('subscribers on both gateways receive every update, whichever gateway and billing instance recorded it', async () => {
    const member: Identity = { role: 'tenant-member', subject: 'multi', tenantId };
    const collectors: Array<Collector<BalanceUpdate>> = [];
    for (const gateway of gateways) {
      const wsClient = wsTestClient(`${gateway.url}/graphql`, { authorization: `Bearer ${await token(member)}` });
      const sseClient = sseTestClient(`${gateway.url}/graphql/stream`, { authorization: `Bearer ${await token(member)}` });
      disposers.push(
        () => wsClient.dispose(),
        () => sseClient.dispose(),
      );
      collectors.push(wsClient.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId }).collector);
      collectors.push(sseClient.subscribe<BalanceUpdate>(BALANCE_SUBSCRIPTION, { tenantId }).collector);
    }
    for (const collector of collectors) await collector.count(1);
    assert.ok(collectors.every((collector) => collector.last?.balanceChanged.tenant.name === 'Multi-instance tenant'));
    // Each billing instance serves the subscription of its own gateway.
    assert.deepEqual(
      billings.map((billing) => billing.metrics().subscriptions.active),
      [1, 1],
    );

    const versions: number[] = [];
    for (let index = 0; index < 6; index += 1) {
      const gateway = gateways[index % 2]!;
      const response = await graphql<{ recordUsage: { balance: { version: number } } }>(
        `${gateway.url}/graphql`,
        RECORD_USAGE,
        {
          input: {
            tenantId,
            events: [{ id: `multi-${index}`, product: 'inbound_minute', quantity: 1, occurredAt: new Date(Date.now() - 1000).toISOString() }],
          },
        },
        { authorization: `Bearer ${await token(TEST_ADMIN)}` },
      );
      assert.equal(response.errors, undefined, JSON.stringify(response.errors));
      versions.push(response.data!.recordUsage.balance.version);
    }
    const last = Math.max(...versions);
    for (const collector of collectors) {
      await collector.until((c) => c.last?.balanceChanged.balance.version === last, `version ${last}`, 30_000);
      const seen = collector.data.map((update) => update.balanceChanged.balance.version).slice(1);
      assert.deepEqual(seen, versions, 'every update, in order');
      assert.ok(
        collector.data
          .slice(1)
          .every((update) => update.balanceChanged.entry?.type === 'USAGE' && update.balanceChanged.tenant.name === 'Multi-instance tenant'),
      );
    }
  });
});
