// The outbox relay over every shard of a test's sharded database, as a subgraph runs it: the shard-move tests need
// published events (a move's fence waits for the relay) and count what reached the bus.
import { InProcessEventBus, OutboxRelay } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';

/** Starts a relay polling every 50 ms over each shard of `db` into `bus` (a fresh in-process bus unless given). */
export function startShardRelay(db: ShardedDatabase, logger: Logger, bus: InProcessEventBus = new InProcessEventBus(logger)): OutboxRelay {
  const relay = new OutboxRelay({
    sources: db.shardIds.map((shardId) => ({ name: `shard-${shardId}`, em: () => db.em(shardId) })),
    bus,
    logger,
    pollIntervalMs: 50,
  });
  relay.start();
  return relay;
}
