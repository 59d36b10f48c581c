import type { ShardId } from './directory.js';

export interface GatheredPage<T> {
  items: T[];
  hasNextPage: boolean;
}

/**
 * Cross-shard keyset pagination. Each shard returns up to `limit + 1` rows strictly after the cursor in
 * one global order (`compare`); merging and cutting at `limit` gives a page with no duplicates and no gaps,
 * and rows inserted later only ever appear after their position in that order.
 */
export async function gatherPage<T>(
  shardIds: readonly ShardId[],
  limit: number,
  fetchShard: (shardId: ShardId, limit: number) => Promise<T[]>,
  compare: (a: T, b: T) => number,
): Promise<GatheredPage<T>> {
  const perShard = await Promise.all(shardIds.map((shardId) => fetchShard(shardId, limit + 1)));
  const merged = perShard.flat().sort(compare);
  return { items: merged.slice(0, limit), hasNextPage: merged.length > limit };
}
