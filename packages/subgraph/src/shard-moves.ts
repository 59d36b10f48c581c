import { z } from '@saldo/config';
import { defineQueue, schedule, work, type JobQueue, type JobSchedule, type JobWorker } from '@saldo/jobs';
import type { ShardAdministration } from '@saldo/sharding';

/**
 * Every subgraph's shard moves run as durable jobs in its own control database: a restarted or crashed instance's move
 * is picked up again (heartbeat) and resumes from the state recorded in `shard_move`. One job per move runs at a time
 * (stately, keyed by the move); a cancel or the end of the grace period sends the next one.
 */
export const SHARD_MOVE_QUEUE = defineQueue<{ moveId: string }>({
  name: 'sharding.move',
  payload: z.object({ moveId: z.uuid() }),
  policy: 'stately',
  heartbeatSeconds: 10,
  expireInSeconds: 3600,
  retry: { limit: 5, delaySeconds: 1, backoff: true, maxDelaySeconds: 30 },
});

export function scheduleShardMove(jobs: JobQueue) {
  return async (moveId: string, at?: Date): Promise<void> => {
    await jobs.send(SHARD_MOVE_QUEUE, { moveId }, { singletonKey: moveId, ...(at ? { startAfter: at } : {}) });
  };
}

/** Runs a move to its end; waits out the grace period as a later job; gives up (rolling back) after the last retry. */
export function shardMoveWorker(administration: () => ShardAdministration, jobs: JobQueue): JobWorker<{ moveId: string }> {
  return work(SHARD_MOVE_QUEUE, async (job) => {
    const { mover } = administration();
    try {
      const { move, retryAt } = await mover.run(job.data.moveId, job.signal);
      if (retryAt) await scheduleShardMove(jobs)(move.id, retryAt);
      return { state: move.state };
    } catch (error) {
      if (job.retryCount >= job.retryLimit) {
        // Before the switch the source is untouched: fail the move (rolling the target back) rather than leave it half done.
        const failed = await mover.fail(job.data.moveId, (error as Error).message);
        job.logger.error('shard move gave up', { move: failed.id, state: failed.state, error: (error as Error).message });
        if (failed.state === 'FAILED') return { state: failed.state };
      }
      throw error;
    }
  });
}

/**
 * The automatic rebalance: plans moves off shards past the threshold and starts them (each its own move job). Created by
 * the schedule once across instances; `exclusive`, so a slow plan never overlaps the next. A failed plan is not retried:
 * the next occurrence plans from the state then.
 */
export const SHARD_REBALANCE_QUEUE = defineQueue<Record<string, never>>({
  name: 'sharding.rebalance',
  policy: 'exclusive',
  expireInSeconds: 600,
  retry: { limit: 0 },
});

export function shardRebalanceSchedule(cron: string): JobSchedule {
  return schedule(SHARD_REBALANCE_QUEUE, { cron, data: {}, missed: 'skip' });
}

export function shardRebalanceWorker(administration: () => ShardAdministration): JobWorker<Record<string, never>> {
  return work(SHARD_REBALANCE_QUEUE, async (job) => {
    const result = await administration().rebalance({ dryRun: false });
    for (const move of result.moves)
      job.logger.info('rebalance move', {
        tenant: move.tenantId,
        from: move.sourceShard,
        to: move.targetShard,
        move: move.move?.id,
        refusal: move.refusal,
        reason: move.reason,
      });
    for (const note of result.notes) job.logger.warn('rebalance', { note });
    return { planned: result.moves.length, started: result.moves.filter((move) => move.move).length };
  });
}
