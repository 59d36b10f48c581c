import { z } from 'zod';
import { defineQueue, deterministicJobId, schedule, work, type JobQueue, type JobSchedule, type JobWorker } from '@saldo/jobs';
import type { Dispatcher, RetryScheduler } from './delivery/dispatcher.js';
import type { StoreId } from './delivery/store.js';

/**
 * A lane's next attempt (after a failure, with back-off): sent with `startAfter` when the failure is recorded, so the
 * retry survives restarts. Its id is derived from lane and time, so recording the same failure twice sends it once.
 */
export const laneRetryQueue = defineQueue({
  name: 'tenants.notification-lane',
  payload: z.object({ store: z.string().min(1), lane: z.string().min(1) }),
  // Job failures are infrastructure (a database down): the delivery's own back-off is the dispatcher's.
  retry: { limit: 5, delaySeconds: 5, backoff: true, maxDelaySeconds: 600 },
  expireInSeconds: 900,
  notify: true,
});

/** The safety net: every minute, lanes with due deliveries (a crash between commit and send, a lost retry job). */
export const sweepQueue = defineQueue({
  name: 'tenants.notification-sweep',
  payload: z.object({}),
  policy: 'stately',
  retry: { limit: 0 },
  expireInSeconds: 600,
});

export const notificationQueues = [laneRetryQueue, sweepQueue];

export function retryScheduler(jobs: JobQueue): RetryScheduler {
  return {
    async laneDue(store: StoreId, lane: string, at: Date) {
      await jobs.send(laneRetryQueue, { store, lane }, { id: deterministicJobId(laneRetryQueue, store, lane, at.getTime()), startAfter: at });
    },
  };
}

export function notificationWorkers(dispatcher: Dispatcher): JobWorker[] {
  return [
    work(laneRetryQueue, async (job) => dispatcher.drainLanes(job.data.store, [job.data.lane]), { concurrency: 4 }),
    work(sweepQueue, async () => dispatcher.sweep()),
  ];
}

export function notificationSchedules(): JobSchedule[] {
  return [schedule(sweepQueue, { cron: '* * * * *', data: {} })];
}
