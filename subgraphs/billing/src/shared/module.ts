import type { Express } from 'express';
import type { Unsubscribe } from '@saldo/events';
import type { SubgraphJobs } from '@saldo/subgraph';
import type { SchemaPart } from '@saldo/sharding';
import type { SubgraphRuntime } from '@saldo/subgraph';
import type { BillingConfig } from '../config.js';

/**
 * One of billing's modules (ledger, usage, payments, documents, ...): a folder under src/ whose index.ts is its only
 * public surface. definition.ts composes the modules into the billing subgraph: their tables (entities and
 * migrations, ordered by the timestamp in each migration's name), their GraphQL resolvers, and their event
 * consumers, HTTP endpoints and background work. Services are wired in definition.ts, where the dependencies
 * between modules (usage and payments post through the ledger) are explicit.
 *
 * `S` is what the module's hooks need from billing's composed services (its own services, at least).
 */
export interface BillingModule<S = never> {
  /** The folder name; used in logs. */
  name: string;
  /** Tables on every tenant shard. */
  shard?: SchemaPart;
  /** Tables in billing's control database (platform-wide rows). */
  global?: SchemaPart;
  /** type-graphql resolver classes (constructors, hence `Function`). */
  resolvers: Function[];
  /** Event consumers; their results stop them. */
  subscribe?(services: S, runtime: SubgraphRuntime<BillingConfig>): Unsubscribe[];
  /** HTTP endpoints besides GraphQL (webhooks), mounted before it. */
  configureHttp?(app: Express, services: S, runtime: SubgraphRuntime<BillingConfig>): void;
  /** Background work once the service listens; the result stops it (modules stop in reverse order). */
  start?(services: S, runtime: SubgraphRuntime<BillingConfig>): Promise<() => Promise<void>>;
  /** Durable jobs (@saldo/jobs): the module's queues, their workers and schedules. */
  jobs?: SubgraphJobs<S, BillingConfig>;
}
