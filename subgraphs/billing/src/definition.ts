import type { Constructor } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import { buildFederatedSchema } from '@saldo/graphql';
import type { SchemaPart } from '@saldo/sharding';
import { shardOperationsResolver, type SubgraphDefinition, type SubgraphRuntime } from '@saldo/subgraph';
import type { BillingConfig } from './config.js';
import { createDocumentServices, documentsModule, type DocumentOverrides, type DocumentServices } from './documents/index.js';
import { createLedgerServices, ledgerModule, ledgerMoveCheck, type LedgerServices } from './ledger/index.js';
import { createPaymentServices, paymentsModule, type PaymentOverrides, type PaymentServices } from './payments/index.js';
import { SYSTEM_CLOCK, type Clock } from './shared/clock.js';
import { TenantStub, referenceResolvers } from './shared/graphql.js';
import type { BillingModule } from './shared/module.js';
import { createUsageServices, usageModule, type UsageServices } from './usage/index.js';

/** Billing's services: every module's, in one object (what resolvers find in `ctx.services`). */
export type BillingServices = LedgerServices & UsageServices & PaymentServices & DocumentServices;

/**
 * Billing's modules, in dependency order: usage and payments post through the ledger. A new module (documents, ...)
 * is a folder with an index.ts exporting its BillingModule, added here and wired in createBillingServices.
 */
export const billingModules: ReadonlyArray<BillingModule<BillingServices>> = [ledgerModule, usageModule, paymentsModule, documentsModule];
const modules = billingModules;

/** Operators' shard fields (`billingShards`), the same mechanism in every subgraph. */
const BillingShardOperations = shardOperationsResolver('billing');

/** Printed to schema/billing.graphql by `pnpm compose`; served by the running subgraph. */
export function buildBillingSchema() {
  const [first, ...rest] = modules.flatMap((module) => module.resolvers);
  return buildFederatedSchema({ resolvers: [first!, ...rest, BillingShardOperations], orphanedTypes: [TenantStub], referenceResolvers });
}

/** Seams tests (and operators embedding billing) may replace; each defaults to what the configuration says. */
export interface BillingOverrides extends PaymentOverrides, DocumentOverrides {
  /** "Now" for every service. */
  clock?: Clock;
}

/** Billing's services over one runtime: each module's, wired to the modules it depends on. */
export function createBillingServices(runtime: SubgraphRuntime<BillingConfig>, overrides: BillingOverrides | Clock = {}): BillingServices {
  const options: BillingOverrides = 'now' in overrides ? { clock: overrides } : overrides;
  const clock = options.clock ?? SYSTEM_CLOCK;
  const ledger = createLedgerServices(runtime, clock);
  const usage = createUsageServices(runtime, { ledger: ledger.ledger, clock });
  const documents = createDocumentServices(runtime, { ledger: ledger.ledger, clock }, options);
  // Top-ups charge VAT on top of the credit as the documents module quotes it (nothing while documents are off).
  const tax = (tenantId: string, netMinor: bigint, currency: string, at: Date) => documents.documents.quoteTopUpTax(tenantId, netMinor, currency, at);
  const payments = createPaymentServices(runtime, { ledger: ledger.ledger, clock, tax }, options);
  return { ...ledger, ...usage, ...payments, ...documents };
}

/** The modules' tables of one kind, migrations in timestamp order (each migration's name starts with it). */
function schemaPart(part: 'shard' | 'global'): SchemaPart {
  const parts = modules.flatMap((module) => (module[part] ? [module[part]] : []));
  const migrations: Constructor<Migration>[] = parts.flatMap((p) => p.migrations);
  return { entities: parts.flatMap((p) => p.entities), migrations: migrations.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}

export const billingSubgraph: SubgraphDefinition<BillingServices, BillingConfig> = {
  name: 'billing',
  shardSchema: {
    shard: schemaPart('shard'),
    global: schemaPart('global'),
    // A tenant moving between shards: besides every table's rows and checksum, its ledger must add up on the target.
    moves: { checks: [ledgerMoveCheck] },
  },
  buildSchema: buildBillingSchema,
  createServices: (runtime) => createBillingServices(runtime),
  subscribe: (services, runtime) => modules.flatMap((module) => module.subscribe?.(services, runtime) ?? []),
  jobs: {
    queues: modules.flatMap((module) => module.jobs?.queues ?? []),
    workers: (services, runtime) => modules.flatMap((module) => module.jobs?.workers?.(services, runtime) ?? []),
    schedules: (runtime) => modules.flatMap((module) => module.jobs?.schedules?.(runtime) ?? []),
  },
  configureHttp: (app, services, runtime) => {
    for (const module of modules) module.configureHttp?.(app, services, runtime);
  },
  start: async (services, runtime) => {
    const stops: Array<() => Promise<void>> = [];
    try {
      for (const module of modules) if (module.start) stops.push(await module.start(services, runtime));
    } catch (error) {
      for (const stop of stops.reverse()) await stop();
      throw error;
    }
    return async () => {
      for (const stop of stops.reverse()) await stop();
    };
  },
};
