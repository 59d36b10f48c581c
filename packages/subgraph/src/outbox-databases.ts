import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardedDatabase } from '@saldo/sharding';

/** One database holding a subgraph's outbox, named as logs and metrics name it. */
export interface OutboxDatabase {
  /** `control`, or `shard-N`. */
  name: string;
  /** Whether it is a shard (holds tenants' rows, which shard moves copy). */
  shard: boolean;
  /** A fresh EntityManager from its background pool (never queued behind requests). */
  em: () => EntityManager;
}

/** Every outbox of a subgraph: its control database's, then each shard's (the relay and the retention pass go over them). */
export function outboxDatabases(db: ShardedDatabase): OutboxDatabase[] {
  return [
    { name: 'control', shard: false, em: () => db.backgroundGlobalEm() },
    ...db.shardIds.map((shardId) => ({ name: `shard-${shardId}`, shard: true, em: () => db.backgroundEm(shardId) })),
  ];
}
