// Cross-shard keyset pagination (gatherPage): pages in one global order, no duplicates, no gaps, stable when rows are
// added behind the cursor.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatherPage } from '@saldo/sharding';

/** Three shards' rows (ids in one global order), each shard returning its rows after the cursor, sorted. */
const shards = new Map<number, number[]>([
  [0, [1, 4, 5, 9, 12]],
  [1, [2, 3, 10]],
  [2, [6, 7, 8, 11, 13, 14]],
]);

async function page(after: number, limit: number) {
  const asked: Array<[number, number]> = [];
  const result = await gatherPage(
    [...shards.keys()],
    limit,
    async (shardId, shardLimit) => {
      asked.push([shardId, shardLimit]);
      return (shards.get(shardId) ?? []).filter((id) => id > after).slice(0, shardLimit);
    },
    (a, b) => a - b,
  );
  return { ...result, asked };
}

describe('cross-shard pages', () => {
  it('walks every row once, in order, asking each shard for one row more than a page', async () => {
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const { items, hasNextPage, asked } = await page(after, 4);
      assert.deepEqual(asked.sort(), [
        [0, 5],
        [1, 5],
        [2, 5],
      ]);
      seen.push(...items);
      if (!hasNextPage) break;
      after = items.at(-1)!;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 14 }, (_, index) => index + 1),
    );
  });

  it('ends exactly at the last row: a full last page says there is no next one', async () => {
    assert.deepEqual(await page(10, 4).then(({ items, hasNextPage }) => ({ items, hasNextPage })), { items: [11, 12, 13, 14], hasNextPage: false });
    assert.deepEqual(await page(9, 4).then(({ items, hasNextPage }) => ({ items, hasNextPage })), { items: [10, 11, 12, 13], hasNextPage: true });
    assert.deepEqual(await page(14, 4).then(({ items, hasNextPage }) => ({ items, hasNextPage })), { items: [], hasNextPage: false });
  });

  it('shows rows added after the cursor on later pages, and never repeats one', async () => {
    const first = await page(0, 5);
    assert.deepEqual(first.items, [1, 2, 3, 4, 5]);
    shards.get(1)!.push(15);
    shards.get(0)!.splice(0, 0, 0.5); // added before the cursor: not shown again
    const rest: number[] = [];
    let after = first.items.at(-1)!;
    for (;;) {
      const { items, hasNextPage } = await page(after, 5);
      rest.push(...items);
      if (!hasNextPage) break;
      after = items.at(-1)!;
    }
    assert.deepEqual(rest, [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });
});
